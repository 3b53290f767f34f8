"""Building a working monitord from a config, and backfilling whole files through it: text
logs plain or gzipped, captures as packets, as each format's parser says it needs."""

from __future__ import annotations

import gc
import gzip
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap
from sqlalchemy import text

from monitord.core.clock import FixedClock
from monitord.core.model import Origin, RawRecord
from monitord.service.app import (
    BACKFILL_GC_THRESHOLD,
    App,
    batched,
    fewer_collections,
    ingest_files,
    load_judges,
    open_app,
)
from monitord.settings.config import Config

DAY = datetime(2026, 11, 19, 18, 0, tzinfo=UTC)


def _record(n: int) -> RawRecord:
    return RawRecord(Origin("s", "f", n), b"line", DAY)


@given(st.integers(0, 50), st.integers(1, 9))
def test_batches_keep_every_record_in_order(count: int, size: int) -> None:
    records = [_record(n) for n in range(count)]
    batches = list(batched(iter(records), size))
    assert [r for b in batches for r in b] == records
    assert all(len(b) == size for b in batches[:-1])
    assert all(1 <= len(b) <= size for b in batches)


def test_an_app_is_built_from_the_config_and_clock(config: Config, clock: FixedClock) -> None:
    app = open_app(config, clock, alerts=False)
    assert app.cfg is config
    assert app.clock is clock
    assert app.policy.tz == config.tz
    assert app.processor.alerts is None  # no alerts asked for
    classifier, content = load_judges(app.engine)
    assert "gambling" in classifier.classify_host("www.bet365.com").categories
    assert content is not None
    app.engine.dispose()


def _events(app: App) -> list[tuple[str, str]]:
    with app.engine.connect() as conn:
        rows = conn.execute(text("SELECT fmt, domain FROM all_events ORDER BY domain")).all()
    return [(r[0], r[1]) for r in rows]


def test_text_logs_plain_and_gzipped_are_backfilled(app: App, tmp_path: Path) -> None:
    plain = tmp_path / "dnsmasq.log"
    plain.write_text("Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7\n")
    packed = tmp_path / "dnsmasq.log.1.gz"
    packed.write_bytes(
        gzip.compress(b"Nov 19 09:00:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.8\n")
    )
    for p in (plain, packed):
        os.utime(p, (DAY.timestamp(), DAY.timestamp()))
    result = ingest_files(app, [plain, packed], "dnsmasq", "resolver")
    assert (result.lines, result.events, result.rejected) == (2, 2, 0)
    assert _events(app) == [("dnsmasq", "www.bbc.co.uk"), ("dnsmasq", "www.bet365.com")]


def test_a_file_that_cannot_be_read_leaves_the_one_before_it_stored(
    app: App, tmp_path: Path
) -> None:
    # A backfill of a day's log and a rotated one cut short (a copy that ended part way):
    # reading the second fails, and the first file's lines, read and judged, are stored.
    plain = tmp_path / "dnsmasq.log"
    plain.write_text("Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7\n")
    whole = gzip.compress(b"Nov 19 09:00:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.8\n")
    cut = tmp_path / "dnsmasq.log.1.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    for p in (plain, cut):
        os.utime(p, (DAY.timestamp(), DAY.timestamp()))
    with pytest.raises(EOFError):
        ingest_files(app, [plain, cut], "dnsmasq", "resolver", separate=False)
    assert _events(app) == [("dnsmasq", "www.bet365.com")]


def test_a_capture_is_read_as_packets(app: App, tmp_path: Path) -> None:
    query = (
        Ether()
        / IP(src="10.20.6.7", dst="10.20.0.1")
        / UDP(sport=40000, dport=53)
        / DNS(id=1, rd=1, qd=DNSQR(qname="www.roblox.com"))
    )
    query.time = DAY.timestamp() - 3600
    capture = tmp_path / "mirror.pcap"
    wrpcap(str(capture), [query])
    result = ingest_files(app, [capture], "pcap", "mirror")
    assert (result.lines, result.events, result.rejected) == (1, 1, 0)
    assert _events(app) == [("pcap", "www.roblox.com")]


def test_a_backfill_spares_the_collector_and_restores_it(app: App, tmp_path: Path) -> None:
    before = gc.get_threshold(), gc.get_freeze_count()
    with fewer_collections():
        assert gc.get_threshold() == (BACKFILL_GC_THRESHOLD, *before[0][1:])
        assert gc.get_freeze_count() > before[1]  # what was loaded is not walked meanwhile
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
    try:
        with fewer_collections():
            raise RuntimeError("a backfill that fails")
    except RuntimeError:
        pass
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
    plain = tmp_path / "dnsmasq.log"
    plain.write_text("Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7\n")
    assert ingest_files(app, [plain], "dnsmasq", "dnsmasq").stored == 1
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
