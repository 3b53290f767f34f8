"""``monitord search`` and ``monitord timeline`` on a store filled by the real pipeline: two
school days of resolver, proxy and agent logs from three people's laptops, with planted
look-alike names, encoded search terms, non-ASCII text and hostile text; every call audited."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from monitord.casework import lookupsearch, plan
from monitord.casework.output import COLUMNS, csv_text, printable
from monitord.casework.plan import flush_text_queue
from monitord.casework.query import Query, SearchError, parse_domain
from monitord.casework.search import run_query, search
from monitord.casework.timeline import timeline
from monitord.cli.main import main
from monitord.core.clock import FixedClock
from monitord.identity.roster import import_devices, import_people
from monitord.service.app import ingest_files, open_app
from monitord.service.initdir import init_dir
from monitord.settings.config import Config, ConfigError, load_config
from monitord.store.database import table_of
from monitord.store.tables import AuditRow
from tests.conftest import STORES
from tests.pgserver import PostgresServer
from tests.stores import use_store

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
D18 = datetime(2026, 11, 18, tzinfo=UTC)
D19 = datetime(2026, 11, 19, tzinfo=UTC)
FILLER = 1500  # staff intranet pages: more than the text index's queue holds


@dataclass
class Site:
    cfg: Config
    config_path: Path
    engine: Engine


def _epoch(day: datetime, hh: int, mm: int, ss: int = 0) -> float:
    return day.replace(hour=hh, minute=mm, second=ss).timestamp()


def _agent(ts: str, kind: str, data: dict[str, Any]) -> str:
    return json.dumps(
        {
            "schema": "monitord.agent/1",
            "agent_id": "agent-y6-lt-01",
            "hostname": "Y6-LT-01",
            "ts": ts,
            "user": "SCHOOL\\alice.b",
            "ip": "10.20.6.1",
            "mac": "AA-00-00-00-00-01",
            "kind": kind,
            "data": data,
        }
    )


@pytest.fixture(scope="module", params=STORES)
def site(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("search")
    config_path = init_dir(root / "site")[0]
    server: PostgresServer | None = None
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        database = server.new_database()
        use_store(config_path, server.url(database))
    with config_path.open("a", encoding="utf-8") as fh:
        fh.write('\n[identity]\nlease_time = "72h"\n')
    cfg = load_config(config_path)
    clock = FixedClock(NOW)
    app = open_app(cfg, clock)
    (root / "roster.csv").write_text(
        "username,display_name,role,year_group,class,email\n"
        "alice.b,Alice Brown,pupil,6,6B,\n"
        "ben.c,Ben Clark,pupil,5,5A,\n"
        "helen.p,Helen Price,staff,,,\n",
        encoding="utf-8",
    )
    (root / "devices.csv").write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        "Y6-LT-01,aa:00:00:00:00:01,y6-lt-01,school_single,alice.b\n"
        "Y5-LT-02,aa:00:00:00:00:02,y5-lt-02,school_single,ben.c\n"
        "STAFF-LT-01,aa:00:00:00:00:31,staff-lt-01,school_single,helen.p\n",
        encoding="utf-8",
    )
    import_people(app.engine, root / "roster.csv", "test", NOW)
    import_devices(app.engine, root / "devices.csv", "test", NOW)
    end = int(NOW.timestamp())
    (root / "leases").write_text(
        f"{end} aa:00:00:00:00:01 10.20.6.1 y6-lt-01 *\n"
        f"{end} aa:00:00:00:00:02 10.20.5.2 y5-lt-02 *\n"
        f"{end} aa:00:00:00:00:31 10.20.9.31 staff-lt-01 *\n",
        encoding="utf-8",
    )
    app = open_app(cfg, clock)
    ingest_files(app, [root / "leases"], "dnsmasq-leases", "leases")

    dns = root / "pihole.log"
    dns.write_text(
        "Nov 18 09:00:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.1\n"
        "Nov 18 09:05:00 dnsmasq[811]: query[A] www.tiktok.com from 10.20.6.1\n"
        "Nov 18 09:06:00 dnsmasq[811]: query[A] nottiktok.com from 10.20.6.1\n"
        "Nov 19 10:00:00 dnsmasq[811]: query[A] classroom.google.com from 10.20.5.2\n"
        "Nov 19 10:01:00 dnsmasq[811]: query[A] v16.tiktok.com from 10.20.5.2\n"
        "Nov 19 10:02:00 dnsmasq[811]: query[A] tiktok.com from 10.20.5.2\n"
        "Nov 19 10:03:00 dnsmasq[811]: query[A] tiktok.com.evil.example from 10.20.5.2\n"
        "Nov 19 10:04:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.5.2\n",
        encoding="utf-8",
    )
    os.utime(dns, (NOW.timestamp(), NOW.timestamp()))
    ingest_files(app, [dns], "dnsmasq", "pihole")

    squid = root / "access.log"
    lines = [
        (_epoch(D18, 9, 10), "10.20.6.1", "GET", "http://www.bbc.co.uk/news/HOW-TO-Help", "-"),
        (
            _epoch(D19, 10, 5),
            "10.20.5.2",
            "GET",
            "http://www.google.com/search?q=how+to+hide+cuts",
            "-",
        ),
        (_epoch(D19, 10, 6), "10.20.5.2", "CONNECT", "www.tiktok.com:443", "-"),
    ]
    lines += [
        (
            _epoch(D18, 12, 0) + i,
            "10.20.9.31",
            "GET",
            f"http://intranet.school.example/page/{i}",
            "-",
        )
        for i in range(FILLER)
    ]
    # Every other intranet page denied by the proxy: those are ``events`` rows (the text
    # index's), the others ``lookups`` (a URL's text found through ``lookup_urls``).
    squid.write_text(
        "".join(
            f"{ts:.3f}    120 {ip} {'TCP_DENIED/403' if n % 2 and n > 2 else 'TCP_MISS/200'} "
            f"5120 {method} {url} {user} HIER_DIRECT/203.0.113.7 text/html\n"
            for n, (ts, ip, method, url, user) in enumerate(lines)
        ),
        encoding="utf-8",
    )
    ingest_files(app, [squid], "squid", "proxy")

    agent = root / "agent.jsonl"
    agent.write_text(
        "\n".join(
            [
                _agent("2026-11-19T11:00:00Z", "typed_text", {"text": "I want to DISAPPEAR"}),
                _agent("2026-11-19T11:00:05Z", "typed_text", {"text": '=HYPERLINK("http://x")'}),
                _agent(
                    "2026-11-19T11:01:00Z",
                    "search",
                    {"engine": "google", "query": "café près de moi"},
                ),
                _agent("2026-11-19T11:02:00Z", "typed_text", {"text": "\x1b[31mred\x1b[0m"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    ingest_files(app, [agent], "agent", "agents")
    yield Site(cfg, config_path, app.engine)
    app.engine.dispose()
    if server is not None:
        server.drop_database(database)


def ask(site: Site, **filters: Any) -> list[Any]:
    with site.engine.connect() as conn:
        return run_query(conn, Query(**filters)).events


def indicators(events: list[Any]) -> list[str]:
    return [ev.indicator for ev in events]


# --- domains -----------------------------------------------------------------------------


def test_domain_suffix_is_on_label_boundaries(site: Site) -> None:
    found = ask(site, domain=parse_domain("*.tiktok.com"))
    assert sorted({ev.domain for ev in found}) == ["tiktok.com", "v16.tiktok.com", "www.tiktok.com"]
    # The proxy's CONNECT to www.tiktok.com counts too: it names the domain.
    assert {ev.source for ev in found} == {"pihole", "proxy"}
    assert len(found) == 4


def test_exact_domain_is_only_that_name(site: Site) -> None:
    assert {ev.domain for ev in ask(site, domain=parse_domain("tiktok.com"))} == {"tiktok.com"}
    assert ask(site, domain=parse_domain("tiktok")) == []


def test_suffix_search_uses_the_names_table_and_the_domain_index(site: Site) -> None:
    with site.engine.connect() as conn:
        # Names of events in domain_names, of lookups that matched nothing in lookup_names.
        both = "SELECT domain FROM domain_names UNION SELECT domain FROM lookup_names"
        names = {r[0] for r in conn.execute(text(both))}
        assert {"www.tiktok.com", "nottiktok.com", "tiktok.com.evil.example"} <= names
        result = run_query(conn, Query(domain=parse_domain("*.tiktok.com")))
    assert result.plan == "domain"


@pytest.mark.parametrize("limit", [1, 2, 40])
def test_names_seen_often_are_read_by_time_with_the_same_answer(
    site: Site, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With 5 events of a suffix's names in the span counted as common, PostgreSQL reads
    # the newest events (and lookups) of all, each checked against the names, instead of
    # each name's by the domain index; the answer is the same as by the names.
    def answers() -> list[list[str]]:
        out = []
        for domain in ("*.school.example", "*.tiktok.com", "*.bbc.co.uk", "*.example"):
            for since, until in ((None, None), (D18, D19), (D19, NOW)):
                q = Query(domain=parse_domain(domain), since=since, until=until, limit=limit)
                with site.engine.connect() as conn:
                    out.append([ev.id for ev in run_query(conn, q).events])
        return out

    by_names = answers()
    assert max(map(len, by_names)) == limit
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(site.engine, "before_cursor_execute", record)
    try:
        for module in (plan, lookupsearch):
            monkeypatch.setattr(module, "COMMON_NAMES", 5 if limit < 4 else 10**6)
        assert answers() == by_names
    finally:
        event.remove(site.engine, "before_cursor_execute", record)
    by_time = site.engine.dialect.name == "postgresql" and limit < 4
    assert any("(e.domain || '') IN" in s for s in seen) == by_time
    assert any("l.name + 0 IN" in s for s in seen) == (limit < 4)
    # Read by their names, PostgreSQL's events of them are sorted by a time no index gives
    # (its planner would otherwise walk every event by time for a rare suffix's few).
    by_names_sorted = any("e.ts + interval '0 seconds' DESC" in s for s in seen)
    assert by_names_sorted == (site.engine.dialect.name == "postgresql") or limit < 4


def test_a_suffixs_count_probes_each_days_index(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL counts a suffix's lookups and events (up to COMMON_NAMES) with hash and
    # merge joins off, each name looked for in each day's index, and the session's own
    # settings are back afterwards; the answer is the same.
    q = Query(domain=parse_domain("*.tiktok.com"), limit=2)
    with site.engine.connect() as conn:
        before = [ev.id for ev in run_query(conn, q).events]
    joins: list[tuple[str, str]] = []

    def seen(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        pg = conn.dialect.name == "postgresql"
        if pg and statement.startswith("SELECT count(*) FROM (SELECT 1 FROM"):
            raw = conn.connection.driver_connection
            shown = [raw.execute(f"SHOW enable_{j}join").fetchone() for j in ("hash", "merge")]
            joins.append((str(shown[0][0]), str(shown[1][0])))

    for module in (plan, lookupsearch):
        monkeypatch.setattr(module, "COMMON_NAMES", 5)
    event.listen(site.engine, "after_cursor_execute", seen)
    try:
        with site.engine.connect() as conn:
            assert [ev.id for ev in run_query(conn, q).events] == before
            if conn.dialect.name == "postgresql":
                assert conn.exec_driver_sql("SHOW enable_hashjoin").scalar() == "on"
    finally:
        event.remove(site.engine, "after_cursor_execute", seen)
    if site.engine.dialect.name == "postgresql":
        assert len(joins) == 2  # the events' count and the lookups'
        assert set(joins) == {("off", "off")}
    else:
        assert joins == []


# --- text --------------------------------------------------------------------------------


def test_text_finds_search_terms_typed_plainly(site: Site) -> None:
    # Stored as q=how+to+hide+cuts; found as typed, in any case.
    found = ask(site, text="How To Hide")
    assert indicators(found) == ["http://www.google.com/search?q=how+to+hide+cuts"]
    assert found[0].person == "ben.c"


def test_text_is_any_case_in_urls_and_typed_text(site: Site) -> None:
    assert indicators(ask(site, text="how-to-help")) == ["http://www.bbc.co.uk/news/HOW-TO-Help"]
    assert indicators(ask(site, text="disappear")) == ["I want to DISAPPEAR"]


def test_text_outside_ascii_folds_case(site: Site) -> None:
    assert indicators(ask(site, text="CAFÉ PRÈS")) == ["café près de moi"]


def test_short_text_is_found_without_the_index(site: Site) -> None:
    found = ask(site, text="/9", user="helen.p", limit=1000)
    assert {ev.url for ev in found} == {
        f"http://intranet.school.example/page/{i}" for i in range(FILLER) if "/9" in f"/{i}"
    }


def test_every_page_is_found_whether_indexed_or_queued(site: Site) -> None:
    for i in (0, 700, FILLER - 1):
        found = ask(site, text=f"intranet.school.example/page/{i}", limit=50)
        assert f"http://intranet.school.example/page/{i}" in {ev.url for ev in found}


def test_text_search_is_driven_by_the_index(site: Site) -> None:
    with site.engine.connect() as conn:
        assert run_query(conn, Query(text="hide cuts")).plan == "text"
        assert run_query(conn, Query(text="hide cuts", category="self_harm")).plan == "text"
        assert run_query(conn, Query(text="hide cuts", user="ben.c")).plan == "user"


def test_common_text_is_read_by_time(site: Site) -> None:
    """A text most rows hold is found sooner by reading the newest rows than through the
    index's long list of candidates; the answer is the same."""
    q = Query(text="intranet.school", limit=20)
    with site.engine.begin() as conn:
        flush_text_queue(conn)
    with site.engine.connect() as conn:
        by_index = run_query(conn, q)
        by_time = run_query(conn, q, common_text=100)
    assert (by_index.plan, by_time.plan) == ("text", "time")
    assert [ev.id for ev in by_index.events] == [ev.id for ev in by_time.events]
    assert by_index.more


# --- people, devices, addresses, categories, time ----------------------------------------


def test_user_within_a_time_window(site: Site) -> None:
    found = ask(
        site,
        user="ben.c",
        since=datetime(2026, 11, 19, 10, 1, tzinfo=UTC),
        until=datetime(2026, 11, 19, 10, 4, tzinfo=UTC),
    )
    assert [ev.domain for ev in found] == [
        "v16.tiktok.com",
        "tiktok.com",
        "tiktok.com.evil.example",
    ]
    assert all(ev.year_group == "5" and ev.device == "Y5-LT-02" for ev in found)


def test_device_and_ip(site: Site) -> None:
    by_device = ask(site, device="Y5-LT-02", limit=1000)
    by_ip = ask(site, ip="10.20.5.2", limit=1000)
    assert {ev.id for ev in by_device} == {ev.id for ev in by_ip}
    assert len(by_device) == 8  # five lookups and three proxy requests


def test_limit_keeps_the_newest_oldest_first(site: Site) -> None:
    with site.engine.connect() as conn:
        result = run_query(conn, Query(user="ben.c", limit=2))
        day = run_query(conn, Query(user="ben.c", limit=2, until=NOW.replace(hour=0)))
    # His newest event is the DHCP lease read on the 20th.
    assert result.more
    assert [ev.indicator for ev in result.events] == ["www.tiktok.com:443", "lease 10.20.5.2"]
    assert [ev.indicator for ev in day.events] == [
        "http://www.google.com/search?q=how+to+hide+cuts",
        "www.tiktok.com:443",
    ]


def test_category(site: Site) -> None:
    found = ask(site, category="social_media")
    assert found
    assert all(ev.category == "social_media" for ev in found)
    assert {ev.domain for ev in found} >= {"www.tiktok.com"}
    with site.engine.connect() as conn:
        assert run_query(conn, Query(category="social_media")).plan == "category"


def test_filters_combine(site: Site) -> None:
    found = ask(site, domain=parse_domain("*.tiktok.com"), user="alice.b")
    assert [(ev.domain, ev.person) for ev in found] == [("www.tiktok.com", "alice.b")]
    assert ask(site, domain=parse_domain("*.tiktok.com"), ip="10.20.9.31") == []


# --- context -----------------------------------------------------------------------------


def test_context_shows_the_neighbours_from_the_same_device(site: Site) -> None:
    found = ask(site, domain=parse_domain("v16.tiktok.com"), context=1)
    assert [(ev.domain, ev.match) for ev in found] == [
        ("classroom.google.com", False),
        ("v16.tiktok.com", True),
        ("tiktok.com", False),
    ]
    assert {ev.group for ev in found} == {1}


def test_overlapping_context_is_one_block(site: Site) -> None:
    found = ask(site, domain=parse_domain("*.tiktok.com"), context=1)
    blocks: dict[int | None, list[str]] = {}
    for ev in found:
        blocks.setdefault(ev.group, []).append(ev.indicator)
    # Alice's hit; Ben's v16 and tiktok.com, whose neighbourhoods share events: one block;
    # his CONNECT at 10:06 with the search before it and the lease after.
    assert list(blocks.values()) == [
        ["www.bbc.co.uk", "www.tiktok.com", "nottiktok.com"],
        ["classroom.google.com", "v16.tiktok.com", "tiktok.com", "tiktok.com.evil.example"],
        [
            "http://www.google.com/search?q=how+to+hide+cuts",
            "www.tiktok.com:443",
            "lease 10.20.5.2",
        ],
    ]
    assert sum(ev.match for ev in found) == 4


# --- timeline ----------------------------------------------------------------------------


def test_timeline_merges_every_source_in_order_and_marks_flagged(site: Site) -> None:
    tz = site.cfg.tz
    events = timeline(
        site.engine, date(2026, 11, 19), tz, "dsl", "concern raised", NOW, user="ben.c"
    )
    assert [ev.ts for ev in events] == sorted(ev.ts for ev in events)
    assert {ev.source for ev in events} == {"pihole", "proxy"}
    assert len(events) == 7
    flagged = [ev for ev in events if ev.flagged]
    assert flagged
    assert all(ev.category for ev in flagged)
    assert any(ev.alerts for ev in flagged)


def test_timeline_by_device_or_host_name(site: Site) -> None:
    tz = site.cfg.tz
    by_id = timeline(site.engine, date(2026, 11, 19), tz, "dsl", "check", NOW, device="Y6-LT-01")
    by_name = timeline(site.engine, date(2026, 11, 19), tz, "dsl", "check", NOW, device="y6-lt-01")
    assert [ev.id for ev in by_id] == [ev.id for ev in by_name]
    assert {ev.source for ev in by_id} == {"agents"}
    day_before = timeline(site.engine, date(2026, 11, 18), tz, "dsl", "check", NOW, user="alice.b")
    assert {ev.source for ev in day_before} == {"pihole", "proxy"}


# --- audit -------------------------------------------------------------------------------


def _audit(site: Site, action: str) -> list[Any]:
    t = table_of(AuditRow)
    with site.engine.connect() as conn:
        return list(conn.execute(select(t).where(t.c.action == action).order_by(t.c.id)))


def test_every_search_is_audited_with_operator_filters_and_reason(site: Site) -> None:
    before = len(_audit(site, "search"))
    q = Query(user="ben.c", domain=parse_domain("*.tiktok.com"))
    result = search(site.engine, q, "dsl.jones", "DSL referral 14", NOW, output="csv")
    rows = _audit(site, "search")
    assert len(rows) == before + 1
    last = rows[-1]
    assert (last.actor, last.subject) == ("dsl.jones", "user:ben.c")
    detail = json.loads(last.detail)
    assert detail["reason"] == "DSL referral 14"
    assert detail["filters"] == {"user": "ben.c", "domain": "*.tiktok.com", "limit": 100}
    assert detail["results"] == result.hits == 3
    assert detail["output"] == "csv"


def test_a_reason_is_required_unless_configured_off(site: Site) -> None:
    before = len(_audit(site, "search"))
    with pytest.raises(SearchError, match=r'needs --reason "\.\.\."'):
        search(site.engine, Query(user="ben.c"), "dsl", "  ", NOW)
    assert len(_audit(site, "search")) == before  # nothing searched, nothing recorded
    search(site.engine, Query(user="ben.c"), "dsl", None, NOW, require_reason=False)
    assert json.loads(_audit(site, "search")[-1].detail)["reason"] == ""


def test_timeline_is_audited(site: Site) -> None:
    timeline(
        site.engine,
        date(2026, 11, 19),
        site.cfg.tz,
        "head",
        "parent complaint",
        NOW,
        user="alice.b",
    )
    last = _audit(site, "timeline")[-1]
    assert (last.actor, last.subject) == ("head", "user:alice.b")
    detail = json.loads(last.detail)
    assert detail["filters"] == {"date": "2026-11-19", "user": "alice.b"}
    assert detail["reason"] == "parent complaint"


# --- output ------------------------------------------------------------------------------


def test_csv_cannot_carry_a_formula_into_a_spreadsheet(site: Site) -> None:
    found = ask(site, text="hyperlink")
    rows = list(csv.DictReader(io.StringIO(csv_text(found, site.cfg.tz))))
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["indicator"] == '\'=HYPERLINK("http://x")'


def test_terminal_output_cannot_carry_escape_sequences(site: Site) -> None:
    (ev,) = ask(site, text="31mred")
    assert "\x1b" not in printable(ev.indicator)
    assert printable("x" * 100, 10) == "x" * 9 + "…"


# --- the command line --------------------------------------------------------------------


def run(site: Site, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(site.config_path), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_search_json(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        site,
        capsys,
        "search",
        "--domain",
        "*.tiktok.com",
        "--since",
        "2026-11-19",
        "--until",
        "2026-11-19",
        "--json",
        "--reason",
        "test",
    )
    assert code == 0, err
    found = json.loads(out)
    assert [e["domain"] for e in found] == ["v16.tiktok.com", "tiktok.com", "www.tiktok.com"]
    assert found[0]["local_time"] == "2026-11-19T10:01:00+00:00"
    assert found[0]["ts"] == "2026-11-19T10:01:00Z"
    assert set(found[0]) == set(COLUMNS)


def test_cli_search_table_and_csv(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(site, capsys, "search", "--user", "ben.c", "--limit", "3", "--reason", "x")
    assert code == 0
    assert "Y5-LT-02" in out
    assert "leases" in out
    assert "more events matched" in out
    code, out, err = run(site, capsys, "search", "--text", "disappear", "--csv", "--reason", "x")
    assert code == 0
    assert err == ""
    assert out.splitlines()[0] == ",".join(COLUMNS)
    assert "I want to DISAPPEAR" in out


def test_cli_missing_reason_is_one_line_and_exit_1(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(site, capsys, "search", "--user", "ben.c")
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "--reason" in err
    code, _, err = run(site, capsys, "timeline", "--user", "ben.c", "--date", "2026-11-19")
    assert code == 1
    assert "timeline needs --reason" in err


def test_cli_bad_time_is_one_line(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(site, capsys, "search", "--since", "next tuesday", "--reason", "x")
    assert code == 1
    assert err.strip().splitlines() == [
        "--since: 'next tuesday' is not a time (expected e.g. 2026-11-20, 2026-11-20T10:00, "
        "today 10:00, yesterday, 2h)"
    ]


def test_cli_timeline(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        site, capsys, "timeline", "--user", "ben.c", "--date", "2026-11-19", "--reason", "x"
    )
    assert code == 0, err
    assert "ben.c, Thursday 19 November 2026: 7 event(s)" in out
    assert "10:05:00" in out
    assert "!" in out
    code, out, _ = run(
        site,
        capsys,
        "timeline",
        "--device",
        "Y6-LT-01",
        "--date",
        "2026-11-19",
        "--json",
        "--reason",
        "x",
    )
    assert [e["kind"] for e in json.loads(out)] == ["text", "text", "search", "text"]


# --- configuration -----------------------------------------------------------------------


def test_require_reason_can_be_turned_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = init_dir(tmp_path / "s")[0]
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n[search]\nrequire_reason = false\n")
    assert load_config(path).settings.search.require_reason is False
    assert main(["--config", str(path), "search", "--user", "nobody"]) == 0
    assert "0 matching event(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('require_reason = "sometimes"', "search.require_reason: Input should be a valid boolean"),
        ("reason = true", "search.reason: unknown key"),
    ],
)
def test_search_config_is_validated(tmp_path: Path, table: str, problem: str) -> None:
    path = init_dir(tmp_path / "s")[0]
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"\n[search]\n{table}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


# --- the index kept in step --------------------------------------------------------------


def test_cli_time_bounds(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    """--since takes an event at that very second; --until leaves it; a date alone as
    --until is the end of that day."""
    code, out, err = run(
        site,
        capsys,
        "search",
        "--user",
        "ben.c",
        "--since",
        "2026-11-19T10:01",
        "--until",
        "2026-11-19T10:03",
        "--json",
        "--reason",
        "x",
    )
    assert code == 0, err
    assert [e["domain"] for e in json.loads(out)] == ["v16.tiktok.com", "tiktok.com"]
    code, out, err = run(
        site,
        capsys,
        "search",
        "--user",
        "ben.c",
        "--until",
        "2026-11-19",
        "--json",
        "--reason",
        "x",
    )
    assert code == 0, err
    assert len(json.loads(out)) == 7  # the day's events, not the lease of the 20th
