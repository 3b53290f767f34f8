"""Screenshots on a real store and a real evidence folder: each agent's quota, and the
pictures removed with the reports that carried them when retention removes those."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from collectors.screenshots import store_blob
from monitord.service.app import App, ingest_files
from monitord.store.database import table_of
from monitord.store.retention import run_retention
from monitord.store.shots import admit, shot_path, usage
from monitord.store.tables import ScreenshotRow

pytestmark = pytest.mark.stores
JUNE = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def picture(n: int) -> tuple[bytes, str]:
    data = f"\x89PNG picture {n}".encode()
    return data, hashlib.sha256(data).hexdigest()


def shot_report(digest: str, ts: datetime) -> str:
    return json.dumps(
        {
            "schema": "monitord.agent/1",
            "agent_id": "y6-lt-07",
            "hostname": "Y6-LT-07",
            "ts": ts.isoformat(),
            "user": "jayden.s",
            "ip": None,
            "mac": None,
            "kind": "screenshot",
            "data": {"file": f"shots/{digest[:8]}.png", "sha256": digest},
        }
    )


def test_each_agent_has_a_quota_and_a_picture_counts_once(app: App) -> None:
    now = app.clock.now()
    assert admit(app.engine, "a1", "0" * 64, 60, 100, now) is None
    assert admit(app.engine, "a1", "0" * 64, 60, 100, now) is None  # the same picture again
    refused = admit(app.engine, "a1", "1" * 64, 50, 100, now)
    assert refused is not None
    assert "take 60 bytes of its quota of 100" in refused
    assert admit(app.engine, "a2", "1" * 64, 50, 100, now) is None  # another agent's own
    assert (usage(app.engine, "a1"), usage(app.engine, "a2")) == (60, 50)


def test_retention_removes_a_picture_with_the_last_report_that_carried_it(
    app: App, tmp_path: Path
) -> None:
    now = app.clock.now()
    evidence = app.cfg.resolve(app.cfg.settings.agents.evidence)
    (old, a), (new, b), (orphan, c), (fresh, d) = (picture(n) for n in range(4))
    for data, digest, when in ((old, a, JUNE), (new, b, JUNE), (orphan, c, JUNE), (fresh, d, now)):
        assert admit(app.engine, "y6-lt-07", digest, len(data), 10**6, when) is None
        store_blob(data, digest, evidence)
    reports = tmp_path / "reports.jsonl"
    reports.write_text(
        shot_report(a, JUNE) + "\n" + shot_report(b, now - timedelta(hours=1)) + "\n"
    )
    assert ingest_files(app, [reports], "agent", "agents").events == 2
    dry = run_retention(app.engine, app.cfg, now, "test", dry_run=True, pause=0)
    assert dry.removed["screenshots"] == 2
    assert shot_path(evidence, a).exists()
    result = run_retention(app.engine, app.cfg, now, "test", pause=0)
    assert result.removed["screenshots"] == 2  # a's report is past [retention] events; c had none
    assert result.removed["events"] == 1
    assert [shot_path(evidence, x).exists() for x in (a, b, c, d)] == [False, True, False, True]
    with app.engine.connect() as conn:
        kept = sorted(r.sha256 for r in conn.execute(select(table_of(ScreenshotRow))))
    assert kept == sorted([b, d])
