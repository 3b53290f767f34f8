"""Importing category lists into the store and loading them into a DomainIndex.

An import normalises the entries into files under ``[lists] dir`` and records a version row
(source, sha256, counts) plus an audit record, so the change-control log shows who changed the
filtering and when.

Every active list, with the starter lists, is compiled into one index file beside them
(``index-<key>.mdi``, see :mod:`monitord.classify.hostindex`), named by a hash of what went into it:
``lists import`` writes it, and start-up maps it in a few milliseconds instead of reading
millions of lines. A start-up that finds no index for the current lists builds and writes one.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, select, update

from monitord.classify.engine import DomainIndex, canonical_host, split_url_entry
from monitord.classify.hostindex import MAGIC, IndexFileError, ListInfo
from monitord.core.categories import ALLOW, UT1_MAP, is_category
from monitord.core.paths import DEFAULTS
from monitord.store.database import audit, inserted_id, table_of
from monitord.store.tables import ListVersionRow

# The lists the project writes itself, used with every imported list.
STARTER_LISTS = DEFAULTS / "lists"
INDEX_GLOB = "index-*.mdi"


_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
DOMAIN_RE = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})+")

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_SPACE = re.compile(r"\s")

# Why a line of a domain or URL list cannot be used, as the import reports it.
URL_IN_DOMAINS = "a URL, not a domain (import URL lists with --format urls)"
HAS_SPACE = "has spaces in it"
BAD_WILDCARD = "a wildcard other than a leading '*.'"
NOT_A_NAME = "not a domain name or address"


class ListError(Exception):
    """A list that cannot be imported, with a message naming the file and what was expected."""


@dataclass(frozen=True, slots=True)
class Unusable:
    """A line of a list that was left out: its number, why, and (shortened) what it said."""

    line: int
    why: str
    text: str


@dataclass(frozen=True, slots=True)
class ListContent:
    name: str
    category: str
    fmt: str
    source: str
    domains: tuple[str, ...]
    urls: tuple[str, ...]
    sha256: str
    expressions: tuple[str, ...] = ()
    unusable: tuple[Unusable, ...] = ()


def _numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(lines, 1):
        s = line.strip()
        if s and not s.startswith("#"):
            yield number, s


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def domain_entry(entry: str) -> tuple[str, str]:
    """A domain list's line as (canonical domain, "") or ("", why it cannot be used).

    ``*.example.com`` and ``.example.com`` are suffixes: they are stored as ``example.com``,
    which matches the name and every name under it. IP addresses are kept as they are."""
    if _SPACE.search(entry):
        return "", HAS_SPACE
    if "://" in entry or "/" in entry:
        return "", URL_IN_DOMAINS
    host = canonical_host(entry.removeprefix("*.").removeprefix("."))
    if DOMAIN_RE.fullmatch(host) and not host.rsplit(".", 1)[-1].isdigit():
        return host, ""
    if _is_address(host):
        return host, ""
    if "*" in host:
        return "", BAD_WILDCARD
    return "", NOT_A_NAME


def url_entry(entry: str) -> tuple[str, str]:
    """A URL list's line as (``host/path``, "") or ("", why it cannot be used)."""
    if _SPACE.search(entry):
        return "", HAS_SPACE
    host, path = split_url_entry(entry)
    if DOMAIN_RE.fullmatch(host) or _is_address(host):
        return host + path, ""
    return "", NOT_A_NAME


def _usable(
    numbered: Iterable[tuple[int, str]], check: Callable[[str], tuple[str, str]]
) -> tuple[list[str], list[Unusable]]:
    kept: list[str] = []
    unusable: list[Unusable] = []
    # Most lines of a domain list are already canonical names: taken as they are.
    plain = check is domain_entry
    for number, entry in numbered:
        if plain and (
            (DOMAIN_RE.fullmatch(entry) and not entry[entry.rfind(".") + 1 :].isdigit())
            or _IPV4.fullmatch(entry)
        ):
            kept.append(entry)
            continue
        value, why = check(entry)
        if why:
            unusable.append(Unusable(number, why, entry[:80]))
        else:
            kept.append(value)
    return kept, unusable


def unusable_summary(content: ListContent, examples: int = 3) -> list[str]:
    """What an import says about the lines of ``content`` it left out: their count by reason
    on one line, then the first few."""
    if not content.unusable:
        return []
    counts = Counter(u.why for u in content.unusable)
    total = len(content.unusable)
    lines = [
        f"{content.name}: {total:,} line{'s' if total != 1 else ''} not stored: "
        + "; ".join(f"{n:,} {why}" for why, n in counts.most_common())
    ]
    lines += [
        f"{content.name}: line {u.line}: {u.text!r}: {u.why}" for u in content.unusable[:examples]
    ]
    return lines


def _read_joined(folder: Path, stem: str) -> tuple[list[str], bytes]:
    """A list file and its numbered parts (``domains.0``, ``domains.1`` ...) joined before
    splitting into lines, since a line may straddle two parts."""
    parts: list[Path] = []
    if (folder / stem).is_file():
        parts.append(folder / stem)
    numbered = [p for p in folder.glob(f"{stem}.*") if p.suffix[1:].isdigit()]
    parts += sorted(numbered, key=lambda p: int(p.suffix[1:]))
    data = b"".join(p.read_bytes() for p in parts)
    return data.decode("utf-8", "replace").splitlines(), data


def read_ut1(root: Path, name: str) -> tuple[list[ListContent], list[str]]:
    """Every mapped category folder of a UT1 tree; also the folders left out and why."""
    if not root.is_dir():
        raise ListError(f"{root}: not a directory (expected a UT1 'blacklists' tree)")
    found: list[ListContent] = []
    skipped: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        category = UT1_MAP.get(folder.name)
        if category is None:
            skipped.append(f"{folder.name}: no category of the school's policy maps to it")
            continue
        dlines, dbytes = _read_joined(folder, "domains")
        ulines, ubytes = _read_joined(folder, "urls")
        expressions, ebytes = _read_joined(folder, "expressions")
        expressions = [s for _, s in _numbered(expressions)]
        domains, dbad = _usable(_numbered(dlines), domain_entry)
        urls, ubad = _usable(_numbered(ulines), url_entry)
        if not domains and not urls and not expressions:
            skipped.append(f"{folder.name}: no domains, urls or expressions file")
            continue
        digest = hashlib.sha256(
            dbytes + b"\0" + ubytes + (b"\0" + ebytes if ebytes else b"")
        ).hexdigest()
        found.append(
            ListContent(
                f"{name}/{folder.name}",
                category,
                "ut1",
                str(folder),
                tuple(domains),
                tuple(urls),
                digest,
                tuple(expressions),
                tuple(dbad + ubad),
            )
        )
    if not found:
        raise ListError(f"{root}: no UT1 category folders with domains or urls files found")
    return found, skipped


def read_plain(path: Path, fmt: str, category: str, name: str) -> ListContent:
    """A plain ``domains`` or ``urls`` list, one entry a line, for one category."""
    if not is_category(category) and category != ALLOW:
        raise ListError(f"--category {category!r} is not a category id (see TAXONOMY.md)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ListError(f"{path}: cannot read: {exc.strerror}") from None
    numbered = _numbered(data.decode("utf-8", "replace").splitlines())
    entries, unusable = _usable(numbered, domain_entry if fmt == "domains" else url_entry)
    if not entries:
        raise ListError(
            f"{path}: no usable {fmt} in it" + (f" ({unusable[0].why})" if unusable else "")
        )
    digest = hashlib.sha256(data).hexdigest()
    kept = tuple(entries)
    if fmt == "domains":
        return ListContent(name, category, fmt, str(path), kept, (), digest, (), tuple(unusable))
    return ListContent(name, category, fmt, str(path), (), kept, digest, (), tuple(unusable))


def safe_file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


@dataclass(frozen=True, slots=True)
class Written:
    """A list's stored file, ready to become a version of its name (:func:`record_version`)."""

    name: str
    category: str
    fmt: str
    source: str
    sha256: str
    path: Path
    domains: int = 0
    urls: int = 0
    expressions: int = 0
    rejected_lines: int = 0


def write_list(lists_dir: Path, content: ListContent) -> Written:
    """The normalised entries of ``content`` in their file under ``lists_dir``."""
    lists_dir.mkdir(parents=True, exist_ok=True)
    base = lists_dir / f"{safe_file_name(content.name)}.{content.sha256[:12]}"
    domains = sorted({canonical_host(d) for d in content.domains} - {""})
    urls = sorted({"".join(split_url_entry(u)) for u in content.urls} - {""})
    expressions = list(dict.fromkeys(e for e in content.expressions if "\n" not in e))
    # Domains first, then URLs, then expressions: the loader takes the domain block whole.
    text = (
        "".join(f"D {d}\n" for d in domains)
        + "".join(f"U {u}\n" for u in urls)
        + "".join(f"E {e}\n" for e in expressions)
    )
    final = base.with_suffix(".list")
    write_atomically(final, text)
    return Written(
        content.name,
        content.category,
        content.fmt,
        content.source,
        content.sha256,
        final,
        len(domains),
        len(urls),
        len(expressions),
        len(content.unusable),
    )


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def record_version(
    conn: Connection, w: Written, actor: str, now: datetime, *, active: bool = True
) -> int:
    """``w`` as the newest version of its list, in the caller's transaction, with its audit
    record; the version id. Active unless ``active`` is False (a list the school disabled
    stays disabled when its source is updated)."""
    table = table_of(ListVersionRow)
    previous = conn.execute(
        select(table.c.domains, table.c.urls, table.c.expressions).where(
            table.c.name == w.name, table.c.active.is_(True)
        )
    ).first()
    conn.execute(update(table).where(table.c.name == w.name).values(active=False))
    result = conn.execute(
        table.insert().values(
            name=w.name,
            category=w.category,
            fmt=w.fmt,
            source=w.source,
            sha256=w.sha256,
            domains=w.domains,
            urls=w.urls,
            expressions=w.expressions,
            path=str(w.path),
            imported_at=now,
            imported_by=actor,
            active=active,
        )
    )
    version_id = inserted_id(result)
    detail: dict[str, object] = {
        "category": w.category,
        "format": w.fmt,
        "sha256": w.sha256,
        "domains": w.domains,
        "urls": w.urls,
        "expressions": w.expressions,
        "rejected_lines": w.rejected_lines,
        "active": active,
    }
    for key in ("domains", "urls", "expressions"):
        detail[f"previous_{key}"] = getattr(previous, key) if previous else None
    audit(conn, actor, "list.import", w.name, detail, now=now)
    return version_id


def store_list(
    engine: Engine, lists_dir: Path, content: ListContent, actor: str, now: datetime
) -> int:
    """Write the normalised entries and a new active version; return the version id."""
    written = write_list(lists_dir, content)
    with engine.begin() as conn:
        return record_version(conn, written, actor, now)


def _load_file(index: DomainIndex, path: Path, info: ListInfo) -> None:
    """A stored list file into the index: the domain block as it is (already canonical, one
    name a line), then URLs and expressions."""
    data = path.read_bytes()
    end = len(data)
    for marker in (b"U ", b"E "):
        if data.startswith(marker):
            end = 0
        at = data.find(b"\n" + marker)
        if at >= 0:
            end = min(end, at + 1)
    block = data[:end]
    lid = index.add_list(info)
    if block.startswith(b"D "):
        index.builder.add_host_lines(lid, block[2:].replace(b"\nD ", b"\n"))
    urls: list[str] = []
    expressions: list[str] = []
    for line in data[end:].decode("utf-8", "replace").splitlines():
        if line.startswith("U "):
            urls.append(line[2:])
        elif line.startswith("E "):
            expressions.append(line[2:])
    index.add_urls(urls, info.category, info.name)
    index.add_expressions(expressions, info.category, info.name)


def read_starter(path: Path) -> tuple[str, list[str]]:
    """A starter list shipped in ``config/lists``: ``# category: ID`` then one domain a line."""
    category = ""
    entries: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if s.startswith("# category:"):
            category = s.split(":", 1)[1].strip()
        elif s and not s.startswith("#"):
            entries.append(s)
    if not is_category(category) and category != ALLOW:
        raise ListError(f"{path}: first line must be '# category: ID' with a category id")
    return category, entries


@dataclass(frozen=True, slots=True)
class _Sources:
    """What one compiled index is made of."""

    starters: list[tuple[Path, str, list[str], str]]  # path, category, entries, sha256
    rows: list[tuple[int, str, str, str, str, str, datetime]]
    key: str


def _sources(engine: Engine, starter_dir: Path | None) -> _Sources:
    starters: list[tuple[Path, str, list[str], str]] = []
    if starter_dir is not None and starter_dir.is_dir():
        for path in sorted(starter_dir.glob("*.txt")):
            category, entries = read_starter(path)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            starters.append((path, category, entries, digest))
    table = table_of(ListVersionRow)
    with engine.connect() as conn:
        rows = [
            (r.id, r.name, r.category, r.fmt, r.sha256, r.path, r.imported_at)
            for r in conn.execute(
                select(
                    table.c.id,
                    table.c.name,
                    table.c.category,
                    table.c.fmt,
                    table.c.sha256,
                    table.c.path,
                    table.c.imported_at,
                )
                .where(table.c.active.is_(True))
                .order_by(table.c.name)
            )
        ]
    # Domain and URL lists are the ".list" files store_list writes (phrase lists live in the
    # same table with files of their own).
    rows = [r for r in rows if r[5].endswith(".list") and Path(r[5]).is_file()]
    what = {
        "format": MAGIC.decode(),
        "starters": [(p.stem, c, d) for p, c, _, d in starters],
        "lists": [(i, n, c, s, p) for i, n, c, _, s, p, _ in rows],
    }
    key = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]
    return _Sources(starters, rows, key)


def _build(src: _Sources) -> DomainIndex:
    index = DomainIndex()
    for path, category, entries, digest in src.starters:
        name = f"starter/{path.stem}"
        index.add_list(ListInfo(name, category, None, digest, None, "starter"))
        index.add_domains((e for e in entries if "/" not in e), category, name)
        index.add_urls((e for e in entries if "/" in e), category, name)
    for vid, name, category, fmt, sha, file, imported_at in src.rows:
        when = imported_at.isoformat() if imported_at is not None else None
        _load_file(index, Path(file), ListInfo(name, category, vid, sha, when, fmt))
    return index


def index_path(lists_dir: Path, engine: Engine, starter_dir: Path | None) -> Path:
    """Where the compiled index of the current lists is (or would be)."""
    return lists_dir / f"index-{_sources(engine, starter_dir).key}.mdi"


def load_index(
    engine: Engine, starter_dir: Path | None, lists_dir: Path | None = None
) -> DomainIndex:
    """Every active imported list plus the starter lists, in one index: the compiled file for
    exactly these lists when there is one, else built now and written under ``lists_dir``
    (by default the folder of the stored lists) for the next start. With no imported list the
    starter lists are built in memory (they are small)."""
    src = _sources(engine, starter_dir)
    folder = lists_dir
    if folder is None and src.rows:
        folder = Path(src.rows[0][5]).parent
    if folder is None or not src.rows:
        return _build(src)
    path = folder / f"index-{src.key}.mdi"
    if path.is_file():
        try:
            return DomainIndex.open(path)
        except (IndexFileError, OSError, ValueError, KeyError):
            pass  # damaged or from another version: build it again
    index = _build(src)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        index.save(path)
    except OSError:
        return index  # a read-only folder: run from memory
    _remove_other_indexes(folder, keep=path)
    return DomainIndex.open(path)


def _remove_other_indexes(folder: Path, keep: Path) -> None:
    """Older compiled indexes (a running daemon keeps its mapping of an unlinked file)."""
    for old in folder.glob(INDEX_GLOB):
        if old != keep:
            old.unlink(missing_ok=True)


def lists_in_use(engine: Engine, starter_dir: Path | None) -> str:
    """A key that changes whenever the lists in use do (an import, remove, disable, enable or
    update of any format, or a starter list edited): a running daemon compares it."""
    table = table_of(ListVersionRow)
    with engine.connect() as conn:
        ids = list(
            conn.execute(
                select(table.c.id).where(table.c.active.is_(True)).order_by(table.c.id)
            ).scalars()
        )
    starters = []
    if starter_dir is not None and starter_dir.is_dir():
        for p in sorted(starter_dir.glob("*.txt")):
            st = p.stat()
            starters.append((p.name, st.st_size, st.st_mtime_ns))
    return hashlib.sha256(json.dumps([ids, starters]).encode()).hexdigest()[:16]


def has_no_imported(engine: Engine) -> bool:
    """No imported domain or URL list is in use (the starter lists alone)."""
    return not _sources(engine, None).rows


def compile_index(
    engine: Engine, lists_dir: Path, starter_dir: Path | None
) -> tuple[Path | None, DomainIndex]:
    """Write the compiled index of the current lists (``lists import`` does, so that the
    daemon's start only maps it); returns its path (None when it lives in memory only: no
    imported list, or a folder monitord cannot write) and the index."""
    index = load_index(engine, starter_dir, lists_dir)
    return index.compiled.path, index


def sample_names(
    engine: Engine, starter_dir: Path | None, per_category: int = 3
) -> dict[str, list[tuple[str, str]]]:
    """A few domain names of each category the active lists hold, as (name, list): the first
    of each list, imported lists before the starter lists. For testing the school's filter."""
    src = _sources(engine, starter_dir)
    out: dict[str, list[tuple[str, str]]] = {}

    def take(category: str, names: Iterable[str], list_name: str) -> None:
        got = out.setdefault(category, [])
        for name in names:
            if len(got) >= per_category:
                return
            if "/" not in name and not _is_address(name) and name not in (n for n, _ in got):
                got.append((name, list_name))

    for _, name, category, _, _, file, _ in src.rows:
        if category == ALLOW:
            continue
        with open(file, "rb") as fh:
            lines = (raw.decode("utf-8", "replace").rstrip("\n") for raw in fh)
            take(category, (ln[2:] for ln in itertools.takewhile(_domain_line, lines)), name)
    for path, category, entries, _ in src.starters:
        if category != ALLOW:
            take(category, entries, f"starter/{path.stem}")
    return out


def _domain_line(line: str) -> bool:
    return line.startswith("D ")
