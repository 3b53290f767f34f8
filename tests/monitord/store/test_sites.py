"""Two schools of a trust writing into one store: the same source names, addresses, device
names and user names, each school's daemon reading and acting on its own rows only, and the
trust's views seeing both."""

from __future__ import annotations

import ast
import asyncio
import os
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerting.delivery import EmailNotifier, deliver_due
from alerting.reports.digest.collect import collect
from alerting.reports.digest.week import Week
from collectors.follow import FileCollector, load_checkpoint
from collectors.parsers.base import load_parser
from monitord.casework import cases
from monitord.casework.evidence import export_bundle
from monitord.casework.output import resolve_device
from monitord.casework.query import Query
from monitord.casework.search import run_query, search
from monitord.casework.silences import add_silence, list_silences
from monitord.casework.subject import gather
from monitord.casework.timeline import day_events
from monitord.classify.policy import policy_of
from monitord.classify.storefacts import person_on_roster
from monitord.core.clock import FixedClock
from monitord.identity.agents import add_agent, agent_for_token, list_agents
from monitord.identity.roster import ImportError_, import_devices, import_people
from monitord.identity.supply import checkin, visits_on
from monitord.service.app import App, ingest_files, open_app
from monitord.service.initdir import init_dir
from monitord.service.sources import source_states
from monitord.service.status import collect_status
from monitord.settings.config import load_config
from monitord.store.database import ALL_SITES, for_site, site_of
from tests.stores import rows, use_store

pytestmark = pytest.mark.stores

DAY = datetime(2026, 11, 19, 16, 0, tzinfo=UTC)


@dataclass
class School:
    app: App
    log: Path


def _school(root: Path, site: str, store_url: str, pupil: str, domain: str) -> School:
    folder = root / site
    config = init_dir(folder)[0]
    use_store(config, store_url)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[school]\n", f'[school]\nsite_id = "{site}"\n', 1))
    log = folder / "pihole.log"
    log.write_text(f"Nov 19 10:01:02 dnsmasq[811]: query[A] {domain} from 10.20.6.7\n")
    os.utime(log, (DAY.timestamp(), DAY.timestamp()))
    with config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[[sources]]\nname = "pihole"\nformat = "dnsmasq"\npath = "{log}"\n')
    cfg = load_config(config)
    clock = FixedClock(DAY)
    app = open_app(cfg, clock)
    (folder / "roster.csv").write_text(
        f"username,display_name,role,year_group,class,email\n{pupil},Pupil,pupil,6,6B,\n"
        "same.name,Same Name,pupil,5,5A,\n"
    )
    (folder / "devices.csv").write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        f"LT-07,aa:00:00:00:00:{site[:2].encode().hex()[:2]},lt-07,school_single,{pupil}\n"
    )
    import_people(app.engine, folder / "roster.csv", "office", DAY)
    import_devices(app.engine, folder / "devices.csv", "office", DAY)
    mac = f"aa:00:00:00:00:{site[:2].encode().hex()[:2]}"
    (folder / "leases").write_text(f"{int(DAY.timestamp())} {mac} 10.20.6.7 lt-07 *\n")
    ingest_files(open_app(cfg, clock), [folder / "leases"], "dnsmasq-leases", "leases")
    return School(open_app(cfg, clock), log)


def test_schools_sharing_a_store_keep_to_their_own(tmp_path: Path, store_url: str) -> None:
    north = _school(tmp_path, "north", store_url, "amy.n", "www.bet365.com")
    south = _school(tmp_path, "south", store_url, "ben.s", "www.pornhub.com")
    assert site_of(north.app.engine) == "north"
    clock = FixedClock(DAY)
    for school in (north, south):
        # Followed as the daemon follows it, its read position kept.
        collector = FileCollector("pihole", school.log, school.app.engine, clock, use_inotify=False)
        session = load_parser("dnsmasq").session()
        for batch in collector.poll():
            school.app.processor.process("dnsmasq", session, batch.records, batch.checkpoint)
        collector.close()
    # Each school's event names its own pupil: the same address, device name and source
    # name mean different things in each school.
    found = rows(
        north.app.engine,
        "SELECT site_id, domain, username, device_id FROM events "
        "WHERE kind = 'dns' ORDER BY site_id",
    )
    assert found == [
        ("north", "www.bet365.com", "amy.n", "LT-07"),
        ("south", "www.pornhub.com", "ben.s", "LT-07"),
    ]
    # Each read its own file to its end: neither position is the other's.
    for school in (north, south):
        [state] = source_states(school.app.cfg, school.app.engine)
        assert (state.position, state.events) == (school.log.stat().st_size, 1)
        assert load_checkpoint(school.app.engine, "pihole") is not None
    assert load_checkpoint(for_site(north.app.engine, "west"), "pihole") is None
    # Reading north's file again adds nothing, and takes nothing from south.
    again = ingest_files(north.app, [north.log], "dnsmasq", "pihole")
    assert (again.stored, again.duplicates) == (0, 1)

    with north.app.engine.connect() as conn:
        looked_up = [e.domain for e in run_query(conn, Query()).events if e.domain]
    assert looked_up == ["www.bet365.com"]
    trust = for_site(north.app.engine, ALL_SITES)
    with trust.connect() as conn:
        looked_up = [e.domain for e in run_query(conn, Query(ip="10.20.6.7")).events if e.domain]
    assert sorted(looked_up) == ["www.bet365.com", "www.pornhub.com"]
    assert [a["category"] for a in cases.list_alerts(north.app.engine)] == ["gambling"]
    assert [a["category"] for a in cases.list_alerts(south.app.engine)] == ["pornography"]
    assert len(cases.list_alerts(trust)) == 2
    # One school's case work cannot reach another's alert.
    south_alert = cases.list_alerts(south.app.engine)[0]["id"]
    with pytest.raises(cases.CaseError, match="no alert"):
        cases.ack(north.app.engine, south_alert, "dsl.north", DAY)
    # Mail waits in each school's own outbox, and each daemon delivers its own only.
    outbox = "SELECT site_id, status FROM outbox ORDER BY site_id"
    assert rows(trust, outbox) == [("north", "queued"), ("south", "queued")]
    app = north.app
    notifier = EmailNotifier(app.cfg)
    asyncio.run(deliver_due(app.engine, app.cfg, app.clock, notifier, include_batched=True))
    [(_, north_status), south_row] = rows(trust, outbox)
    assert north_status != "queued"
    assert south_row == ("south", "queued")


def test_silences_and_rosters_are_each_schools_own(tmp_path: Path, store_url: str) -> None:
    north = _school(tmp_path, "north", store_url, "amy.n", "www.bet365.com")
    south = _school(tmp_path, "south", store_url, "ben.s", "www.pornhub.com")
    add_silence(
        north.app.engine,
        person="same.name",
        device=None,
        category=None,
        duration=timedelta(days=1),
        reason="known to the DSL",
        actor="dsl.north",
        now=DAY,
    )
    assert [s.person for s in list_silences(north.app.engine, DAY)] == ["same.name"]
    people = rows(
        north.app.engine, "SELECT site_id, username FROM people ORDER BY site_id, username"
    )
    assert people == [
        ("north", "amy.n"),
        ("north", "same.name"),
        ("south", "ben.s"),
        ("south", "same.name"),
    ]
    assert list_silences(south.app.engine, DAY) == []


def test_each_schools_records_stay_its_own(tmp_path: Path, store_url: str) -> None:
    """The trail is one chain, each record a school's: a subject access request and the
    digest's change log read this school's records only (the lists, which are the store's,
    excepted)."""
    north = _school(tmp_path, "north", store_url, "amy.n", "www.bet365.com")
    south = _school(tmp_path, "south", store_url, "ben.s", "www.pornhub.com")
    for school, who in ((north, "dsl.north"), (south, "dsl.south")):
        add_silence(
            school.app.engine, person="same.name", device=None, category=None,
            duration=timedelta(days=1), reason=f"known to {who}", actor=who, now=DAY,
        )  # fmt: skip
    search(south.app.engine, Query(user="same.name"), "dsl.south", "why", DAY)
    with north.app.engine.connect() as conn:
        records = gather(conn, "same.name")["audit"]
    assert [(r["actor"], r["action"], r["site_id"]) for r in records] == [
        ("office", "person.add", "north"),
        ("dsl.north", "silence.add", "north"),
    ]
    cfg = north.app.cfg
    digest = collect(north.app.engine, cfg, policy_of(cfg), Week.of(DAY, cfg.tz), DAY)
    assert [(c.actor, c.action) for c in digest.changes] == [("dsl.north", "silence.add")]
    # Every school's records, in one chain, whole.
    sites = rows(north.app.engine, "SELECT DISTINCT site_id FROM audit ORDER BY site_id")
    assert sites == [("north",), ("south",)]
    with for_site(north.app.engine, ALL_SITES).connect() as conn:
        everyone = gather(conn, "same.name")["audit"]
    assert {(r["actor"], r["site_id"]) for r in everyone} == {
        ("office", "north"), ("dsl.north", "north"), ("office", "south"), ("dsl.south", "south"),
    }  # fmt: skip
    assert len(everyone) == 5  # the south's search too


def _roster(school: School, tmp_path: Path, lines: str) -> None:
    csv = tmp_path / f"{school.app.cfg.site_id}-more.csv"
    csv.write_text("username,display_name,role,year_group,class,email\n" + lines)
    import_people(school.app.engine, csv, "office", DAY)


def test_a_user_name_is_looked_up_in_its_own_school(tmp_path: Path, store_url: str) -> None:
    # Southfield's engine once returned Northgate's headteacher for jsmith, which fed the
    # rule that an alert is never mailed to the person it is about.
    north = _school(tmp_path, "north", store_url, "amy.n", "www.bet365.com")
    south = _school(tmp_path, "south", store_url, "ben.s", "www.pornhub.com")
    _roster(north, tmp_path, "jsmith,Jo Smith,headteacher,,,head@north.example\n")
    _roster(south, tmp_path, "jsmith,Jay Smith,pupil,4,4C,\n")
    head = person_on_roster(north.app.engine, "jsmith")
    pupil = person_on_roster(south.app.engine, "jsmith")
    assert head is not None
    assert pupil is not None
    assert (head.display_name, head.role) == ("Jo Smith", "headteacher")
    assert (pupil.display_name, pupil.role) == ("Jay Smith", "pupil")
    assert person_on_roster(south.app.engine, "jsmith", "north") == head
    assert person_on_roster(south.app.engine, "amy.n") is None


def test_reads_of_an_alert_keep_to_its_school(tmp_path: Path, store_url: str) -> None:
    north = _school(tmp_path, "north", store_url, "amy.n", "www.bet365.com")
    south = _school(tmp_path, "south", store_url, "ben.s", "www.pornhub.com")
    # South has its own amy.n, and she looked something up a minute before north's amy.n.
    _roster(south, tmp_path, "amy.n,Someone Else,pupil,3,3A,\n")
    south_log = tmp_path / "south" / "access.log"
    at = int(datetime(2026, 11, 19, 10, 0, 30, tzinfo=UTC).timestamp())
    south_log.write_text(
        f"{at}.000     12 10.20.6.7 TCP_MISS/200 900 GET http://south-only.example/ amy.n "
        "HIER_DIRECT/192.0.2.1 text/html\n"
        f"{at + 50}.000     12 10.20.6.7 TCP_MISS/200 900 GET http://also-south.example/ amy.n "
        "HIER_DIRECT/192.0.2.1 text/html\n"
    )
    ingest_files(south.app, [south_log], "squid", "proxy")
    ingest_files(north.app, [north.log], "dnsmasq", "pihole")
    [alert] = cases.list_alerts(north.app.engine)
    # The mail shows north's pupil's lookups around the alert, never south's.
    [(body,)] = rows(
        north.app.engine, "SELECT message FROM outbox WHERE alert_id = :a", a=alert["id"]
    )
    mail = bytes(body).decode("utf-8", "replace")
    assert "bet365" in mail
    assert "south-only" not in mail
    assert "also-south" not in mail
    # The evidence bundle names north's amy.n, from north's roster.
    out = tmp_path / "bundle.zip"
    export_bundle(north.app.engine, north.app.cfg, alert["id"], out, "dsl.north", DAY)
    with zipfile.ZipFile(out) as bundle:
        text = b"".join(bundle.read(n) for n in bundle.namelist()).decode("utf-8", "replace")
    assert "Pupil (amy.n)" in text
    assert "Someone Else" not in text
    assert "south-only" not in text
    with pytest.raises(cases.CaseError, match="no alert"):
        export_bundle(south.app.engine, south.app.cfg, alert["id"], tmp_path / "b2.zip", "x", DAY)
    # A device named by its host name is the school's own (both have an lt-07).
    with north.app.engine.connect() as conn:
        assert resolve_device(conn, "lt-07") == "LT-07"
        found = run_query(conn, Query(device=resolve_device(conn, "lt-07"))).events
    assert [e.domain for e in found if e.kind == "dns"] == ["www.bet365.com"]
    # The person's day is the school's own.
    with south.app.engine.connect() as conn:
        day = day_events(conn, DAY.date(), ZoneInfo("UTC"), user="amy.n")
    assert [e.domain for e in day] == ["south-only.example", "also-south.example"]


SITE_HELPERS = {"mine", "mine_sql"}
# Reads of site-keyed tables that are not one school's, and why.
NOT_ONE_SCHOOLS = {
    "monitord/service/pipeline.py:_commit": "an event id is the store's primary key: "
    "whether one is "
    "taken is asked of every school (ids carry the school; see monitord.core.model)",
    "monitord/store/retention.py:_alerts": "retention periods are the trust's, for every school",
    "monitord/store/retention.py:_events": "retention periods are the trust's, for every school",
    "monitord/store/retention.py:_drop_day": "a day partition holds every school's events",
    "monitord/store/retention.py:_unmatch_day": "a day partition holds every school's events",
    "monitord/store/retention.py:run_retention": "retention periods are the trust's",
    "monitord/casework/plan.py:flush_text_queue": "moves queued rows into the text index; "
    "reads none",
    "monitord/casework/plan.py:_common": "counts candidates to choose a plan; returns no rows",
    "monitord/casework/plan.py:reaches": "counts rows to choose a plan (a suffix's events, "
    "a text's candidates); returns no rows",
    "monitord/casework/trail.py:_check_alerts": "the audit trail is one chain for every "
    "school in the "
    "store: evidence verify checks each alert against its own records",
    "monitord/store/database.py:stored_event_ids": "an event id is the store's: whether one is "
    "taken is asked of every school",
    "monitord/store/lookups.py:_keys": "a party's digest covers its school; names are no school's",
    "monitord/store/lookups.py:store_lookups": "writes the batch's own blocks, by their ids",
    "monitord/store/lookups.py:_blocks": "reads blocks by the ids of lookups read for one school",
    "monitord/store/lookups.py:promote": "moves one lookup read for this school (by "
    "lookup_events) by its id",
    "monitord/store/retention.py:_lookups": "retention periods are the trust's",
    "monitord/store/retention.py:rest": "retention periods are the trust's",
    "monitord/store/retention.py:_audit_cut": "the audit trail is one chain for every school",
    "monitord/store/retention.py:last_run": "retention periods are the trust's",
    "monitord/casework/trail.py:_check_anchors": "the audit trail is one chain for every school",
    "monitord/casework/trail.py:newest": "an anchor is the newest record of the whole chain",
    "monitord/casework/trail.py:verify_trail": "the audit trail is one chain for every school",
    "monitord/casework/listlog.py:list_log": "the category lists are the store's (no school's): "
    "their change log is every school's",
}


def _site_keyed() -> tuple[set[str], set[str]]:
    """The tables with a site_id column (from the models) and the models' class names."""
    from sqlmodel import SQLModel

    import monitord.store.tables as tables

    keyed = {t.name for t in SQLModel.metadata.tables.values() if "site_id" in t.c}
    models = {
        name
        for name, obj in vars(tables).items()
        if isinstance(obj, type) and getattr(obj, "__tablename__", None) in keyed
    }
    return keyed, models


def _reads_not_through_the_helper(root: Path) -> list[str]:
    """Each function that reads, changes or deletes rows of a site-keyed table (by its model
    or by name in SQL) without the site helper, and each comparison of a site_id written
    out by hand, as ``path:function``."""
    keyed, models = _site_keyed()
    names = "|".join(sorted(keyed))
    named = re.compile(rf"\b(from|join|update|into)\s+\"?({names})\b", re.I)
    by_hand = re.compile(r"site_id\s*=\s*:")
    found = []
    for package in ("monitord", "alerting", "collectors"):
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts or path.name == "database.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                where = f"{path.relative_to(root)}:{node.name}"
                inner = list(ast.walk(node))
                words = {n.id for n in inner if isinstance(n, ast.Name)}
                words |= {n.attr for n in inner if isinstance(n, ast.Attribute)}
                texts = [n.value for n in inner if isinstance(n, ast.Constant)]
                texts = [t for t in texts if isinstance(t, str)]
                calls = {
                    c.func.id if isinstance(c.func, ast.Name) else getattr(c.func, "attr", "")
                    for c in inner
                    if isinstance(c, ast.Call)
                }
                tables = bool(words & models) or any(named.search(t) for t in texts)
                reads = calls & {"select", "update", "delete", "text", "exec_driver_sql"}
                if tables and reads and not calls & SITE_HELPERS and where not in NOT_ONE_SCHOOLS:
                    found.append(where)
                compares = [
                    c
                    for c in inner
                    if isinstance(c, ast.Compare)
                    and any(isinstance(s, ast.Attribute) and s.attr == "site_id" for s in [c.left])
                ]
                if compares or any(by_hand.search(t) for t in texts):
                    found.append(f"{where} (site_id compared by hand)")
    return sorted(set(found))


def test_every_read_of_a_site_keyed_table_goes_through_the_helper() -> None:
    keyed, _ = _site_keyed()
    # The tables a school's rows are kept apart in; a new one is found here by itself.
    assert {"people", "devices", "events", "alerts", "outbox", "rejected", "silences"} <= keyed
    root = Path(__file__).resolve().parents[3]
    assert _reads_not_through_the_helper(root) == []


def test_the_coverage_check_finds_a_read_that_skips_the_helper(tmp_path: Path) -> None:
    module = tmp_path / "monitord" / "lookup.py"
    module.parent.mkdir()
    module.write_text(
        "def by_name(conn, name):\n"
        "    t = table_of(PersonRow)\n"
        "    return conn.execute(select(t).where(t.c.username == name)).first()\n\n"
        "def raw(conn):\n"
        "    return conn.execute(text('SELECT * FROM devices WHERE site_id = :s'))\n\n"
        "def fine(conn, name):\n"
        "    t = table_of(PersonRow)\n"
        "    return conn.execute(select(t).where(mine(conn, t.c.site_id))).first()\n"
    )
    assert _reads_not_through_the_helper(tmp_path) == [
        "monitord/lookup.py:by_name",
        "monitord/lookup.py:raw",
        "monitord/lookup.py:raw (site_id compared by hand)",
    ]


def test_status_supply_and_agents_are_each_schools_own(tmp_path: Path, store_url: str) -> None:
    north = _school(tmp_path, "north", store_url, "amy.n", "www.bet365.com")
    south = _school(tmp_path, "south", store_url, "ben.s", "www.pornhub.com")
    ingest_files(north.app, [north.log], "dnsmasq", "pihole")
    # Status: each school's open alerts and queued mail, not the trust's.
    north_status = collect_status(north.app.cfg, north.app.engine)
    south_status = collect_status(south.app.cfg, south.app.engine)
    assert sum(north_status["open_alerts"].values()) == 1
    assert sum(south_status["open_alerts"].values()) == 0
    assert north_status["outbox"] != south_status["outbox"]
    # Supply: only a school's own supply login can be checked in, and its visits are its own.
    _roster(north, tmp_path, "supply1,Supply 1,supply,,,\n")
    day = DAY.date()
    checkin(north.app.engine, "Supply1", "Jane Doe", "4B", day, "office", DAY)
    with pytest.raises(ImportError_):
        checkin(south.app.engine, "Supply1", "Jane Doe", "4B", day, "office", DAY)
    with north.app.engine.connect() as conn:
        assert list(visits_on(conn, day)) == ["supply1"]
    with south.app.engine.connect() as conn:
        assert visits_on(conn, day) == {}
    # Agents: a token is its school's, and each lists its own.
    token = add_agent(north.app.engine, "lt-07-agent", "tech", DAY, "LT-07")
    assert agent_for_token(south.app.engine, token, DAY) is None
    found = agent_for_token(north.app.engine, token, DAY)
    assert found is not None
    assert found.agent == "lt-07-agent"
    assert [a.name for a in list_agents(south.app.engine)] == []
