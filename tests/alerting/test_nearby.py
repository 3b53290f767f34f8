"""The alert mail's events around its own: those of the same person just before and after,
lookups that matched nothing among them, on both stores."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from alerting.nearby import NEARBY
from monitord.service.app import ingest_files
from tests.monitord.store.test_lookups import lookup_school, write_log
from tests.stores import rows

pytestmark = pytest.mark.stores
LINES = [
    "Nov 19 10:01:02 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7",
    "Nov 19 10:01:03 dnsmasq[811]: query[A] weather.example from 10.20.6.7",
    "Nov 19 10:01:09 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7",
    "Nov 19 10:01:20 dnsmasq[811]: query[A] news.example from 10.20.6.7",
    "Nov 19 10:01:21 dnsmasq[811]: query[A] other-device.example from 10.20.6.8",
    "Nov 19 12:30:00 dnsmasq[811]: query[A] much-later.example from 10.20.6.7",
]


def _text(message: bytes) -> str:
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def test_the_alert_mail_shows_the_lookups_around_its_event(tmp_path: Path, store_url: str) -> None:
    app = lookup_school(tmp_path, store_url)
    ingest_files(app, [write_log(tmp_path, LINES)], "dnsmasq", "resolver")
    assert rows(app.engine, "SELECT count(*) FROM lookups") == [(5,)]
    [(message,)] = rows(app.engine, "SELECT message FROM outbox")
    shown = _text(bytes(message))
    around = shown.split("from the same person or device:\n")[1].split("\n\n")[0]
    assert around.splitlines() == [
        "     10:01:02  dns  www[.]bbc[.]co[.]uk",
        "     10:01:03  dns  weather[.]example",
        "  >> 10:01:09  dns  www[.]bet365[.]com",
        "     10:01:20  dns  news[.]example",
    ]
    # Another device's lookup, and one more than an hour later, are not shown.
    assert "other-device" not in shown
    assert "much-later" not in shown
    assert NEARBY >= 2
