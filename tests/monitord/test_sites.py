"""Two schools of a trust writing into one store: the same source names, addresses, device
names and user names, each school's daemon reading and acting on its own rows only, and the
trust's views seeing both."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerting.delivery import EmailNotifier, deliver_due
from collectors.base import load_parser
from collectors.follow import FileCollector, load_checkpoint
from monitord import cases
from monitord.app import App, ingest_files, open_app
from monitord.clock import FixedClock
from monitord.config import load_config
from monitord.initdir import init_dir
from monitord.roster import import_devices, import_people
from monitord.search import Query, run_query
from monitord.silences import add_silence, list_silences
from monitord.sources import source_states
from monitord.store import ALL_SITES, for_site, site_of
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
