"""Storing a backfill's judged batches beside its judging, in order, one batch in flight.

Judging is Python, and so is most of storing (rows, keys, blocks, alerts around SQLite's or
PostgreSQL's own work). On two threads of one process they held the GIL in turn: the
generated dnsmasq day took 2.05 s by the clock for 2.01 CPU s. So a backfill of more than
one batch stores from its second batch on in a process of its own, forked from this one (it
has the processor as it is: the store's engine, the alert manager, the clock), and hands it
each judged batch through a pipe, leaner than it was judged: the rows, matches, leases,
updates and counts, and only the judged events whose decisions open an alert or are
exemptions (those are all alerts read; records and the rest are what splitting a refused
batch needs, and that is done here). A batch the process could not store (a value no
column takes, an error in one record's alerts) was rolled back there and is stored here, as
``Processor.store`` does, split to the records at fault; trouble with the store itself is
raised here the same way.
A process that ends without answering ends the backfill with an error: what it had
committed stays, and reading the files again adds nothing (event ids).

The first batch goes to the process too when the backfill says another follows it (``put``'s
``more``), and is stored on a thread otherwise, so that a file of one batch (the demo, a
test, a small log) forks nothing. A store in memory, a process with other threads running
(forking those is unsafe) or a connection of the store held open elsewhere keeps the
thread throughout; so does a machine with no core to spare (its load average at least its
cores less one), unless asked: handing a batch over costs CPU (pickling its rows, about 4 µs
an event here, and the pages the fork shares being copied), about 15% more in all, which
only a core that would otherwise be idle pays back (bench/RESULTS.md)."""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import pickle
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from monitord.service.batch import BatchResult, Judgement
from monitord.service.batchrows import error_text
from monitord.service.pipeline import Processor
from monitord.store.database import sqlite_file, store_files

log = logging.getLogger("monitord.service.storing")


def lean(pending: Judgement) -> Judgement:
    """What the storing process needs of a judged batch (``Processor.commit``): the judged
    events whose decisions open or grow an alert or are exemptions (the alerts read nothing
    else; a decision that only labels its event is in its row), no records. Each judged
    event handed over costs about 100 µs to pickle (its frozen dataclasses' state is read
    field by field): an allow list's or a low category's decisions, one event in eight of
    the generated Pi-hole day, made the handing over cost as much as the storing saved."""
    return Judgement(
        pending.events,
        pending.rejected,
        pending.matches,
        pending.leases,
        [j for j in pending.judged if any(d.weighty for d in j.decisions)],
        pending.updates,
        pending.counts,
        pending.source,
        pending.updates_from,
        (),
        pending.fmt,
    )


def can_fork(processor: Processor) -> bool:
    """Whether the storing may move to a forked process: the store is a file or a server
    (not memory), this process runs no other thread, and no connection is checked out of
    the store's pool (a SQLite connection must not cross a fork)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    engine = processor.engine
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite" and sqlite_file(url) is None:
        return False
    checked_out = getattr(engine.pool, "checkedout", None)
    if checked_out is not None and checked_out() != 0:
        return False
    return threading.active_count() == 1


def store_held(url: str) -> bool:
    """Whether this process holds a SQLite store's files open (a connection of another
    engine, or one not given back): such a connection must not cross a fork, since SQLite's
    locks are the process's and closing it in either process could release the other's.
    Read from /proc/self/fd; where that cannot be read, held (the thread is kept)."""
    db = sqlite_file(url)
    if db is None:
        return False
    files = {str(f.resolve()) for f in store_files(db)}
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return True
    for fd in fds:
        with contextlib.suppress(OSError):  # an fd closed while listing
            if os.readlink(f"/proc/self/fd/{fd}") in files:
                return True
    return False


def spare_core() -> bool:
    """Whether this machine has a core that nothing else is using (by its load average)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return os.getloadavg()[0] < (cores or 1) - 1


def _serve(processor: Processor, conn: Connection, parents: Connection) -> None:
    """The storing process: commit each batch received, in order, and answer with what it
    came to, or that it failed (rolled back). ``parents``: the backfill's end of the pipe,
    a copy the fork gave this process, closed so that the backfill's end closing (it
    ended, or was killed) ends this process."""
    parents.close()
    processor.engine.dispose(close=False)  # the pool's connections, if any, are the parent's
    # What the fork copied (the judging's state, the batch before) lives as long as this
    # process: set aside from collection, so that none walks it (nor copies its pages).
    gc.freeze()
    while True:
        try:
            blob = conn.recv_bytes()
        except EOFError:
            return
        if not blob:
            return
        pending, result = pickle.loads(blob)
        try:
            done = processor.commit(pending, result)
        except Exception as exc:
            conn.send(("failed", error_text(exc)))
            continue
        conn.send(("stored", done))


class Storing:
    """A backfill's storer: ``put`` each judged batch in order; ``close`` (or leaving the
    ``with``) waits for the last and returns the total. ``separate``: store in a process
    from the second batch on whenever this process may fork (True), never (False), or when
    a core is also spare (None)."""

    def __init__(self, processor: Processor, *, separate: bool | None = None) -> None:
        self.processor = processor
        self.separate = separate
        self.total = BatchResult()
        self._thread: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="store"
        )
        self._future: Future[BatchResult] | None = None
        self._process: Any = None
        self._pipe: Connection | None = None
        self._sent: tuple[Judgement, BatchResult] | None = None
        self.pid: int | None = None  # the storing process's, once there is one

    def __enter__(self) -> Storing:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        else:
            self._stop()

    def put(self, pending: Judgement, result: BatchResult, *, more: bool = False) -> None:
        """Store ``pending`` after the batches put before it; return once the one before it
        is stored (its error raised here). ``more``: another batch follows this one, so that
        the first may go to the process straight away (on a thread, its storing would take
        turns at the GIL with the judging of the second)."""
        if self._pipe is None and self.separate is not False and (more or self._future is not None):
            self._wait()  # the first batch of more, or the second: no batch on the thread
            self._move()
        if self._pipe is not None:
            blob = pickle.dumps((lean(pending), result), protocol=pickle.HIGHEST_PROTOCOL)
            self._wait()
            self._pipe.send_bytes(blob)
            self._sent = (pending, result)
            return
        self._wait()
        assert self._thread is not None
        self._future = self._thread.submit(self.processor.store, pending, result)

    def close(self) -> BatchResult:
        try:
            self._wait()
        finally:
            self._stop()  # the process ended and reaped, whatever the last batch came to
        return self.total

    def _forking(self) -> bool:
        """Whether to store in a process from now on (decided once, when the first batch
        of more, or the second, is put): asked for, or a core is spare, and this process
        may fork with no connection of the store held open (one of this engine's is given
        back first)."""
        wanted = self.separate is True or spare_core()
        self.separate = False
        if not wanted or not can_fork(self.processor):
            return False
        engine = self.processor.engine
        engine.dispose()  # no connection of this process crosses the fork
        if store_held(engine.url.render_as_string(hide_password=False)):
            log.info("the store is open elsewhere in this process: storing on a thread")
            return False
        return True

    def _move(self) -> None:
        """Store in a process of its own from now on, if ``_forking`` says so; else on a
        thread as before."""
        assert self._thread is not None
        self._thread.shutdown(wait=True)
        self._thread = None
        if not self._forking():
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
            return
        context = multiprocessing.get_context("fork")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve, args=(self.processor, theirs, ours), name="monitord-store", daemon=True
        )
        process.start()
        theirs.close()
        self._process, self._pipe, self.pid = process, ours, process.pid

    def _wait(self) -> None:
        """Wait for the batch in flight, if any, and add what it came to."""
        if self._future is not None:
            future, self._future = self._future, None
            self.total = self.total + future.result()
        if self._sent is None or self._pipe is None:
            return
        pending, result = self._sent
        self._sent = None
        try:
            answer, value = self._pipe.recv()
        except (EOFError, OSError) as exc:
            raise RuntimeError(
                "the storing process ended without storing a batch: ingest again to store "
                "the rest (nothing is stored twice)"
            ) from exc
        if answer == "failed":
            log.warning("a batch failed to store (%s): storing it here", value)
            value = self.processor.store(pending, result)
        self.total = self.total + value

    def _stop(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        if self._pipe is None:
            return
        with contextlib.suppress(OSError):  # a process that ended has nothing to finish
            self._pipe.send_bytes(b"")
        self._process.join(timeout=600)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._pipe.close()
        self._pipe = self._process = None
