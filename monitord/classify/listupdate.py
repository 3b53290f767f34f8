"""``monitord lists update``: fetch the configured list sources, check what came, and replace
the lists in use in one step.

Each ``[[list_updates.sources]]`` is fetched over HTTPS (a ``.tar.gz`` archive such as UT1's
``blacklists.tar.gz``, a ``.gz`` file or a plain list; certificates checked against the
system's authorities or ``ca_file``; redirects only to https; at most ``max_bytes``) or with
rsync (``rsync://``, into a mirror kept under the lists folder so that the next run fetches only
what changed). Then it is checked, and a source that fails any check is left as it was, with
one line saying why, while the other sources go ahead:

- the download's checksum, when the source gives one (``sha256``, or ``checksum_url``: a file
  in md5sum or sha256sum form naming the download's MD5, SHA-256 or SHA-512);
- the archive unpacks safely (no absolute paths, no ``..``, no links out, no devices) and its
  lists parse;
- it is not empty, and its lists together did not shrink by more than ``max_shrink``.

Every list that changed becomes a new version in one transaction, with its audit records, the
change-control record and its mail to the headteacher; the compiled index is written after,
under a new name, by rename. A list the school disabled stays disabled (its new version is
stored inactive); a list the school removed is not brought back.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import ssl
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import Engine

from monitord.classify.e2guardian import PhraseList, read_e2guardian, write_phrase_list
from monitord.classify.hostsfile import read_hosts
from monitord.classify.listadmin import (
    ACTIVE,
    DISABLED,
    REMOVED,
    Change,
    Counts,
    ListChange,
    Mailer,
    active_totals,
    list_states,
    record_change,
)
from monitord.classify.lists import (
    ListContent,
    ListError,
    Written,
    compile_index,
    read_plain,
    read_ut1,
    record_version,
    write_list,
)
from monitord.settings.config import Config
from monitord.settings.sections import ListSource

CHUNK = 1 << 20
MAX_CHECKSUM_FILE = 1 << 20
# An archive may unpack to at most this many times the largest download taken.
UNPACK_RATIO = 8
_HEX = re.compile(r"\b([0-9a-fA-F]{128}|[0-9a-fA-F]{64}|[0-9a-fA-F]{32})\b")
_ALGORITHMS = {32: "md5", 64: "sha256", 128: "sha512"}


class UpdateError(ListError):
    """A source that cannot be taken this time: one line, naming the source and why."""


@dataclass(frozen=True, slots=True)
class SourceResult:
    name: str
    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class UpdateResult:
    sources: tuple[SourceResult, ...]
    change: Change | None
    mailed: tuple[str, ...]
    index: Path | None = None

    @property
    def failed(self) -> bool:
        return any(not s.ok for s in self.sources)


class _HttpsOnly(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: Any, fp: IO[bytes], code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if not newurl.startswith("https://"):
            raise UpdateError(f"{req.full_url}: redirected to {newurl[:120]!r}, not https")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(cfg: Config) -> urllib.request.OpenerDirector:
    ca = cfg.settings.list_updates.ca_file
    context = ssl.create_default_context(cafile=str(cfg.resolve(ca)) if ca else None)
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _HttpsOnly())


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _copy(
    src: _Reader, out: IO[bytes], limit: int, too_big: str, hashes: Sequence[Any] = ()
) -> int:
    """``src`` into ``out``, at most ``limit`` bytes (UpdateError beyond); how many."""
    total = 0
    while chunk := src.read(CHUNK):
        total += len(chunk)
        if total > limit:
            raise UpdateError(f"{too_big} {limit:,} bytes")
        out.write(chunk)
        for h in hashes:
            h.update(chunk)
    return total


def download(cfg: Config, url: str, dest: Path, limit: int) -> dict[str, str]:
    """``url`` into ``dest`` (at most ``limit`` bytes); its MD5, SHA-256 and SHA-512."""
    timeout = cfg.settings.list_updates.timeout.total_seconds()
    hashes = {name: hashlib.new(name) for name in _ALGORITHMS.values()}
    request = urllib.request.Request(url, headers={"User-Agent": "monitord lists update"})
    try:
        with _opener(cfg).open(request, timeout=timeout) as resp, dest.open("wb") as out:
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise UpdateError(f"{url}: {int(length):,} bytes, more than {limit:,}")
            total = _copy(resp, out, limit, f"{url}: more than", list(hashes.values()))
    except urllib.error.HTTPError as exc:
        raise UpdateError(f"{url}: the server answered {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise UpdateError(f"{url}: cannot fetch: {exc.reason}") from None
    except (OSError, ssl.SSLError) as exc:
        raise UpdateError(f"{url}: cannot fetch: {exc}") from None
    if total == 0:
        raise UpdateError(f"{url}: the download is empty")
    return {name: h.hexdigest() for name, h in hashes.items()}


def check_sum(cfg: Config, src: ListSource, hashes: dict[str, str], work: Path) -> str:
    """How the download was checked ("" when the source gives no checksum); UpdateError
    when it does not match."""
    if src.sha256:
        if hashes["sha256"] != src.sha256:
            raise UpdateError(f"{src.url}: SHA-256 {hashes['sha256']} is not the configured one")
        return "sha256 as configured"
    if not src.checksum_url:
        return ""
    listing = work / "checksums"
    download(cfg, src.checksum_url, listing, MAX_CHECKSUM_FILE)
    text = listing.read_text(encoding="utf-8", errors="replace")
    file_name = Path(urlsplit(src.url).path).name
    lines = [ln for ln in text.splitlines() if _HEX.search(ln)]
    named = [ln for ln in lines if file_name and file_name in ln] or (
        lines if len(lines) == 1 else []
    )
    for line in named:
        for digest in _HEX.findall(line):
            algorithm = _ALGORITHMS[len(digest)]
            if hashes[algorithm] == digest.lower():
                return f"{algorithm} from {src.checksum_url}"
            raise UpdateError(
                f"{src.url}: its {algorithm.upper()} does not match {src.checksum_url}"
            )
    raise UpdateError(f"{src.checksum_url}: no checksum for {file_name or src.url} in it")


def _safe_members(tar: tarfile.TarFile, limit: int) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    total = 0
    for m in tar.getmembers():
        parts = Path(m.name).parts
        if m.name.startswith("/") or ".." in parts:
            raise UpdateError(f"archive member {m.name[:120]!r} points outside the archive")
        if m.isfile():
            total += m.size
            if total > limit:
                raise UpdateError(f"the archive unpacks to more than {limit:,} bytes")
            members.append(m)
        elif m.isdir():
            members.append(m)
        # links, devices and fifos are not list files: left out
    return members


def unpack(download_path: Path, work: Path, limit: int) -> Path:
    """The downloaded file as lists: an archive unpacked into a folder, a ``.gz`` file
    decompressed, anything else as it is."""
    with download_path.open("rb") as fh:
        magic = fh.read(2)
    try:
        if tarfile.is_tarfile(download_path):
            folder = work / "unpacked"
            folder.mkdir()
            with tarfile.open(download_path) as tar:
                tar.extractall(folder, members=_safe_members(tar, limit), filter="data")
            return folder
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UpdateError(f"the archive cannot be unpacked: {exc}") from None
    if magic == b"\x1f\x8b":
        plain = work / "list"
        try:
            with gzip.open(download_path) as src, plain.open("wb") as out:
                _copy(src, out, limit, "the file unpacks to more than")
        except (OSError, EOFError) as exc:
            raise UpdateError(f"the .gz file cannot be read: {exc}") from None
        return plain
    return download_path


def rsync(cfg: Config, src: ListSource, mirror: Path) -> Path:
    """``src.url`` mirrored into ``mirror`` with rsync; the mirror."""
    exe = shutil.which("rsync")
    if exe is None:
        raise UpdateError(f"{src.url}: rsync is not installed (Debian: apt-get install rsync)")
    mirror.mkdir(parents=True, exist_ok=True)
    settings = cfg.settings.list_updates
    seconds = int(settings.timeout.total_seconds())
    cmd = [
        exe,
        "--recursive",
        "--times",
        "--delete",
        "--no-motd",
        "--safe-links",
        f"--timeout={seconds}",
        f"--max-size={settings.max_bytes}",
        "--",
        src.url.rstrip("/") + "/" if not Path(urlsplit(src.url).path).suffix else src.url,
        str(mirror) + "/",
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        raise UpdateError(f"{src.url}: rsync took longer than {seconds} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise UpdateError(f"{src.url}: rsync failed ({done.returncode}): {last[:200]}")
    files = [p for p in mirror.rglob("*") if p.is_file()]
    if not files:
        raise UpdateError(f"{src.url}: rsync brought no files")
    return files[0] if len(files) == 1 and Path(urlsplit(src.url).path).suffix else mirror


def _ut1_root(path: Path) -> Path:
    """The folder holding UT1's category folders: the path itself or one or two levels down
    (UT1's archive unpacks to ``blacklists/``)."""
    for depth in range(3):
        pattern = "/".join(["*"] * depth) if depth else ""
        for folder in [path] if not depth else sorted(path.glob(pattern)):
            if folder.is_dir() and any((d / "domains").is_file() for d in folder.iterdir()):
                return folder
    raise UpdateError(f"{path.name}: no UT1 category folders (with domains files) in it")


def _one_file(path: Path) -> Path:
    if path.is_file():
        return path
    files = [p for p in path.rglob("*") if p.is_file()]
    if len(files) != 1:
        raise UpdateError(f"expected one list file, found {len(files)}")
    return files[0]


Item = ListContent | PhraseList


def read_source(src: ListSource, path: Path) -> tuple[list[Item], list[str]]:
    """The lists in what was fetched, named under the source's name."""
    if src.format == "ut1":
        contents, skipped = read_ut1(_ut1_root(path), src.name)
        return list(contents), skipped
    if src.format == "e2guardian":
        lists, skipped = read_e2guardian(path, src.name)
        return list(lists), skipped
    file = _one_file(path)
    if src.format == "hosts":
        content, rejected = read_hosts(file, src.category, src.name)
        return [content], rejected
    return [read_plain(file, src.format, src.category, src.name)], []


def entries(item: Item) -> int:
    if isinstance(item, PhraseList):
        return len(item.rules)
    return len(item.domains) + len(item.urls) + len(item.expressions)


def _belongs(name: str, source: str) -> bool:
    return name == source or name.startswith(source + "/")


def fetch(cfg: Config, src: ListSource, work: Path) -> tuple[list[Item], list[str]]:
    """Fetch, check the checksum, unpack and read one source; UpdateError (or ListError for
    lists that do not parse) when it cannot be used."""
    limit = cfg.settings.list_updates.max_bytes
    notes: list[str] = []
    if src.url.startswith("rsync://"):
        path = rsync(cfg, src, cfg.lists_dir / "mirror" / src.name)
    else:
        name = Path(urlsplit(src.url).path).name or "download"
        got = work / f"download-{name}"
        hashes = download(cfg, src.url, got, limit)
        how = check_sum(cfg, src, hashes, work)
        notes.append(f"checked {how}" if how else "no checksum configured")
        path = unpack(got, work, limit * UNPACK_RATIO)
    items, skipped = read_source(src, path)
    if not items or sum(entries(i) for i in items) == 0:
        raise UpdateError(f"{src.url}: no entries in it")
    return items, notes + skipped


def _shrunk(engine: Engine, cfg: Config, src: ListSource, items: Sequence[Item]) -> str:
    """Why the new lists are refused for shrinking, or ""."""
    with engine.connect() as conn:
        states = [s for s in list_states(conn) if _belongs(s.name, src.name)]
    old = sum(
        s.counts.domains + s.counts.urls + s.counts.expressions
        for s in states
        if s.state in (ACTIVE, DISABLED)
    )
    new = sum(entries(i) for i in items)
    share = cfg.settings.list_updates.max_shrink
    if old and new < old * (1 - share):
        return (
            f"{src.name}: would shrink from {old:,} to {new:,} entries, more than "
            f"max_shrink = {share:g} allows; the lists in use are kept"
        )
    return ""


def _write(lists_dir: Path, item: Item) -> Written:
    if isinstance(item, PhraseList):
        return write_phrase_list(lists_dir, item)
    return write_list(lists_dir, item)


def run_update(
    engine: Engine,
    cfg: Config,
    actor: str,
    now: datetime,
    *,
    mail: Mailer | None = None,
    only: str | None = None,
    starter_dir: Path | None = None,
) -> UpdateResult:
    """``lists update [--source NAME]``: every configured source (or one), each checked, the
    good ones swapped in together; see the module's docstring."""
    sources = cfg.settings.list_updates.sources
    if not sources:
        raise ListError("no [[list_updates.sources]] in the config: nothing to update")
    if only is not None:
        sources = [s for s in sources if s.name == only]
        if not sources:
            raise ListError(f"--source {only}: no [[list_updates.sources]] named so")
    results: list[SourceResult] = []
    ready: list[tuple[ListSource, list[Written], list[str]]] = []
    cfg.lists_dir.mkdir(parents=True, exist_ok=True)
    for src in sources:
        with tempfile.TemporaryDirectory(prefix="update-", dir=cfg.lists_dir) as tmp:
            try:
                items, notes = fetch(cfg, src, Path(tmp))
                why = _shrunk(engine, cfg, src, items)
                if why:
                    raise UpdateError(why)
                written = [_write(cfg.lists_dir, i) for i in items]
            except (ListError, OSError) as exc:
                results.append(SourceResult(src.name, False, str(exc)))
                continue
        ready.append((src, written, notes))
    changes: list[ListChange] = []
    notes_out: list[str] = []
    mailed: list[str] = []
    change: Change | None = None
    with engine.begin() as conn:
        states = {s.name: s for s in list_states(conn)}
        before = active_totals(conn)
        for src, written, notes in ready:
            changed = 0
            for w in written:
                st = states.get(w.name)
                if st is not None and st.state == REMOVED:
                    notes_out.append(f"{w.name}: removed by the school, not brought back")
                    continue
                if st is not None and st.sha256 == w.sha256:
                    continue
                active = st is None or st.state == ACTIVE
                record_version(conn, w, actor, now, active=active)
                counts = Counts(1, w.domains, w.urls, w.expressions)
                changes.append(
                    ListChange(
                        w.name,
                        w.category,
                        st.counts if st is not None and st.state == ACTIVE else None,
                        counts if active else None,
                    )
                )
                if not active:
                    notes_out.append(f"{w.name}: disabled by the school, its new version too")
                changed += 1
            what = f"{changed} of {len(written)} lists changed" if changed else "unchanged"
            detail = f" ({'; '.join(notes[:1])})" if notes else ""
            results.append(SourceResult(src.name, True, f"{what}{detail}"))
        if changes:
            after = active_totals(conn)
            change = Change("update", actor, now, tuple(changes), before, after, tuple(notes_out))
            mailed = record_change(conn, change, "lists update", mail)
    index = None
    if change is not None:
        index, _ = compile_index(engine, cfg.lists_dir, starter_dir)
    order = {s.name: i for i, s in enumerate(sources)}
    results.sort(key=lambda r: order[r.name])
    return UpdateResult(tuple(results), change, tuple(mailed), index)
