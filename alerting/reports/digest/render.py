"""A digest as mail: the plain-text and HTML parts (autoescaped templates, charts as inline
images), its subject and Message-ID, and a preview written to a folder."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from alerting.reports import charts
from alerting.reports.digest.model import CHART_FILES, Digest
from monitord.core.defang import clean
from monitord.core.private import private_dir, write_private
from monitord.settings.config import Config

TEMPLATES = Environment(
    loader=PackageLoader("alerting", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    images: dict[str, bytes]  # chart name to PNG
    digest: Digest

    def html(self, sources: Mapping[str, str]) -> str:
        """The HTML with each chart's ``src`` from ``sources`` (``cid:...`` or a file)."""
        return TEMPLATES.get_template("digest.html.j2").render(d=self.digest, img=sources)


def render(d: Digest) -> Rendered:
    images = {
        "per_day": charts.stacked_bars(
            "Alerts per day, by category", d.day_labels, d.per_day, empty="No alerts this week"
        ),
        "heat": charts.heat_map(
            "Flagged activity (low severity and above) by day and hour", d.heat, d.day_labels
        ),
        "trend": charts.trend(
            f"Twelve weeks to {d.week.label}", d.trend_labels, d.trend, d.trend_low
        ),
    }
    text = TEMPLATES.get_template("digest.txt.j2").render(d=d)
    return Rendered(text, images, d)


def subject(d: Digest) -> str:
    copy = " (named copy for the DSL)" if d.named else ""
    return clean(f"[monitord] Weekly digest {d.week.label}{copy} - {d.school}", 200)


def message_id(cfg: Config, d: Digest) -> str:
    domain = cfg.settings.smtp.sender.rpartition("@")[2] or "monitord.local"
    site = re.sub(r"[^A-Za-z0-9-]", "-", cfg.settings.school.site_id)
    return f"<digest-{d.week.label}.{d.edition}.{site}.monitord@{clean(domain, 200)}>"


def build_message(
    cfg: Config, r: Rendered, recipients: Sequence[str], now: datetime
) -> EmailMessage:
    """multipart/alternative: the plain text, then multipart/related holding the HTML and its
    charts as inline images the HTML names by ``cid:``."""
    d = r.digest
    site = re.sub(r"[^A-Za-z0-9-]", "-", cfg.settings.school.site_id)
    cids = {name: f"{name}.{d.week.label}.{site}@monitord" for name in r.images}
    msg = EmailMessage()
    msg["Subject"] = subject(d)
    msg["From"] = cfg.settings.smtp.sender
    msg["To"] = ", ".join(recipients) if recipients else "undisclosed-recipients:;"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(cfg, d)
    msg["X-Monitord-Digest"] = f"{d.week.label} {d.edition}"
    msg.set_content(r.text)
    msg.add_alternative(r.html({k: f"cid:{v}" for k, v in cids.items()}), subtype="html")
    html_part = msg.get_payload()[1]  # type: ignore[index]
    assert isinstance(html_part, EmailMessage)
    for name, png in r.images.items():
        html_part.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{cids[name]}>",
            filename=CHART_FILES[name],
            disposition="inline",
        )
    return msg


def write_preview(r: Rendered, folder: Path) -> list[Path]:
    """The digest as files: ``digest.html`` (charts beside it), ``digest.txt`` and the PNGs."""
    private_dir(folder)
    written = []
    for name, png in r.images.items():
        written.append(write_private(folder / CHART_FILES[name], png))
    html = write_private(folder / "digest.html", r.html(CHART_FILES).encode())
    text = write_private(folder / "digest.txt", r.text.encode())
    return [html, text, *written]
