"""The governors' annual online-safety report: counts, categories, outcomes, trends and the
reviews done, for any span of dates, with no one named in it (no initials, user names,
devices, addresses or what anyone typed: only numbers).

It is written as an HTML page with its charts beside it and as a PDF. The PDF is drawn by
matplotlib's own PDF backend (``PdfPages``): A4 pages of text, tables and the same charts,
with nothing to install beyond the Python packages and nothing fetched or started at run
time (no browser on the school's server).
"""

from __future__ import annotations

import io
import statistics
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.image import imread
from sqlalchemy import Engine, func, select

from alerting.reports import charts
from alerting.reports.digest.model import ALERT_SEVERITIES, OUTCOME_TEXT
from alerting.reports.digest.render import TEMPLATES
from monitord.core.categories import CATEGORIES
from monitord.core.defang import clean
from monitord.core.private import private_dir, write_private
from monitord.identity.roster import YEAR_GROUPS
from monitord.settings.config import Config
from monitord.store.database import alert_subjects, mine, table_of, utc
from monitord.store.lookupcounts import judged_lookups
from monitord.store.tables import AlertRow, AuditRow, DigestRow, EventRow

STAFF_ROLES = frozenset({"staff", "headteacher", "governor", "volunteer", "supply"})
CHART_FILES = {
    "months": "alerts-per-month.png",
    "categories": "alerts-by-category.png",
    "outcomes": "outcomes.png",
}
CHART_TITLES = {
    "months": "Alerts per month, by severity",
    "categories": "Alerts by category",
    "outcomes": "Outcomes of the alerts closed",
}
A4 = (8.27, 11.69)


class ReportError(Exception):
    """A report that cannot be made as asked; the message says why."""


def parse_day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(f"{flag} {text!r}: expected a date such as 2025-09-01") from None


@dataclass(frozen=True, slots=True)
class Report:
    school: str
    first: date
    last: date
    generated: datetime
    tz: ZoneInfo
    total: int
    by_severity: list[tuple[str, int]]
    by_category: list[tuple[str, int]]
    by_group: list[tuple[str, int]]  # pupils, staff, not attributed
    by_year: list[tuple[str, int]]
    outcomes: list[tuple[str, int]]
    open_now: int
    closed: int
    median_days_to_close: float | None
    reviews: int
    needing_review: int  # critical or referred alerts, which need a second reviewer
    reviewed: int  # of those, how many have one
    month_labels: list[str]
    months: dict[str, list[int]]
    low_total: int
    low_by_category: list[tuple[str, int]]
    gaps: int
    list_changes: int
    digests: int

    @property
    def period(self) -> str:
        return f"{self.first:%-d %B %Y} to {self.last:%-d %B %Y}"


def _months(first: date, last: date) -> list[date]:
    out = []
    cur = first.replace(day=1)
    while cur <= last:
        out.append(cur)
        cur = (cur + timedelta(days=32)).replace(day=1)
    return out


def collect_report(engine: Engine, cfg: Config, first: date, last: date, now: datetime) -> Report:
    if last < first:
        raise ReportError(f"--to {last} is before --from {first}")
    tz = cfg.tz
    start = datetime.combine(first, time(0), tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(UTC)
    at, audt, et, dt = (
        table_of(AlertRow),
        table_of(AuditRow),
        table_of(EventRow),
        table_of(DigestRow),
    )
    with engine.connect() as conn:
        alerts = conn.execute(
            select(
                at.c.id,
                at.c.created_at,
                at.c.severity,
                at.c.category,
                at.c.role,
                at.c.year_group,
                at.c.status,
                at.c.outcome,
                at.c.reviewer,
            ).where(mine(conn, at.c.site_id), at.c.created_at >= start, at.c.created_at < end)
        ).all()
        ids = {int(a.id) for a in alerts}
        closes = conn.execute(
            select(audt.c.subject, audt.c.ts)
            .where(audt.c.action == "alert.close", audt.c.subject.like("alert:%"))
            .order_by(audt.c.id)
        ).all()
        reviews = int(
            conn.execute(
                select(func.count())
                .select_from(audt)
                .where(audt.c.action == "alert.review", audt.c.ts >= start, audt.c.ts < end)
                .where(audt.c.subject.in_(alert_subjects(conn)))
            ).scalar_one()
        )
        low_counts: Counter[str | None] = Counter()
        for category, n in [
            *conn.execute(
                select(et.c.category, func.count())
                .where(et.c.ts >= start, et.c.ts < end, et.c.severity == "low")
                .where(mine(conn, et.c.site_id))
                .group_by(et.c.category)
            ),
            *judged_lookups(conn, start, end, ("category",), severities=("low",)),
        ]:
            low_counts[category] += int(n)
        low = list(low_counts.items())
        gaps = int(
            conn.execute(
                select(func.count())
                .select_from(et)
                .where(et.c.ts >= start, et.c.ts < end, et.c.category == "monitoring_gap")
                .where(mine(conn, et.c.site_id))
            ).scalar_one()
        )
        list_changes = int(
            conn.execute(
                select(func.count())
                .select_from(audt)
                .where(
                    audt.c.ts >= start,
                    audt.c.ts < end,
                    audt.c.action.like("list.%") | audt.c.action.like("policy.%"),
                    # The lists are the store's; a policy is this school's.
                    mine(conn, audt.c.site_id) | audt.c.action.like("list.%"),
                )
            ).scalar_one()
        )
        digests = int(
            conn.execute(
                select(func.count())
                .select_from(dt)
                .where(dt.c.queued_at >= start, dt.c.queued_at < end, dt.c.edition == "group")
                .where(mine(conn, dt.c.site_id))
            ).scalar_one()
        )
    created = {int(a.id): utc(a.created_at) for a in alerts}
    closed_at: dict[int, datetime] = {}
    for c in closes:
        alert_id = int(c.subject.split(":", 1)[1])
        if alert_id in ids:
            closed_at[alert_id] = utc(c.ts)  # the last close, should there be more
    days = [(closed_at[i] - created[i]).total_seconds() / 86400 for i in closed_at]
    severity = Counter(str(a.severity) for a in alerts)
    category = Counter(str(a.category) for a in alerts)
    group = Counter(
        "pupils"
        if a.role in ("pupil", "guest")
        else "staff"
        if a.role in STAFF_ROLES
        else "not attributed"
        for a in alerts
    )
    year = Counter(str(a.year_group) for a in alerts if a.year_group)
    outcome = Counter(str(a.outcome) for a in alerts if a.status == "closed" and a.outcome)
    needing = [a for a in alerts if a.severity == "critical" or a.outcome in _REFERRED]
    months = _months(first, last)
    index = {(m.year, m.month): i for i, m in enumerate(months)}
    per_month = {s: [0] * len(months) for s in ALERT_SEVERITIES}
    for a in alerts:
        local = utc(a.created_at).astimezone(tz)
        i = index.get((local.year, local.month))
        if i is not None and a.severity in per_month:
            per_month[a.severity][i] += 1
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return Report(
        school=clean(cfg.settings.school.name, 200),
        first=first,
        last=last,
        generated=now,
        tz=tz,
        total=len(alerts),
        by_severity=[(s, severity[s]) for s in ALERT_SEVERITIES if severity[s]],
        by_category=sorted(category.items(), key=lambda kv: (-kv[1], order.get(kv[0], 99))),
        by_group=[(g, group[g]) for g in ("pupils", "staff", "not attributed") if group[g]],
        by_year=[
            ({"N": "Nursery", "R": "Reception"}.get(y, f"Year {y}"), year[y])
            for y in YEAR_GROUPS
            if year[y]
        ],
        outcomes=[(OUTCOME_TEXT[o], outcome[o]) for o in OUTCOME_TEXT if outcome[o]],
        open_now=sum(1 for a in alerts if a.status != "closed"),
        closed=sum(1 for a in alerts if a.status == "closed"),
        median_days_to_close=round(statistics.median(days), 1) if days else None,
        reviews=reviews,
        needing_review=len(needing),
        reviewed=sum(1 for a in needing if a.reviewer),
        month_labels=[f"{m:%b %y}" for m in months],
        months=per_month,
        low_total=sum(int(n) for _, n in low),
        low_by_category=sorted(
            ((str(c or "uncategorised"), int(n)) for c, n in low), key=lambda kv: (-kv[1], kv[0])
        ),
        gaps=gaps,
        list_changes=list_changes,
        digests=digests,
    )


_REFERRED = frozenset({"referred_local_authority", "referred_police"})


def report_charts(
    r: Report, dpi: int = charts.DPI, fmt: charts.Format = "png", width: float = charts.WIDTH_IN
) -> dict[str, bytes]:
    return {
        "months": charts.stacked_bars(
            CHART_TITLES["months"],
            r.month_labels,
            r.months,
            colours=charts.SEVERITY_COLOURS,
            empty="No alerts in this period",
            dpi=dpi,
            fmt=fmt,
            width=width,
        ),
        "categories": charts.horizontal_bars(
            CHART_TITLES["categories"],
            dict(r.by_category),
            empty="No alerts",
            dpi=dpi,
            fmt=fmt,
            width=width,
        ),
        "outcomes": charts.horizontal_bars(
            CHART_TITLES["outcomes"],
            dict(r.outcomes),
            colour="#2e7d5b",
            empty="No alert closed",
            dpi=dpi,
            fmt=fmt,
            width=width,
        ),
    }


def key_figures(r: Report) -> list[tuple[str, str]]:
    median = "-" if r.median_days_to_close is None else f"{r.median_days_to_close:g} days"
    return [
        ("Alerts raised", f"{r.total:,}"),
        ("of which critical or high", f"{sum(n for s, n in r.by_severity if s != 'medium'):,}"),
        ("Closed / still open", f"{r.closed:,} / {r.open_now:,}"),
        ("Median time to close", median),
        (
            "Second reviews done",
            f"{r.reviews:,} ({r.reviewed} of {r.needing_review} critical or referred alerts "
            "reviewed)",
        ),
        ("Low-severity events recorded (no alert)", f"{r.low_total:,}"),
        ("Monitoring gaps", f"{r.gaps:,}"),
        ("List and policy changes", f"{r.list_changes:,}"),
        ("Weekly digests sent to the Online Safety Group", f"{r.digests:,}"),
    ]


def write_report(r: Report, folder: Path) -> list[Path]:
    """``report.html`` with its charts beside it, and ``report.pdf``."""
    private_dir(folder)
    images = report_charts(r)
    written = []
    for name, png in images.items():
        written.append(write_private(folder / CHART_FILES[name], png))
    page = TEMPLATES.get_template("report.html.j2").render(
        r=r, img=CHART_FILES, figures=key_figures(r)
    )
    html = write_private(folder / "report.html", page.encode())
    pdf = write_private(folder / "report.pdf", report_pdf(r))
    return [html, pdf, *written]


def _table(fig: Figure, top: float, title: str, rows: Sequence[tuple[str, Any]]) -> float:
    """Rows of (label, value) from ``top`` (figure fraction) down; returns where it ended."""
    fig.text(0.08, top, title, fontsize=12, weight="bold")
    y = top - 0.028
    for label, value in rows:
        fig.text(0.10, y, str(label).replace("_", " "), fontsize=10)
        fig.text(0.90, y, str(value), fontsize=10, ha="right")
        y -= 0.021
    return y - 0.015


def _image(fig: Figure, png: bytes, top: float, height: float) -> None:
    ax = fig.add_axes((0.06, top - height, 0.88, height))
    ax.imshow(imread(io.BytesIO(png), format="png"))
    ax.set_axis_off()


def report_pdf(r: Report) -> bytes:
    """The report as A4 pages: key figures and tables, then the charts."""
    images = report_charts(r, dpi=200)
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": f"Online safety report: {r.period}"}) as pdf:
        fig = Figure(figsize=A4)
        fig.text(0.08, 0.94, r.school, fontsize=11, color="#555555")
        fig.text(0.08, 0.91, "Online safety: report to governors", fontsize=18, weight="bold")
        fig.text(0.08, 0.885, r.period, fontsize=11)
        note = (
            "Counts only: no pupil or member of staff is named or identifiable in this "
            "report. Alerts are what monitord raised for the Designated Safeguarding Lead "
            "under the school's acceptable use policy; low-severity activity is recorded "
            "without an alert and reviewed in the weekly digest."
        )
        fig.text(
            0.08, 0.865, "\n".join(textwrap.wrap(note, 100)), fontsize=8.5, va="top", color="#444"
        )
        y = _table(fig, 0.80, "Key figures", key_figures(r))
        y = _table(fig, y, "By severity", r.by_severity or [("none", 0)])
        y = _table(fig, y, "Who the alerts were about", r.by_group or [("none", 0)])
        y = _table(fig, y, "Alerts about pupils, by year group", r.by_year or [("none", 0)])
        fig.text(
            0.08,
            0.03,
            f"Made by monitord on {r.generated.astimezone(r.tz):%-d %B %Y} from its own records.",
            fontsize=8,
            color="#555555",
        )
        pdf.savefig(fig)
        fig = Figure(figsize=A4)
        _image(fig, images["months"], 0.96, 0.30)
        _image(fig, images["categories"], 0.64, 0.34)
        _table(
            fig,
            0.26,
            "Low-severity activity by category (recorded, no alert)",
            r.low_by_category[:8] or [("none", 0)],
        )
        pdf.savefig(fig)
        fig = Figure(figsize=A4)
        _image(fig, images["outcomes"], 0.96, 0.22)
        y = _table(fig, 0.70, "Outcomes of the alerts closed", r.outcomes or [("none", 0)])
        _table(fig, y, "Alerts by category", r.by_category or [("none", 0)])
        pdf.savefig(fig)
    return buf.getvalue()
