"""``monitord check-filtering`` against a real dnsmasq with a block list on loopback, and
the verdicts it draws from a resolver's answers."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitord.casework.dnsquery import Answer, DnsError
from monitord.casework.filtercheck import (
    CategoryResult,
    Probe,
    dns_verdict,
    probes,
    run_check,
    summary_line,
)
from monitord.classify.lists import STARTER_LISTS, sample_names
from monitord.cli.main import main
from monitord.core.clock import FixedClock
from monitord.service.app import open_app
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config
from monitord.store.database import table_of
from monitord.store.tables import AuditRow
from tests.monitord.service.test_real_peers import free_port, running_dnsmasq


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (Answer("NXDOMAIN"), ("blocked", "NXDOMAIN")),
        (Answer("NOERROR", ("0.0.0.0",)), ("blocked", "0.0.0.0")),
        (Answer("NOERROR", ("::",)), ("blocked", "::")),
        (Answer("NOERROR", ("127.0.0.1",)), ("blocked", "127.0.0.1")),
        (Answer("NOERROR", ("146.112.61.106",)), ("blocked", "146.112.61.106")),
        (Answer("NOERROR"), ("blocked", "no address (NODATA)")),
        (Answer("NOERROR", ("192.0.2.7", "192.0.2.8")), ("allowed", "192.0.2.7, 192.0.2.8")),
        (Answer("SERVFAIL"), ("error", "SERVFAIL")),
        (Answer("REFUSED"), ("error", "REFUSED (the resolver would not answer)")),
    ],
)
def test_dns_verdicts(answer: Answer, verdict: tuple[str, str]) -> None:
    assert dns_verdict(answer) == verdict


def test_category_verdicts() -> None:
    assert CategoryResult("a", 3, 3, 0, 0).verdict == "blocked"
    assert CategoryResult("a", 3, 0, 3, 0).verdict == "not blocked"
    assert CategoryResult("a", 3, 1, 2, 0).verdict == "partly blocked"
    assert CategoryResult("a", 3, 0, 0, 3).verdict == "unknown"
    assert CategoryResult("a", 3, 2, 0, 1).verdict == "blocked where it could be tested"


def test_names_come_from_the_loaded_lists_and_the_vendors_tests(tmp_path: Path) -> None:
    cfg = load_config(init_dir(tmp_path / "site")[0])
    app = open_app(cfg, FixedClock(datetime(2026, 11, 20, tzinfo=UTC)))
    sampled = sample_names(app.engine, STARTER_LISTS, 2)
    assert sampled["gambling"] == [
        ("bet365.com", "starter/gambling"),
        ("williamhill.com", "starter/gambling"),
    ]
    assert "allow" not in sampled
    names = {(p.category, p.name) for p in probes(sampled)}
    assert ("malware", "internetbadguys.com") in names


def test_no_control_means_no_verdict() -> None:
    def refuse(server: tuple[str, int], name: str, timeout: float) -> Answer:
        raise DnsError("no answer from 10.0.0.1 port 53 in 5s")

    import monitord.casework.filtercheck as fc

    check = fc.check_dns(("10.0.0.1", 53), Probe("gambling", "bet365.com", "x"), refuse)
    assert (check.verdict, check.detail) == ("error", "no answer from 10.0.0.1 port 53 in 5s")
    report = run_check([], resolver=None, proxy=None, by="x", now=datetime.now(UTC))
    assert not report.usable
    assert summary_line(report.as_json()).startswith("filtering check could not run")


# --- against a real dnsmasq -------------------------------------------------------------------

BLOCKLIST = """\
# The school's block list, as dnsmasq reads it: sinkholed and refused names.
address=/bet365.com/0.0.0.0
address=/williamhill.com/0.0.0.0
address=/paddypower.com/0.0.0.0
address=/pornhub.com/
address=/xvideos.com/
address=/xnxx.com/
address=/internetbadguys.com/
address=/examplemalwaredomain.com/0.0.0.0
address=/tinder.com/0.0.0.0
# Let through (local answers, as an upstream would give):
address=/www.gov.uk/192.0.2.1
address=/bumble.com/192.0.2.2
address=/badoo.com/192.0.2.3
address=/tiktok.com/192.0.2.4
address=/tiktokcdn.com/192.0.2.5
address=/instagram.com/192.0.2.6
"""


@contextlib.contextmanager
def filtering_dnsmasq(workdir: Path) -> Iterator[int]:
    """The real dnsmasq on loopback with the school's block list."""
    if shutil.which("dnsmasq") is None:
        if os.environ.get("MONITORD_TEST_PEERS") == "required":
            pytest.fail("dnsmasq is required here (.ci/run installs it)")
        pytest.skip("dnsmasq is not installed (apt-get install dnsmasq)")
    blocklist = workdir / "blocklist.conf"
    blocklist.write_text(BLOCKLIST)
    with running_dnsmasq(workdir, workdir / "dnsmasq.log", (f"--conf-file={blocklist}",)) as port:
        yield port


def test_check_filtering_against_a_real_dnsmasq(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = init_dir(tmp_path / "site")[0]
    with filtering_dnsmasq(tmp_path) as port:
        code = main(
            [
                "--config",
                str(config),
                "check-filtering",
                "--resolver",
                f"127.0.0.1:{port}",
                "--json",
            ]
        )
    assert code == 0
    shown = json.loads(capsys.readouterr().out)
    verdicts = {c["category"]: c["verdict"] for c in shown["categories"]}
    assert shown["usable"] is True
    assert verdicts["gambling"] == "blocked"  # sinkholed to 0.0.0.0
    assert verdicts["pornography"] == "blocked"  # NXDOMAIN
    assert verdicts["malware"] == "blocked"  # the vendors' test names
    assert verdicts["dating"] == "partly blocked"
    assert verdicts["social_media"] == "not blocked"
    assert verdicts["gaming"] == "unknown"  # dnsmasq has no upstream: REFUSED
    tested = {(t["name"], t["verdict"], t["detail"]) for t in shown["tested"]}
    assert ("bet365.com", "blocked", "0.0.0.0") in tested
    assert ("pornhub.com", "blocked", "NXDOMAIN") in tested
    assert ("bumble.com", "allowed", "192.0.2.2") in tested
    me = pwd.getpwuid(os.getuid()).pw_name
    assert shown["by"] == me

    # The check is in the audit trail, with what was tested and the result.
    cfg = load_config(config)
    app = open_app(cfg, FixedClock(datetime.now(UTC)))
    at = table_of(AuditRow)
    with app.engine.connect() as conn:
        (row,) = conn.execute(select(at).where(at.c.action == "filtering.check")).all()
    assert row.actor == me
    assert row.subject == f"dns:127.0.0.1:{port}"
    detail = json.loads(row.detail)
    assert {c["category"]: c["verdict"] for c in detail["categories"]} == verdicts
    assert summary_line(detail).startswith("filtering check: 3 of ")
    assert "NOT blocked: dating, social_media" in summary_line(detail)
    assert main(["--config", str(config), "evidence", "verify"]) == 0


def test_check_filtering_says_when_the_resolver_does_not_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = init_dir(tmp_path / "site")[0]
    port = free_port(socket.SOCK_DGRAM)  # nothing listens there
    code = main(["--config", str(config), "check-filtering", "--resolver", f"127.0.0.1:{port}"])
    out = capsys.readouterr().out
    assert code == 1
    assert "the control name did not go through" in out


def test_a_check_is_in_the_weeks_digest(tmp_path: Path) -> None:
    from alerting.reports.digest.collect import collect
    from alerting.reports.digest.week import Week
    from monitord.casework.filtercheck import Outcome, Report, record

    now = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
    cfg = load_config(init_dir(tmp_path / "site")[0])
    app = open_app(cfg, FixedClock(now))
    outcomes = [
        Outcome("gambling", "bet365.com", "starter/gambling", "dns", "blocked", "0.0.0.0"),
        Outcome("social_media", "tiktok.com", "starter/social_media", "dns", "allowed", "x"),
    ]
    control = [Outcome("control", "www.gov.uk", "control", "dns", "allowed", "192.0.2.1")]
    record(app.engine, Report(now, "jsmith", "10.20.0.1:53", None, control, outcomes))
    digest = collect(app.engine, cfg, app.policy, Week.of(now, cfg.tz), now + timedelta(days=7))
    (change,) = [c for c in digest.changes if c.action == "filtering.check"]
    assert change.actor == "jsmith"
    assert change.what == "filtering check: 1 of 2 categories blocked; NOT blocked: social_media"


def test_the_proxy_check_against_a_real_squid() -> None:
    """Squid's own 403 (ERR_ACCESS_DENIED) is a block; a site's own answer (here a 404 from
    a server on loopback) was let through."""
    from monitord.casework.filtercheck import check_proxy
    from tests.monitord.service.test_real_peers import local_web_server, running_squid

    if shutil.which("squid") is None:
        if os.environ.get("MONITORD_TEST_PEERS") == "required":
            pytest.fail("squid is required here (.ci/run installs it)")
        pytest.skip("squid is not installed (apt-get install squid)")
    # Squid drops to its own user: its folder must be reachable by it (pytest's are not).
    with (
        tempfile.TemporaryDirectory(prefix="monitord-squid-") as workdir,
        running_squid(Path(workdir)) as port,
        local_web_server() as web,
    ):
        proxy = f"http://127.0.0.1:{port}"
        blocked = check_proxy(proxy, Probe("gambling", "www.bet365.com", "starter/gambling"))
        allowed = check_proxy(proxy, Probe("control", f"127.0.0.1:{web}", "control"))
    assert (blocked.verdict, blocked.detail) == ("blocked", "403 ERR_ACCESS_DENIED 0")
    assert (allowed.verdict, allowed.detail) == ("allowed", "404")  # the site's own answer
    unreachable = check_proxy(f"http://127.0.0.1:{free_port(socket.SOCK_STREAM)}", blocked_probe())
    assert unreachable.verdict == "error"
    assert unreachable.detail.startswith("cannot reach the proxy")


def blocked_probe() -> Probe:
    return Probe("gambling", "www.bet365.com", "starter/gambling")
