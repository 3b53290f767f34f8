"""``monitord outbox flush``: queued mail goes out now."""

from __future__ import annotations

from pathlib import Path

from tests.monitord.cli.school import monitord


def test_outbox_flush_writes_eml_to_pickup_dir(site: Path) -> None:
    r = monitord("outbox", "flush", config=site)
    assert r.returncode == 0, r.stderr
    mails = list((site.parent / "var" / "outbox-mail").glob("*.eml"))
    assert len(mails) == 1
    body = mails[0].read_text()
    assert "Subject: [monitord #1] MEDIUM gambling - J.S." in body
    assert "Jayden Smith" in body  # in the body, never the subject
