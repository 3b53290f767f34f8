from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.follow import FileCollector
from collectors.parsers.base import load_parser
from monitord.cli.main import main
from monitord.core.clock import FixedClock
from monitord.service.app import open_app
from monitord.service.initdir import init_dir
from monitord.service.sources import passed_over_text, source_states
from monitord.settings.config import load_config

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


def test_a_listener_shows_what_it_passed_over(
    tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from collectors.parsers.syslog import PARSER
    from monitord.core.model import Checkpoint, Origin, RawRecord

    config = init_dir(tmp_path / "site")[0]
    with config.open("a") as fh:
        fh.write('\n[[sources]]\nname = "fw"\nformat = "syslog"\nlisten = "udp://127.0.0.1:5514"\n')
    cfg = load_config(config)
    app = open_app(cfg, clock)
    lines = [
        b"<38>Nov 20 10:00:00 fw sshd[1]: Invalid user x",
        b"<38>Nov 20 10:00:01 fw sshd[2]: Invalid user y",
        b"<134>Nov 20 10:00:02 fw filterlog[3]: 1,,,2",
        b"<30>Nov 20 10:00:03 fw dnsmasq[4]: query[A] a.example from 10.0.0.1",
    ]
    records = [
        RawRecord(Origin("fw", "udp:127.0.0.1", i, "udp://127.0.0.1:5514"), line, clock.now())
        for i, line in enumerate(lines)
    ]
    app.processor.process(
        "syslog",
        PARSER.session(),
        records,
        Checkpoint("fw", "udp://127.0.0.1:5514", "listener", 0, 4),
        counts=[("refused", "10.9.9.9", 2), ("dropped", "kernel", 5)],
    )
    (fw,) = source_states(cfg, app.engine)
    assert fw.path == "udp://127.0.0.1:5514"
    assert (fw.lines, fw.events, fw.rejected) == (4, 1, 0)
    assert fw.passed_over == {
        "program": {"sshd": 2, "filterlog": 1},
        "refused": {"10.9.9.9": 2},
        "dropped": {"kernel": 5},
    }
    assert passed_over_text(fw) == "sshd 2, filterlog 1; refused 10.9.9.9 2; dropped kernel 5"
    assert main(["--config", str(config), "sources", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["passed_over"]["program"]["sshd"] == 2
    assert main(["--config", str(config), "status"]) == 0
    assert "UDP loss: 5 dropped by the kernel" in capsys.readouterr().out
