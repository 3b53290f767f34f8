from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.base import load_parser
from collectors.follow import FileCollector
from monitord.app import open_app
from monitord.cli import main
from monitord.clock import FixedClock
from monitord.config import load_config
from monitord.initdir import init_dir
from monitord.sources import source_states

LINE = "Nov 19 10:00:{:02d} dnsmasq[811]: query[A] n{}.example from 10.0.0.1\n"


def test_sources_show_position_lag_and_rejects(
    tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "resolver.log"
    log.write_text("".join(LINE.format(i, i) for i in range(3)) + "garbage line\n")
    config = init_dir(tmp_path / "site")[0]
    with config.open("a") as fh:
        fh.write(f'\n[[sources]]\nname = "resolver"\nformat = "dnsmasq"\npath = "{log}"\n')
        fh.write(f'\n[[sources]]\nname = "proxy"\nformat = "squid"\npath = "{tmp_path}"\n')
    cfg = load_config(config)
    app = open_app(cfg, clock)
    collector = FileCollector("resolver", log, app.engine, clock, use_inotify=False)
    session = load_parser("dnsmasq").session()
    for batch in collector.poll():
        app.processor.process("dnsmasq", session, batch.records, batch.checkpoint)
    collector.close()
    with log.open("a") as fh:
        fh.write(LINE.format(9, 9))  # written, not yet read
    resolver, proxy = source_states(cfg, app.engine)
    assert (resolver.lines, resolver.events, resolver.rejected) == (4, 3, 1)
    assert resolver.position == log.stat().st_size - len(LINE.format(9, 9))
    assert resolver.lag_bytes == len(LINE.format(9, 9))
    assert resolver.last_event_at == "2026-11-19T10:00:02Z"
    assert (proxy.position, proxy.lag_bytes, proxy.lines) == (None, None, 0)
    assert main(["--config", str(config), "sources", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown[0]["name"] == "resolver"
    assert shown[0]["rejected"] == 1
