from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitord.casework.cases import list_alerts
from monitord.core.clock import FixedClock
from monitord.service.app import App, open_app
from monitord.service.daemon import Daemon
from monitord.service.health import PARSER, find_silences, gap_record, watched_files
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config

# Thursday 19 November 2026, 11:00 in London (GMT): school hours.
MORNING = datetime(2026, 11, 19, 11, 0, tzinfo=UTC)
EVENING = datetime(2026, 11, 19, 20, 0, tzinfo=UTC)


def aged(path: Path, when: datetime) -> Path:
    path.write_text("")
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def test_silence_is_measured_from_the_last_write(tmp_path: Path) -> None:
    quiet = aged(tmp_path / "quiet.log", MORNING - timedelta(hours=3))
    busy = aged(tmp_path / "busy.log", MORNING - timedelta(minutes=5))
    sources = [
        ("quiet", "dnsmasq", quiet, timedelta(hours=2)),
        ("busy", "squid", busy, timedelta(hours=2)),
        ("missing", "squid", tmp_path / "absent.log", timedelta(minutes=30)),
    ]
    found = find_silences(sources, MORNING, MORNING - timedelta(hours=1))
    assert [(s.source, s.since) for s in found] == [
        ("quiet", MORNING - timedelta(hours=3)),
        ("missing", MORNING - timedelta(hours=1)),
    ]


def test_gap_record_is_one_per_silence_and_reads_back(tmp_path: Path) -> None:
    log = aged(tmp_path / "q.log", MORNING - timedelta(hours=3))
    [silence] = find_silences([("q", "dnsmasq", log, timedelta(hours=2))], MORNING, MORNING)
    a = gap_record(silence, MORNING)
    b = gap_record(silence, MORNING + timedelta(minutes=1))
    assert a.origin.event_id() == b.origin.event_id()
    from zoneinfo import ZoneInfo

    from collectors.parsers.base import ParseContext

    parsed = PARSER.parse(a.data.decode(), ParseContext(ZoneInfo("Europe/London"), MORNING))
    [ev] = parsed.events
    assert ev.category == "monitoring_gap"
    assert ev.hostname == "q"
    assert "has written nothing since Thu 19 Nov 08:00 GMT (limit 2 h)" in (ev.text or "")
    assert PARSER.parse("{}", ParseContext(ZoneInfo("UTC"), MORNING)).rejected


@pytest.fixture
def gap_app(tmp_path: Path) -> tuple[App, Daemon, FixedClock, Path]:
    log = aged(tmp_path / "resolver.log", MORNING - timedelta(hours=3))
    config = init_dir(tmp_path / "site")[0]
    with config.open("a") as fh:
        fh.write(
            f'\n[[sources]]\nname = "resolver"\nformat = "dnsmasq"\npath = "{log}"\n'
            'max_silence = "2h"\n'
        )
    clock = FixedClock(MORNING)
    app = open_app(load_config(config), clock)
    return app, Daemon(app, clock), clock, log


async def test_daemon_raises_one_gap_for_the_technician(
    gap_app: tuple[App, Daemon, FixedClock, Path],
) -> None:
    app, daemon, clock, _ = gap_app
    assert await daemon.check_health(MORNING) == 1
    clock.advance(timedelta(minutes=1))
    assert await daemon.check_health(MORNING + timedelta(minutes=1)) == 0  # same silence
    [alert] = list_alerts(app.engine)
    assert alert["category"] == "monitoring_gap"
    assert alert["severity"] == "medium"
    assert alert["recipients"] == ["it@school.example"]
    assert alert["person"] is None
    assert alert["indicator"].startswith("source resolver (dnsmasq) has written nothing since")
    assert alert["rule"] == "severity.monitoring_gap.pupil = medium"


async def test_no_gap_out_of_school_hours_and_a_new_one_after_writing_resumes(
    gap_app: tuple[App, Daemon, FixedClock, Path],
) -> None:
    app, daemon, _, log = gap_app
    assert await daemon.check_health(EVENING) == 0
    assert list_alerts(app.engine) == []
    assert await daemon.check_health(MORNING) == 1
    aged(log, MORNING + timedelta(minutes=30))  # the resolver writes again, then stops
    later = MORNING + timedelta(hours=3)
    assert await daemon.check_health(later) == 1  # a new silence, hours later: a new alert
    assert await daemon.check_health(later + timedelta(minutes=5)) == 0
    alerts = list_alerts(app.engine)
    assert [a["count"] for a in alerts] == [1, 1]


async def test_a_silent_listener_raises_a_gap(tmp_path: Path) -> None:
    """A syslog listener is silent from its last message (or monitord's start)."""
    config = init_dir(tmp_path / "site")[0]
    with config.open("a") as fh:
        fh.write(
            '\n[[sources]]\nname = "firewall"\nformat = "syslog"\n'
            'listen = "udp://127.0.0.1:5514"\nmax_silence = "1h"\n'
        )
    clock = FixedClock(MORNING - timedelta(hours=2))
    app = open_app(load_config(config), clock)
    daemon = Daemon(app, clock)
    listener = daemon.collectors[0][0]
    assert listener.name == "firewall"
    assert await daemon.check_health(MORNING - timedelta(minutes=61)) == 0  # within the hour
    listener.last_message = MORNING - timedelta(minutes=30)  # type: ignore[attr-defined]
    assert await daemon.check_health(MORNING) == 0
    assert await daemon.check_health(MORNING + timedelta(minutes=31)) == 1
    [alert] = list_alerts(app.engine)
    assert alert["indicator"].startswith("source firewall (syslog) has written nothing since")


def test_the_watched_files_are_the_sources_with_a_path(tmp_path: Path) -> None:
    path = init_dir(tmp_path / "site")[0]
    aged(path.parent / "dns.log", MORNING)
    with path.open("a") as f:
        f.write(
            '\n[[sources]]\nname = "resolver"\nformat = "dnsmasq"\npath = "dns.log"\n'
            'max_silence = "30m"\n'
            '\n[[sources]]\nname = "firewall"\nformat = "syslog"\n'
            'listen = "udp://127.0.0.1:5514"\n'
        )
    cfg = load_config(path)
    assert watched_files(cfg) == [
        ("resolver", "dnsmasq", cfg.base_dir / "dns.log", timedelta(minutes=30))
    ]
