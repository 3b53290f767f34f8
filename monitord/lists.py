"""Importing category lists into the store and loading them into a DomainIndex.

An import normalises the entries into files under ``[lists] dir`` and records a version row
(source, sha256, counts) plus an audit record, so the change-control log shows who changed the
filtering and when.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select, update

from monitord.categories import ALLOW, UT1_MAP, is_category
from monitord.classify import DomainIndex, canonical_host, split_url_entry
from monitord.store import audit, inserted_id, table_of
from monitord.tables import ListVersionRow

FORMATS = ("ut1", "domains", "urls")


class ListError(Exception):
    """A list that cannot be imported, with a message naming the file and what was expected."""


@dataclass(frozen=True, slots=True)
class ListContent:
    name: str
    category: str
    fmt: str
    source: str
    domains: tuple[str, ...]
    urls: tuple[str, ...]
    sha256: str


def _entries(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        s = line.strip()
        if s and not s.startswith("#"):
            yield s


def _read_joined(folder: Path, stem: str) -> tuple[list[str], bytes]:
    """A list file and its numbered parts (``domains.0``, ``domains.1`` ...) joined before
    splitting into lines, since a line may straddle two parts."""
    parts: list[Path] = []
    if (folder / stem).is_file():
        parts.append(folder / stem)
    numbered = [p for p in folder.glob(f"{stem}.*") if p.suffix[1:].isdigit()]
    parts += sorted(numbered, key=lambda p: int(p.suffix[1:]))
    data = b"".join(p.read_bytes() for p in parts)
    return list(_entries(data.decode("utf-8", "replace").splitlines())), data


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
        domains, dbytes = _read_joined(folder, "domains")
        urls, ubytes = _read_joined(folder, "urls")
        if not domains and not urls:
            skipped.append(f"{folder.name}: no domains or urls file")
            continue
        digest = hashlib.sha256(dbytes + b"\0" + ubytes).hexdigest()
        found.append(
            ListContent(
                f"{name}/{folder.name}",
                category,
                "ut1",
                str(folder),
                tuple(domains),
                tuple(urls),
                digest,
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
    entries = list(_entries(data.decode("utf-8", "replace").splitlines()))
    digest = hashlib.sha256(data).hexdigest()
    if fmt == "domains":
        return ListContent(name, category, fmt, str(path), tuple(entries), (), digest)
    return ListContent(name, category, fmt, str(path), (), tuple(entries), digest)


def _safe_file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def store_list(
    engine: Engine, lists_dir: Path, content: ListContent, actor: str, now: datetime
) -> int:
    """Write the normalised entries and a new active version; return the version id."""
    lists_dir.mkdir(parents=True, exist_ok=True)
    base = lists_dir / f"{_safe_file_name(content.name)}.{content.sha256[:12]}"
    domains = sorted({canonical_host(d) for d in content.domains} - {""})
    urls = sorted({"/".join(split_url_entry(u)).rstrip("/") for u in content.urls})
    text = "".join(f"D {d}\n" for d in domains) + "".join(f"U {u}\n" for u in urls)
    tmp = base.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    final = base.with_suffix(".list")
    tmp.replace(final)
    table = table_of(ListVersionRow)
    with engine.begin() as conn:
        previous = conn.execute(
            select(table.c.id, table.c.domains, table.c.urls).where(
                table.c.name == content.name, table.c.active.is_(True)
            )
        ).first()
        conn.execute(update(table).where(table.c.name == content.name).values(active=False))
        result = conn.execute(
            table.insert().values(
                name=content.name,
                category=content.category,
                fmt=content.fmt,
                source=content.source,
                sha256=content.sha256,
                domains=len(domains),
                urls=len(urls),
                expressions=0,
                path=str(final),
                imported_at=now,
                imported_by=actor,
                active=True,
            )
        )
        version_id = inserted_id(result)
        audit(
            conn,
            actor,
            "list.import",
            content.name,
            {
                "category": content.category,
                "sha256": content.sha256,
                "domains": len(domains),
                "urls": len(urls),
                "previous_domains": previous.domains if previous else None,
                "previous_urls": previous.urls if previous else None,
            },
            now=now,
        )
    return version_id


def _load_file(index: DomainIndex, path: Path, category: str, name: str) -> None:
    domains: list[str] = []
    urls: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("D "):
                domains.append(line[2:].rstrip("\n"))
            elif line.startswith("U "):
                urls.append(line[2:].rstrip("\n"))
    index.add_domains(domains, category, name)
    index.add_urls(urls, category, name)


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


def load_index(engine: Engine, starter_dir: Path | None) -> DomainIndex:
    """Every active imported list plus the starter lists, in one index."""
    index = DomainIndex()
    if starter_dir is not None and starter_dir.is_dir():
        for path in sorted(starter_dir.glob("*.txt")):
            category, entries = read_starter(path)
            name = f"starter/{path.stem}"
            index.add_domains((e for e in entries if "/" not in e), category, name)
            index.add_urls((e for e in entries if "/" in e), category, name)
    table = table_of(ListVersionRow)
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.name, table.c.category, table.c.path).where(table.c.active.is_(True))
        ).all()
    for name, category, path in rows:
        p = Path(path)
        if p.is_file():
            _load_file(index, p, category, name)
    return index
