"""``monitord status``: whether the daemon runs and when events were last stored;
``monitord sources``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from collectors.follow import FileCollector
from collectors.parsers.base import load_parser
from monitord.cli.main import main
from monitord.core.clock import SystemClock
from monitord.service.app import open_app
from monitord.service.supervise import Supervisor, health_path, write_health
from monitord.settings.config import Config


@pytest.mark.stores
def test_status_says_if_the_daemon_runs_and_when_events_were_stored(
    config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert config.path is not None
    cfg = ["--config", str(config.path)]
    assert main([*cfg, "status"]) == 0
    shown = capsys.readouterr().out
    assert "daemon: not running (no daemon has run here yet)" in shown
    assert "events stored: none yet" in shown
    # The daemon's way: a followed file, its events stored with the source's checkpoint.
    log = config.path.parent / "pihole.log"
    log.write_text("Nov 19 10:01:02 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7\n")
    app = open_app(config, SystemClock())
    collector = FileCollector("pihole", log, app.engine, SystemClock(), use_inotify=False)
    session = load_parser("dnsmasq").session()
    for batch in collector.poll():
        app.processor.process("dnsmasq", session, batch.records, batch.checkpoint)
    collector.close()
    app.engine.dispose()
    # A daemon at work: its health file, fresh, naming a live process (this one).
    supervisor = Supervisor(SystemClock())
    write_health(health_path(config), supervisor.report())
    assert main([*cfg, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["daemon"]["running"] is True
    assert status["daemon"]["pid"] == os.getpid()
    stored = status["last_stored"]
    assert stored["source"] == "pihole"
    assert stored["newest_event"].endswith("T10:01:02Z")
    assert main([*cfg, "status"]) == 0
    shown = capsys.readouterr().out
    assert "daemon: running since " in shown
    assert f"events last stored {stored['at']} from pihole; the newest happened at " in shown


def test_sources_lists_each_configured_source(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    assert config.path is not None
    with config.path.open("a", encoding="utf-8") as fh:
        fh.write('\n[[sources]]\nname = "pihole"\nformat = "dnsmasq"\npath = "pihole.log"\n')
    (config.path.parent / "pihole.log").write_text("")
    assert main(["--config", str(config.path), "sources", "--json"]) == 0
    [source] = json.loads(capsys.readouterr().out)
    assert (source["name"], source["format"], source["events"]) == ("pihole", "dnsmasq", 0)
