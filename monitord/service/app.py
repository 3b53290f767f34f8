"""Building a working monitord from a config: the store, lists, policy, identity and pipeline,
each handed the config and the clock rather than reaching for globals.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Engine

from alerting.manager import AlertManager
from collectors.capture import iter_packets
from collectors.files import read_batches
from collectors.parsers.base import Parser, QuietLines, Session, load_parser
from monitord.classify.content import DEFAULT_PROCESSES, ContentClassifier, ProcessIndex
from monitord.classify.e2guardian import load_phrase_lists
from monitord.classify.engine import Classifier
from monitord.classify.lists import STARTER_LISTS, lists_in_use, load_index
from monitord.classify.phrases import DEFAULT_PHRASES, load_engine
from monitord.classify.policy import Policy, policy_of
from monitord.core.clock import Clock
from monitord.core.model import RawRecord
from monitord.identity.load import load_identity
from monitord.service.batch import BatchResult
from monitord.service.pipeline import Processor
from monitord.service.storing import Storing
from monitord.settings.config import Config
from monitord.store.database import open_store


@dataclass
class App:
    cfg: Config
    engine: Engine
    clock: Clock
    policy: Policy
    processor: Processor
    lists_key: str = ""  # the lists the processor judges by (see lists_in_use)


def open_app(cfg: Config, clock: Clock, *, alerts: bool = True, backfill: bool = False) -> App:
    """``backfill``: old logs read by ``ingest --backfill``, whose old alerts are not mailed
    (``[alerts] backfill_quiet_after``)."""
    engine = open_store(cfg.database_url, site=cfg.site_id)
    policy = policy_of(cfg)
    settings = cfg.settings.identity
    identity = load_identity(
        engine,
        settings.lease_time,
        tz=cfg.tz,
        history=settings.history,
        proxy_window=settings.proxy_user_window,
        unauthorised=settings.unauthorised_ownership,
        guest_networks=settings.guest_networks,
        now=clock.now(),
    )
    key = lists_in_use(engine, STARTER_LISTS)
    classifier, content = load_judges(engine)
    manager = AlertManager(cfg, clock, policy=policy, backfill=backfill) if alerts else None
    processor = Processor(
        engine, clock, identity, classifier, policy, manager, cfg.settings.school.site_id, content
    )
    return App(cfg, engine, clock, policy, processor, key)


def load_judges(engine: Engine) -> tuple[Classifier, ContentClassifier]:
    """What judges events by the lists in use: domains and URLs, and text and programs."""
    classifier = Classifier(load_index(engine, STARTER_LISTS))
    content = ContentClassifier(
        load_engine(DEFAULT_PHRASES, load_phrase_lists(engine)),
        ProcessIndex.load(DEFAULT_PROCESSES),
    )
    return classifier, content


def batched(records: Iterable[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    batch: list[RawRecord] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# A backfill keeps no checkpoint near the lines it reads, so it stores in larger transactions:
# each index page a batch touches goes to the WAL once for more rows (storing the generated
# dnsmasq day took 20% less CPU in batches of 10,000 lines than of 2,000, no less at 40,000).
BACKFILL_BATCH = 10_000


def backfill_batch(app: App) -> int:
    """The lines a batch of ``ingest_files`` holds: ``[pipeline] batch_size``, and at least
    ``BACKFILL_BATCH``."""
    return max(app.cfg.settings.pipeline.batch_size, BACKFILL_BATCH)


# Allocations between two collections of the youngest generation while a backfill runs
# (Python's default is 700): a batch's records, events and rows live until it is handed to
# the store (10,000 lines, about 10-20 objects the collector tracks a line), so a collection
# while it is judged walks them all and frees nothing; at 10,000 that was 5-10% of judging's
# CPU and 4% of storing's (bench/RESULTS.md, seventh round). Garbage in cycles is still
# collected, once this many more objects are held than at the last collection.
BACKFILL_GC_THRESHOLD = 200_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Spare a backfill most of the cyclic garbage collector's work, and restore it after.

    A batch's objects outlive the young generations' collections, so each counts towards a
    full collection, which walks every object the process holds: the lists, the policy, the
    identity layer and the batches in flight. On the generated dnsmasq day that was a fifth
    of ingest's CPU. What was loaded before the backfill is set aside from collection while
    it runs (``gc.freeze``) and the youngest generation is collected less often; both as
    before afterwards. Nothing is kept alive that would not be: objects freed by their
    reference counts are freed as ever."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(BACKFILL_GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def ingest_files(
    app: App,
    paths: Sequence[Path],
    fmt: str,
    source: str,
    parser: Parser | None = None,
    *,
    separate: bool | None = None,
) -> BatchResult:
    """Backfill whole files (plain or .gz) through the pipeline. Alerts are created and their
    mail queued, not sent. ``separate``: store in a process of its own from the second
    batch on (True), on a thread of this one (False), or in a process when the machine has
    a core to spare (None; ``monitord.service.storing``)."""
    with fewer_collections():
        return _ingest_files(app, paths, fmt, source, parser or load_parser(fmt), separate)


def _batches(
    app: App, parser: Parser, session: Session, path: Path, source: str, size: int
) -> Iterator[tuple[list[RawRecord], int]]:
    """A file's batches of ``size`` lines: the records, and how many lines the session
    passed over as they were read (``QuietLines``)."""
    now = app.clock.now()
    if parser.needs.binary:
        for batch in batched((rec for rec, _ in iter_packets(path, source, now=now)), size):
            yield batch, 0
        return
    quiet = session.quiet if isinstance(session, QuietLines) else None
    yield from read_batches(path, source, size, quiet=quiet, now=now)


def _ingest_files(
    app: App, paths: Sequence[Path], fmt: str, source: str, parser: Parser, separate: bool | None
) -> BatchResult:
    size = backfill_batch(app)
    processor = app.processor
    # Judge the next batch while the last one is being stored: from the second batch on in
    # a process of its own when a core is spare, so that the two halves use both cores
    # (monitord.service.storing).
    with Storing(processor, separate=separate) as storer:
        batches = _every_batch(app, parser, paths, source, size)
        upcoming = next(batches, None)
        while upcoming is not None:
            session, batch, passed = upcoming
            judged, counts = processor.judge(fmt, session, batch, parser.snapshot, sifted=True)
            if passed:
                counts = replace(
                    counts, lines=counts.lines + passed, skipped=counts.skipped + passed
                )
            # The next batch read once this one is judged (as before: a session's reading
            # may follow what its judging saw), before this one is put: whether more follow.
            # A file that fails to read (a rotated one cut short) leaves this one stored.
            try:
                upcoming = next(batches, None)
            except BaseException:
                storer.put(judged, counts)
                raise
            storer.put(judged, counts, more=upcoming is not None)
        return storer.close()


def _every_batch(
    app: App, parser: Parser, paths: Sequence[Path], source: str, size: int
) -> Iterator[tuple[Session, list[RawRecord], int]]:
    """Every file's batches in turn, each with its file's session (each file has its own
    header and its own state) and how many lines were passed over as read."""
    for path in paths:
        session = parser.session()
        for batch, passed in _batches(app, parser, session, path, source, size):
            yield session, batch, passed
