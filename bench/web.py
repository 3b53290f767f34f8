"""The console's server time on a big store: the inbox, an alert page and a person's day.

    .venv/bin/python bench/web.py [--events 50000000] [--days 30] [--devices 500]
                                  [--alerts 2000] [--dir var/bench-web] [--reuse]

Builds the store as bench/search.py does (a month of a school's traffic, every migration),
adds the roster of its laptops' users and ``--alerts`` open alerts, each holding up to three
of one person's events of one day, then serves the console in-process (Starlette's test
client: no network, so the figures are the server's own work: the store's queries, the
role rule, the template) and times, signed in as the DSL:

- the inbox (``GET /alerts``, every open alert the DSL may see, most severe first);
- an alert's page (``GET /alerts/ID``, audited: its events, raw lines, the events before and
  after on the person's day, the mail, the history), a different alert each run;
- a person's day (``POST /timeline``, with the reason, audited).

Each is run once (first) and then ``--runs`` times (median), timed by the wall clock and by
the process's CPU time.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
from argon2 import PasswordHasher
from sqlalchemy import Engine, insert, text
from starlette.testclient import TestClient

from monitord.casework.accounts import add_account
from monitord.casework.totpkey import TotpKey, key_file
from monitord.core.clock import FixedClock
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config
from monitord.store.database import open_store, table_of
from monitord.store.tables import AlertEventRow, AlertRow, PersonRow
from monitord.web.app import make_app

HERE = Path(__file__).resolve().parent
CATEGORIES = ("pornography", "gambling", "violence", "filter_bypass", "self_harm", "bullying")
SEVERITIES = ("critical", "high", "high", "medium", "medium", "medium")
PASSWORD = "a long benchmark password"


def _search_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_search", HERE / "search.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_search"] = module
    spec.loader.exec_module(module)
    return module


def add_school(engine: Engine, search: Any, n_devices: int, n_alerts: int, days: int) -> None:
    """The roster of the store's laptops' users, and ``n_alerts`` open alerts."""
    devices = search.Devices(n_devices)
    now = datetime.now(UTC)
    people = [
        {
            "username": devices.user[i],
            "display_name": devices.user[i].title(),
            "role": devices.role[i],
            "year_group": devices.year[i],
            "class_name": None,
            "email": None,
            "active": True,
            "updated_at": now,
        }
        for i in range(n_devices)
    ]
    rng = random.Random(16)
    pupils = [i for i in range(n_devices) if devices.role[i] == "pupil"]
    with engine.begin() as conn:
        conn.execute(insert(table_of(PersonRow)), people)
        for n in range(n_alerts):
            i = rng.choice(pupils)
            day = search.FIRST_DAY + timedelta(days=rng.randrange(days))
            start = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
            found = conn.execute(
                text(
                    "SELECT id, ts, domain FROM events INDEXED BY ix_events_user_ts "
                    "WHERE username = :u AND ts >= :a AND ts < :b ORDER BY ts LIMIT 3"
                ),
                {
                    "u": devices.user[i],
                    "a": str(start)[:19],
                    "b": str(start + timedelta(hours=6))[:19],
                },
            ).all()
            if not found:
                continue
            first = datetime.fromisoformat(str(found[0].ts)).replace(tzinfo=UTC)
            last = datetime.fromisoformat(str(found[-1].ts)).replace(tzinfo=UTC)
            result = conn.execute(
                insert(table_of(AlertRow)).values(
                    group_key=f"bench:{n}",
                    created_at=last,
                    updated_at=last,
                    first_seen=first,
                    last_seen=last,
                    severity=SEVERITIES[n % len(SEVERITIES)],
                    category=CATEGORIES[n % len(CATEGORIES)],
                    status="open",
                    person=devices.user[i],
                    role="pupil",
                    year_group=devices.year[i],
                    device=devices.device[i],
                    ip=devices.ip[i],
                    indicator=found[0].domain or "-",
                    count=len(found),
                    blocked=False,
                    sources='["dnsmasq"]',
                    recipients='["dsl@school.example"]',
                    rule="bench",
                    attribution=devices.why[i],
                )
            )
            alert_id = int(result.inserted_primary_key[0])
            conn.execute(
                insert(table_of(AlertEventRow)),
                [{"alert_id": alert_id, "event_id": ev.id} for ev in found],
            )


def timed(fn: Callable[[int], Any], runs: int) -> tuple[float, float, float, float]:
    """First and median of ``runs`` more, in ms: wall clock, and the process's CPU time (the
    figure a machine others share disturbs least)."""
    t, c = time.perf_counter(), time.process_time()
    fn(0)
    first, first_cpu = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000
    times, cpu = [], []
    for n in range(1, runs + 1):
        t, c = time.perf_counter(), time.process_time()
        fn(n)
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return first, statistics.median(times), first_cpu, statistics.median(cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--alerts", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--dir", default="var/bench-web")
    ap.add_argument("--reuse", action="store_true", help="use the store an earlier run built")
    args = ap.parse_args()
    root = Path(args.dir).resolve()
    search = _search_bench()
    db = root / "monitord.db"
    if not (args.reuse and db.is_file()):
        search.build(root, f"sqlite:///{db}", args.events, args.days, args.devices)
        engine = open_store(f"sqlite:///{db}")
        add_school(engine, search, args.devices, args.alerts, args.days)
        engine.dispose()
    site = root / "site"
    if not (site / "monitord.toml").is_file():
        init_dir(site)
        toml = site / "monitord.toml"
        toml.write_text(
            toml.read_text().replace('url = "sqlite:///var/monitord.db"', f'url = "sqlite:///{db}"')
        )
    cfg = load_config(site / "monitord.toml")
    engine = open_store(cfg.database_url)
    with engine.connect() as conn:
        events = conn.exec_driver_sql("SELECT max(rowid) FROM events").scalar_one()
        ids = [
            int(r[0]) for r in conn.exec_driver_sql("SELECT id FROM alerts WHERE status = 'open'")
        ]
    print(f"store: {events:,} events, {len(ids):,} open alerts, {db.stat().st_size / 1e9:.1f} GB")
    clock = FixedClock(
        datetime.combine(search.FIRST_DAY, datetime.min.time(), UTC) + timedelta(days=args.days)
    )
    cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    name = f"bench{int(time.time())}"
    key = TotpKey(key_file(cfg))
    made = add_account(
        engine, name, "dsl", "bench", clock.now(), password=PASSWORD, ph=cheap, key=key
    )
    assert made.totp_uri is not None
    client = TestClient(make_app(cfg, engine, clock), base_url="http://127.0.0.1")
    code = pyotp.parse_uri(made.totp_uri).at(clock.now())  # type: ignore[attr-defined]
    r = client.post("/api/session", json={"username": name, "password": PASSWORD, "totp": code})
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf"]
    rng = random.Random(7)
    pages = rng.sample(ids, min(len(ids), args.runs + 1))

    def inbox(_: int) -> None:
        page = client.get("/alerts")
        assert page.status_code == 200

    def alert(n: int) -> None:
        page = client.get(f"/alerts/{pages[n % len(pages)]}")
        assert page.status_code == 200

    person = search.Devices(args.devices).user[search.PERSON]
    day = search.PERSON_DAY.isoformat()

    def timeline(_: int) -> None:
        form = {"csrf": csrf, "user": person, "date": day, "reason": "benchmark"}
        page = client.post("/timeline", data=form)
        assert page.status_code == 200

    shown = len(re.findall(r'href="/alerts/\d+"', client.get("/alerts").text))
    found = re.search(
        r"<h2>([\d,]+) event",
        client.post(
            "/timeline", data={"csrf": csrf, "user": person, "date": day, "reason": "benchmark"}
        ).text,
    )
    print(
        f"the inbox lists {shown:,} alerts; {person}'s day on {day} holds "
        f"{found.group(1) if found else '?'} events"
    )
    for label, fn in (("inbox", inbox), ("an alert's page", alert), ("a person's day", timeline)):
        first, median, first_cpu, median_cpu = timed(fn, args.runs)
        print(
            f"{label:>16}: first {first:7.1f} ms, median of {args.runs} {median:7.1f} ms; "
            f"CPU {first_cpu:7.1f} and {median_cpu:7.1f} ms; load {os.getloadavg()[0]:.1f}"
        )
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
