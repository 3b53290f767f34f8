"""What proving the audit trail costs: `evidence verify` (chain, anchors, each alert's state)
on a trail of N records about A alerts, and the anchor a command writes as it ends.

    .venv/bin/python bench/trail.py [--records 20000] [--alerts 500]

Prints its figures; they are recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from monitord.casework.trail import read_anchors, verify_trail, write_anchor
from monitord.store.database import audit, open_store, table_of, verify_audit
from monitord.store.tables import AlertRow


def build(url: str, records: int, alerts: int) -> None:
    engine = open_store(url)
    at = table_of(AlertRow)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for i in range(1, alerts + 1):
            conn.execute(
                insert(at).values(
                    site_id="default",
                    group_key=f"k{i}",
                    created_at=start,
                    updated_at=start,
                    severity="high",
                    category="gambling",
                    status="open",
                    person=f"pupil{i % 400}",
                    indicator="bet365.com",
                    first_seen=start,
                    last_seen=start,
                    count=1,
                    blocked=False,
                    sources='["dnsmasq"]',
                    recipients="[]",
                    rule="r",
                )
            )
    done = 0
    while done < records:
        with engine.begin() as conn:
            for n in range(done, min(records, done + 5000)):
                now = start + timedelta(seconds=n)
                if n % 3 == 0:  # about a third of the trail is about alerts
                    subject = f"alert:{n % alerts + 1}"
                    audit(conn, "monitord", "alert.update", subject, {"count": n}, now=now)
                else:
                    audit(conn, "dsl", "search", "user:pupil1", {"reason": "x"}, now=now)
        done = min(records, done + 5000)
    engine.dispose()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--records", type=int, default=20_000)
    p.add_argument("--alerts", type=int, default=500)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "monitord.db"
        url = f"sqlite:///{db}"
        t0 = time.perf_counter()
        build(url, args.records, args.alerts)
        print(
            f"built {args.records:,} records about {args.alerts:,} alerts in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        engine = open_store(url)
        path = db.with_name(db.name + ".anchors")
        writes = []
        for i in range(21):
            with engine.begin() as conn:
                audit(conn, "dsl", "alert.view", "alert:1", {}, now=datetime.now(UTC))
            t = time.perf_counter()
            write_anchor(engine, path, f"bench {i}", datetime.now(UTC))
            writes.append(time.perf_counter() - t)
        anchors, _ = read_anchors(path)
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            with engine.connect() as conn:
                verdict = verify_trail(conn, anchors)
            runs.append(time.perf_counter() - t)
        assert verdict.intact, verdict.problems
        chain = []
        for _ in range(3):
            t = time.perf_counter()
            with engine.connect() as conn:
                verify_audit(conn)
            chain.append(time.perf_counter() - t)
        print(
            f"the chain alone (as before anchors and alert states): "
            f"median {statistics.median(chain):.2f} s"
        )
        print(f"anchor written as a command ends: median {statistics.median(writes) * 1000:.2f} ms")
        print(
            f"evidence verify: {verdict.records:,} records, {len(anchors)} anchors, "
            f"{verdict.alerts:,} alerts: median {statistics.median(runs):.2f} s "
            f"({verdict.records / statistics.median(runs):,.0f} records/s); "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
