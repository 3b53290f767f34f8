"""The demo's synthetic school day: the same seed gives the same day, every file is in the
form monitord reads (the registered parsers reject none of it), and the planted incidents
are in the logs."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.base import ParseContext, load_parser
from monitord.service.demodata import school_day_before, write_day

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # a Monday morning


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_the_day_is_the_last_weekday_before_today(now: datetime) -> None:
    day = school_day_before(now.replace(tzinfo=UTC), LONDON)
    today = now.replace(tzinfo=UTC).astimezone(LONDON).date()
    assert day.weekday() < 5
    assert 1 <= (today - day).days <= 3


def test_the_same_seed_gives_the_same_day(tmp_path: Path) -> None:
    one = write_day(tmp_path / "one", NOW, LONDON)
    two = write_day(tmp_path / "two", NOW, LONDON)
    other = write_day(tmp_path / "other", NOW, LONDON, seed=8)
    assert one.day == date(2026, 11, 20)  # the Friday before
    for name, path in one.files.items():
        assert path.read_bytes() == two.files[name].read_bytes(), name
    assert one.files["dns"].read_bytes() != other.files["dns"].read_bytes()


def test_the_roster_and_devices_have_the_designs_columns(tmp_path: Path) -> None:
    day = write_day(tmp_path, NOW, LONDON)
    with day.files["roster"].open(newline="", encoding="utf-8") as fh:
        roster = list(csv.DictReader(fh))
    with day.files["devices"].open(newline="", encoding="utf-8") as fh:
        devices = list(csv.DictReader(fh))
    assert list(roster[0]) == ["username", "display_name", "role", "year_group", "class", "email"]
    assert list(devices[0]) == ["device_id", "mac", "hostname", "ownership", "assigned_to"]
    assert len({r["username"] for r in roster}) == len(roster) == len(day.members)
    assert len(devices) == len(day.members) + len(day.shared)
    assert {d["assigned_to"] for d in devices} - {""} == {r["username"] for r in roster}


@pytest.mark.parametrize(
    ("name", "fmt"), [("leases", "dnsmasq-leases"), ("dns", "dnsmasq"), ("proxy", "squid")]
)
def test_every_log_line_is_read(tmp_path: Path, name: str, fmt: str) -> None:
    day = write_day(tmp_path, NOW, LONDON)
    path = day.files[name]
    ctx = ParseContext(LONDON, datetime.fromtimestamp(path.stat().st_mtime, UTC))
    session = load_parser(fmt).session()
    events = 0
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parsed = session.parse(line, ctx)
        assert parsed.rejected is None, f"{name}:{n}: {parsed.rejected}"
        events += len(parsed.events)
    assert events > 0


def test_the_incidents_are_in_the_logs_from_their_devices(tmp_path: Path) -> None:
    day = write_day(tmp_path, NOW, LONDON)
    dns = day.files["dns"].read_text(encoding="utf-8")
    proxy = day.files["proxy"].read_text(encoding="utf-8")
    by_who = {m.username: m for m in day.members} | {s.device: s for s in day.shared}
    assert len(day.incidents) == 7
    for incident in day.incidents:
        member = by_who[incident.who]
        for host in incident.hosts:
            assert f"query[A] {host} from {member.ip}" in dns, incident.note
            if incident.via_proxy:
                assert f" {member.ip} " in proxy
                assert f"http://{host}/" in proxy
    assert "TCP_DENIED/403" in proxy  # the blocked proxy incident
