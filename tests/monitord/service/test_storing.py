"""A backfill's batches stored in a process of their own: what is stored is what the thread
stores, a batch the process cannot store is split here, and a process that dies ends the
backfill without losing or doubling anything when it is read again."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import create_engine

from collectors.files import iter_records
from collectors.parsers.base import load_parser
from monitord.core.clock import FixedClock
from monitord.identity.roster import import_devices, import_people
from monitord.service import app as app_module
from monitord.service import storing
from monitord.service.app import App, ingest_files, open_app
from monitord.service.batch import BatchResult
from monitord.service.initdir import init_dir
from monitord.service.storing import Storing, can_fork, lean, store_held
from monitord.settings.config import load_config
from tests.stores import dump, row, rows

BOUNDARY = re.compile(rb"={15}[0-9]+==")
DAY = datetime(2026, 11, 19, 18, 0, tzinfo=UTC)
BATCH = 40


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """A backfill of a few hundred lines in several batches."""
    monkeypatch.setattr(app_module, "backfill_batch", lambda app: BATCH)


def site(folder: Path) -> App:
    """A school with one pupil's laptop on a lease, its store in ``folder``."""
    cfg = load_config(init_dir(folder)[0])
    clock = FixedClock(DAY + timedelta(hours=1))
    made = open_app(cfg, clock)
    roster, devices, leases = folder / "roster.csv", folder / "devices.csv", folder / "leases"
    roster.write_text(
        "username,display_name,role,year_group,class,email\njayden.s,Jayden Smith,pupil,6,6B,\n",
        encoding="utf-8",
    )
    devices.write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        "Y6-LT-07,aa:00:00:00:00:07,y6-lt-07,school_single,jayden.s\n",
        encoding="utf-8",
    )
    import_people(made.engine, roster, "office", clock.now())
    import_devices(made.engine, devices, "office", clock.now())
    made.engine.dispose()  # closed, as a command's are when it ends
    leases.write_text(f"{int(DAY.timestamp())} aa:00:00:00:00:07 10.20.6.7 y6-lt-07 *\n")
    fresh = open_app(cfg, clock)
    ingest_files(fresh, [leases], "dnsmasq-leases", "leases")
    return fresh


def day_log(folder: Path, lines: int = 300) -> Path:
    """Pi-hole's lines of a morning: lookups, a listed site every 37th (an alert's), the
    forwarded line after each."""
    names = ["www.bbc.co.uk", "classroom.google.com", "en.wikipedia.org", "www.purplemash.com"]
    out = []
    for i in range(lines // 2):
        at = (DAY - timedelta(hours=8) + timedelta(seconds=7 * i)).strftime("%b %d %H:%M:%S")
        name = "www.bet365.com" if i % 37 == 5 else names[i % len(names)]
        out.append(f"{at} dnsmasq[811]: query[A] {name} from 10.20.6.7\n")
        out.append(f"{at} dnsmasq[811]: forwarded {name} to 1.1.1.3\n")
    path = folder / "dnsmasq.log"
    path.write_text("".join(out), encoding="utf-8")
    os.utime(path, (DAY.timestamp(), DAY.timestamp()))
    return path


def stored(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the store; a queued mail's MIME boundary (random) left out."""
    return {
        table: [
            tuple(BOUNDARY.sub(b"=", v) if isinstance(v, bytes) else v for v in r) for r in found
        ]
        for table, found in dump(app.engine).items()
    }


class Kept(Storing):
    """The storer ``ingest_files`` makes, kept to be asked whether it forked."""

    made: ClassVar[list[Storing]] = []

    def __init__(self, *a: Any, **k: Any) -> None:
        super().__init__(*a, **k)
        Kept.made.append(self)


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> list[Storing]:
    Kept.made = []
    monkeypatch.setattr(app_module, "Storing", Kept)
    return Kept.made


def test_a_backfill_stores_the_same_in_a_process_as_on_a_thread(
    tmp_path: Path, kept: list[Storing]
) -> None:
    threaded, forked = site(tmp_path / "a"), site(tmp_path / "b")
    a = ingest_files(threaded, [day_log(tmp_path / "a")], "dnsmasq", "resolver", separate=False)
    assert kept[-1].pid is None
    b = ingest_files(forked, [day_log(tmp_path / "b")], "dnsmasq", "resolver", separate=True)
    assert kept[-1].pid is not None
    assert kept[-1].pid != os.getpid()
    assert a == b
    assert (b.lines, b.events, b.stored, b.alerts_opened) == (300, 150, 150, 1)
    assert stored(threaded) == stored(forked)
    assert row(forked.engine, "SELECT count(*) FROM lookups") == (146,)
    # The process has ended, and the store is this process's again: read again, nothing new.
    again = ingest_files(forked, [day_log(tmp_path / "b")], "dnsmasq", "resolver")
    assert (again.stored, again.duplicates) == (0, 150)
    assert stored(threaded) == stored(forked)


def test_a_backfill_of_several_batches_stores_its_first_in_the_process(
    tmp_path: Path, kept: list[Storing], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its storing would otherwise take turns at the GIL with the judging of the second."""
    app = site(tmp_path)
    here: list[int] = []
    store = app.processor.store

    def on_this_side(*a: Any, **k: Any) -> BatchResult:
        here.append(len(a[0].events))
        return store(*a, **k)

    monkeypatch.setattr(app.processor, "store", on_this_side)
    done = ingest_files(app, [day_log(tmp_path)], "dnsmasq", "resolver", separate=True)
    assert kept[-1].pid is not None
    assert here == []  # every batch, the first too, stored by the process
    assert (done.stored, done.alerts_opened) == (150, 1)


def test_a_backfill_of_one_batch_forks_nothing(tmp_path: Path, kept: list[Storing]) -> None:
    app = site(tmp_path)
    done = ingest_files(app, [day_log(tmp_path, BATCH)], "dnsmasq", "resolver", separate=True)
    assert kept[-1].pid is None
    assert done.stored == BATCH // 2


def test_a_process_with_other_threads_stores_on_a_thread(
    tmp_path: Path, kept: list[Storing]
) -> None:
    app = site(tmp_path)
    assert can_fork(app.processor)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not can_fork(app.processor)
        done = ingest_files(app, [day_log(tmp_path)], "dnsmasq", "resolver", separate=True)
    finally:
        stop.set()
        other.join()
    assert kept[-1].pid is None
    assert done.stored == 150


@pytest.mark.parametrize("spare", [True, False])
def test_by_default_a_process_only_with_a_core_to_spare(
    tmp_path: Path, kept: list[Storing], monkeypatch: pytest.MonkeyPatch, spare: bool
) -> None:
    """Handing batches over costs CPU that only an idle core pays back: on a busy machine
    the storing stays on its thread."""
    monkeypatch.setattr(storing, "spare_core", lambda: spare)
    app = site(tmp_path)
    done = ingest_files(app, [day_log(tmp_path)], "dnsmasq", "resolver")
    assert (kept[-1].pid is not None) is spare
    assert done.stored == 150


def test_a_core_is_spare_below_a_load_of_the_cores_less_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "getloadavg", lambda: (0.7, 3.0, 3.0))
    assert storing.spare_core()
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 0.1, 0.1))
    assert not storing.spare_core()


def test_an_open_connection_or_a_store_in_memory_is_not_forked(tmp_path: Path) -> None:
    app = site(tmp_path)
    with app.engine.connect():
        assert not can_fork(app.processor)
    assert can_fork(app.processor)
    app.processor.engine = create_engine("sqlite://")
    assert not can_fork(app.processor)


def _batches(app: App, path: Path) -> list[tuple[Any, BatchResult]]:
    """The file judged in batches of ``BATCH`` records, as a backfill judges them."""
    session = load_parser("dnsmasq").session()
    records = [rec for rec, _ in iter_records(path, "resolver", now=app.clock.now())]
    return [
        app.processor.judge("dnsmasq", session, records[i : i + BATCH])
        for i in range(0, len(records), BATCH)
    ]


def test_a_batch_the_process_cannot_store_is_split_here(tmp_path: Path) -> None:
    app = site(tmp_path)
    batches = _batches(app, day_log(tmp_path))
    poisoned = batches[2][0]
    poisoned.events[3]["url"] = "http://www.bbc.co.uk/\ud800"  # no column takes it
    with Storing(app.processor, separate=True) as storer:
        for pending, result in batches:
            storer.put(pending, result)
        total = storer.close()
    assert storer.pid is not None
    assert (total.stored, total.rejected) == (149, 1)
    [(offset, reason)] = rows(app.engine, 'SELECT "offset", reason FROM rejected')
    assert offset == poisoned.judged[3].origin.offset
    assert "surrogate" in reason
    assert row(app.engine, "SELECT count(*) FROM all_events") == (149 + 1,)  # and the lease


def test_a_process_that_dies_ends_the_backfill_and_reading_again_completes_it(
    tmp_path: Path,
) -> None:
    app, whole = site(tmp_path / "a"), site(tmp_path / "b")
    path = day_log(tmp_path / "a")
    ingest_files(whole, [day_log(tmp_path / "b")], "dnsmasq", "resolver", separate=False)
    batches = _batches(app, path)
    storer = Storing(app.processor, separate=True)
    storer.put(*batches[0])
    storer.put(*batches[1])
    assert storer.pid is not None
    os.kill(storer.pid, signal.SIGKILL)
    with storer, pytest.raises(RuntimeError, match="storing process ended"):
        storer.put(*batches[2])
    ingest_files(open_app(app.cfg, app.clock), [path], "dnsmasq", "resolver")
    assert stored(app) == stored(whole)


def test_the_process_is_handed_only_what_storing_reads(tmp_path: Path) -> None:
    app = site(tmp_path)
    pending, _ = _batches(app, day_log(tmp_path))[0]
    handed = lean(pending)
    assert handed.records == ()
    assert len(pending.records) == BATCH
    assert handed.events is pending.events
    assert handed.matches is pending.matches
    assert [j.event_id for j in handed.judged] == [
        j.event_id for j in pending.judged if any(d.weighty for d in j.decisions)
    ]
    assert len(handed.judged) == 1


@pytest.mark.stores
def test_a_backfill_in_a_process_on_either_store(
    app: App, tmp_path: Path, kept: list[Storing]
) -> None:
    school = site(tmp_path / "school")  # its roster, devices and lease into this store too
    for table in ("people", "devices"):
        assert rows(school.engine, f"SELECT count(*) FROM {table}") == [(1,)]
    leases = tmp_path / "school" / "leases"
    import_people(app.engine, tmp_path / "school" / "roster.csv", "office", app.clock.now())
    import_devices(app.engine, tmp_path / "school" / "devices.csv", "office", app.clock.now())
    app.engine.dispose()  # no connection of the store left open to cross the fork
    app = open_app(app.cfg, app.clock)
    ingest_files(app, [leases], "dnsmasq-leases", "leases")
    done = ingest_files(app, [day_log(tmp_path)], "dnsmasq", "resolver", separate=True)
    assert kept[-1].pid is not None
    assert (done.stored, done.alerts_opened) == (150, 1)
    assert row(app.engine, "SELECT count(*) FROM lookups") == (146,)
    assert row(app.engine, "SELECT count(*) FROM outbox") == (1,)
    again = ingest_files(open_app(app.cfg, app.clock), [day_log(tmp_path)], "dnsmasq", "resolver")
    assert (again.stored, again.duplicates) == (0, 150)


@contextlib.contextmanager
def reaped(process: Any) -> Iterator[None]:
    """Whatever the test finds, the storing process it started does not outlive it."""
    try:
        yield
    finally:
        if process.is_alive():
            process.terminate()
            process.join()


def test_the_process_ends_when_this_one_is_gone(tmp_path: Path) -> None:
    """A backfill killed (SIGKILL, or SIGTERM with no handler) closes its end of the pipe
    unasked: the storing process must see that and end, not wait for a batch forever with
    a copy of the backfill's memory and a connection to the store."""
    app = site(tmp_path)
    batches = _batches(app, day_log(tmp_path))
    storer = Storing(app.processor, separate=True)
    storer.put(*batches[0])
    storer.put(*batches[1])
    assert storer.pid is not None
    process = storer._process
    with reaped(process):
        assert storer._pipe is not None
        storer._pipe.close()  # what the kernel does to this process's pipe when it dies
        process.join(timeout=10)
        assert not process.is_alive()


def test_the_process_ends_when_the_last_batch_cannot_be_stored_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last batch refused there and then here (the store's own trouble): the error is
    raised, and the storing process is ended and reaped, not left waiting."""
    app = site(tmp_path)
    batches = _batches(app, day_log(tmp_path))[:3]
    batches[-1][0].events[3]["url"] = "http://www.bbc.co.uk/\ud800"  # no column takes it

    def trouble(*_: Any) -> BatchResult:
        raise OSError("the disk is full")

    storer = Storing(app.processor, separate=True)
    for pending, result in batches:
        storer.put(pending, result)
    process = storer._process
    monkeypatch.setattr(app.processor, "store", trouble)
    with reaped(process):
        with pytest.raises(OSError, match="disk is full"), storer:
            pass
        assert not process.is_alive()


def test_a_store_open_elsewhere_in_this_process_keeps_the_thread(
    tmp_path: Path, kept: list[Storing]
) -> None:
    app = site(tmp_path)
    url = app.engine.url.render_as_string(hide_password=False)
    assert store_held(url)  # the app's own pooled connections
    app.engine.dispose()
    assert not store_held(url)
    other = create_engine(url)
    with other.connect() as held:
        assert store_held(url)
        done = ingest_files(app, [day_log(tmp_path)], "dnsmasq", "resolver", separate=True)
        assert held.exec_driver_sql("SELECT count(*) FROM lookups").scalar() == 146
    other.dispose()
    assert kept[-1].pid is None  # stored on a thread: the open connection never crossed a fork
    assert (done.stored, done.alerts_opened) == (150, 1)
    assert not store_held("postgresql://school@localhost/monitord")
