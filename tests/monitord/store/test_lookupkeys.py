"""A batch's lookups' keys gathered in one pass: each row's digests, time and block, each
distinct key once in the order the batch names it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from monitord.store.lookupkeys import (
    DAY_MICROS,
    PARTY,
    digest,
    gather,
    micros,
    party_digest,
)

MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)


def row(i: int, **changes: Any) -> dict[str, Any]:
    """An event row of a clean proxy request (``kind`` "dns" for a lookup)."""
    base: dict[str, Any] = {
        "id": f"{i:032x}",
        "site_id": "default",
        "ts": MIDNIGHT - timedelta(seconds=10) + timedelta(seconds=i),
        "source": "squid",
        "fmt": "squid",
        "kind": "http",
        "client_ip": f"10.20.0.{i % 3 + 2}",
        "client_mac": None,
        "user": f"pupil{i % 3}",
        "domain": ("www.bbc.co.uk", "www.google.com")[i % 2],
        "url": f"http://www.bbc.co.uk/page/{i % 4}",
        "method": "GET",
        "qtype": None,
        "action": "TCP_MISS",
        "status": 200,
        "size": 100 + i,
        "hostname": None,
        "username": f"pupil{i % 3}",
        "device_id": f"LT-{i % 3}",
        "role": "pupil",
        "year_group": "4",
        "attributed_by": "user_in_record",
        "attribution": f"user name 'pupil{i % 3}' in the record",
        "category": None,
        "severity": "none",
        "file_id": "f" * 32,
        "offset": 100 * i,
    }
    return {**base, **changes}


def match(i: int, score: Any = 0, allow: Any = True) -> dict[str, Any]:
    return {
        "event_id": f"{i:032x}",
        "category": "allow",
        "list_name": "starter/safe",
        "entry": "bbc.co.uk",
        "score": score,
        "allow": allow,
    }


def test_each_distinct_key_is_wanted_once_in_the_order_the_batch_names_it() -> None:
    rows = [row(i) for i in range(20)]
    g = gather(rows, {})
    assert list(g.wanted_names) == ["www.bbc.co.uk", "www.google.com"]
    assert g.wanted_names["www.google.com"] == {"domain": "www.google.com"}
    firsts = [tuple(r[c] for c in PARTY) for r in rows[:3]]
    assert list(g.wanted_parties) == [party_digest(v) for v in firsts]
    assert g.wanted_parties[g.parties[4]] == {
        "digest": g.parties[4],
        **{c: rows[4][c] for c in PARTY},
    }
    assert g.parties == [party_digest(firsts[i % 3]) for i in range(20)]
    assert list(g.wanted_urls) == [digest(f"http://www.bbc.co.uk/page/{i}") for i in range(4)]
    assert g.urls == [digest(f"http://www.bbc.co.uk/page/{i % 4}") for i in range(20)]
    shape = party_digest(("GET", "TCP_MISS", 200))
    assert g.wanted_requests == {
        shape: {"digest": shape, "method": "GET", "action": "TCP_MISS", "status": 200}
    }
    assert g.requests == [shape] * 20
    assert g.verdicts == [None] * 20
    assert g.wanted_verdicts == {}
    assert g.stamps == [micros(r["ts"]) for r in rows]


def test_a_dns_lookup_has_no_request_and_no_url() -> None:
    g = gather([row(0, kind="dns", url=None, method=None, action=None, status=None)], {})
    assert g.requests == [None]
    assert g.urls == [None]
    assert g.wanted_requests == {}
    assert g.wanted_urls == {}


def test_a_request_without_a_url_has_a_request_and_no_url() -> None:
    g = gather([row(0, url=None)], {})
    assert g.requests[0] is not None
    assert g.urls == [None]


def test_a_batch_across_midnight_makes_a_block_a_utc_day() -> None:
    rows = [row(i) for i in range(20)]
    g = gather(rows, {})
    before = micros(MIDNIGHT) // DAY_MICROS - 1
    key = ("default", "squid", "f" * 32)
    assert g.blocks == {(*key, before): list(range(10)), (*key, before + 1): list(range(10, 20))}


def test_verdicts_are_made_once_a_shape_and_tell_one_from_true() -> None:
    rows = [row(i) for i in range(4)] + [row(4, category="gambling", severity="low")]
    matches = {
        rows[0]["id"]: [match(0)],
        rows[1]["id"]: [match(1)],
        rows[2]["id"]: [match(2, score=1, allow=1)],
        rows[3]["id"]: [match(3, score=1.0, allow=True)],
    }
    g = gather(rows, matches)
    assert g.verdicts[0] == g.verdicts[1]
    assert len({g.verdicts[0], g.verdicts[2], g.verdicts[3], g.verdicts[4]}) == 4
    assert list(g.wanted_verdicts) == [g.verdicts[0], g.verdicts[2], g.verdicts[3], g.verdicts[4]]
    first = g.wanted_verdicts[g.verdicts[0]]
    kept = json.dumps([["allow", "starter/safe", "bbc.co.uk", 0, True]])
    assert first == {
        "digest": digest(
            json.dumps({"category": None, "severity": "none", "matches": kept}, sort_keys=True)
        ),
        "category": None,
        "severity": "none",
        "matches": kept,
    }
    assert g.wanted_verdicts[g.verdicts[4]]["matches"] == "[]"
