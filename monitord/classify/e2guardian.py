"""Weighted phrase lists in e2guardian's format: reading, importing and storing them.

The format, one phrase rule a line::

    #listcategory: "Pornography"         the list's name as e2guardian shows it
    .Include<@E2CONFDIR@/lists/phraselists/ukenglish/goodphrases/weighted>
    <slut><10>                           10 for the string, anywhere (also in "abslutxyz")
    < slut ><10>                         10 for the word: a space inside < > is a word boundary
    <slut>,<horny><50>                   50 when both are in the text (co-occurrence)
    <breast>,<medical><-30>              a negative weight lowers the total
    < slut ><10%>                        10 per cent of the age band's limit
    < slut >                             in a ``banned`` list: no weight, always over the limit

The project's own lists (``config/phrases``) use the same format plus directives that
e2guardian reads as comments: ``#kind: support`` marks the rules after it as a pupil looking
for help (Childline, "how to stop ..."), ``#kind: education`` as lesson or homework context,
``#kind: risk`` goes back to ordinary rules; ``#type: banned`` makes the lines after it banned
phrases (used in stored lists).

A line that cannot be read is left out and reported with its number and why; reading never
stops on one. Imported lists are mapped to the categories of TAXONOMY.md by their folder name
(``ukenglish/pornography/weighted`` -> pornography), then by their ``#listcategory``; the
mapping can be overridden, and a list nothing maps to is left out with the reason.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select

from monitord.classify.lists import (
    ListError,
    Written,
    record_version,
    safe_file_name,
    write_atomically,
)
from monitord.core.categories import ALLOW, is_category
from monitord.core.textnorm import normalise
from monitord.store.database import table_of
from monitord.store.tables import ListVersionRow

# The ``fmt`` of the list versions this module stores (``monitord lists import --format``).
FORMAT = "e2guardian"

# e2guardian phrase list folders -> categories of the school's policy (TAXONOMY.md).
E2GUARDIAN_MAP: dict[str, str] = {
    "pornography": "pornography",
    "adult": "pornography",
    "nudism": "pornography",
    "violence": "violence",
    "gore": "violence",
    "weapons": "violence",
    "illegaldrugs": "drugs",
    "drugadvocacy": "drugs",
    "intolerance": "hate_speech",
    "gambling": "gambling",
    "proxies": "filter_bypass",
    "proxy": "filter_bypass",
    "warezhacking": "piracy",
    "personals": "dating",
    "chat": "messaging",
    "games": "gaming",
    "onlinegames": "gaming",
    "kidstimewasting": "gaming",
    "goodphrases": ALLOW,
    "goodsites": ALLOW,
}

RISK = "risk"
SUPPORT = "support"
EDUCATION = "education"
BANNED = "banned"
KINDS = (RISK, SUPPORT, EDUCATION)

WEIGHTED = "weighted"
LIST_TYPES = (WEIGHTED, BANNED)

MAX_LINE = 4096
MAX_WEIGHT = 100_000
MAX_INCLUDE_DEPTH = 16

_WEIGHT = re.compile(r"(-?\d+)(%?)")
_INCLUDE = re.compile(r"\.include\s*<([^<>]*)>", re.IGNORECASE)
_LISTCATEGORY = re.compile(r"#\s*listcategory\s*:\s*\"?([^\"]*)\"?", re.IGNORECASE)
_DIRECTIVE = re.compile(r"#\s*(kind|type)\s*:\s*([A-Za-z_]+)\s*$", re.IGNORECASE)


# Two rules with the same key are one rule (see rule_key).
RuleKey = tuple[frozenset[tuple[bool, str, bool]], str]


class PhraseListError(ListError):
    """A phrase list that cannot be imported at all (not found, nothing in it to import)."""


@dataclass(frozen=True, slots=True)
class PhraseRule:
    """One line of a phrase list.

    ``phrases`` are the texts inside ``< >`` as written, boundary spaces kept; more than one
    is a co-occurrence. ``weight`` is a score, or a percentage of the age band's limit when
    ``percent``; ``kind`` is risk, support, education, or banned (no weight: always over).
    """

    phrases: tuple[str, ...]
    weight: int = 0
    percent: bool = False
    kind: str = RISK
    line: int = 0

    @property
    def display(self) -> str:
        """The rule as a person reads it: ``self harm + without anyone knowing``."""
        return " + ".join(p.strip() for p in self.phrases)

    def source(self) -> str:
        """The rule written back in the list format."""
        body = ",".join(f"<{p}>" for p in self.phrases)
        if self.kind == BANNED:
            return body
        return f"{body}<{self.weight}{'%' if self.percent else ''}>"


@dataclass(frozen=True, slots=True)
class ParsedPhrases:
    """What one file's text holds."""

    rules: tuple[PhraseRule, ...] = ()
    rejected: tuple[str, ...] = ()
    includes: tuple[tuple[int, str], ...] = ()
    listcategory: str = ""


@dataclass(frozen=True, slots=True)
class PhraseList:
    """A phrase list ready for the engine: its rules, its category and where it came from."""

    name: str
    category: str
    rules: tuple[PhraseRule, ...]
    source: str = ""
    listcategory: str = ""
    sha256: str = ""
    rejected: tuple[str, ...] = field(default=(), compare=False)

    @property
    def allow(self) -> bool:
        return self.category == ALLOW


def _phrase_ok(inner: str) -> str | None:
    """Why a phrase cannot be used, or None."""
    if not inner.strip():
        return "empty phrase '<>'"
    if not normalise(inner):
        return f"phrase <{inner}> has no letters or digits to match"
    return None


def parse_rule(line: str, list_type: str = WEIGHTED, kind: str = RISK) -> PhraseRule | str:
    """One phrase line as a rule, or the reason it cannot be read."""
    phrases: list[str] = []
    pos = 0
    n = len(line)
    weight: str | None = None
    while True:
        if pos >= n or line[pos] != "<":
            found = line[pos : pos + 20]
            return f"expected '<' at column {pos + 1}, found {found!r}"
        close = line.find(">", pos + 1)
        if close < 0:
            return f"no closing '>' after column {pos + 1}"
        inner = line[pos + 1 : close]
        if "<" in inner:
            return f"'<' inside <{inner}>: a '>' is missing"
        pos = close + 1
        while pos < n and line[pos] in " \t":
            pos += 1
        if pos < n and line[pos] == ",":
            phrases.append(inner)
            pos += 1
            while pos < n and line[pos] in " \t":
                pos += 1
            continue
        if list_type == WEIGHTED and not (pos < n and line[pos] == "<"):
            return f"<{inner}> has no weight (a weighted list needs <phrase><score>)"
        else:
            phrases.append(inner)
            if list_type == WEIGHTED:
                close = line.find(">", pos + 1)
                if close < 0:
                    return f"no closing '>' after the weight at column {pos + 1}"
                weight = line[pos + 1 : close]
                if "<" in weight:
                    return f"'<' inside the weight <{weight}>: a '>' is missing"
                pos = close + 1
        break
    rest = line[pos:].strip()
    if rest and not rest.startswith("#"):
        return f"unexpected text after the rule: {rest[:40]!r}"
    for p in phrases:
        why = _phrase_ok(p)
        if why:
            return why
    if list_type == BANNED:
        return PhraseRule(tuple(phrases), 0, False, BANNED)
    assert weight is not None
    m = _WEIGHT.fullmatch(weight.strip())
    if m is None:
        return f"weight <{weight}> is not a whole number or a percentage"
    value = int(m.group(1))
    if abs(value) > MAX_WEIGHT:
        return f"weight {value} is out of range (at most {MAX_WEIGHT} either way)"
    return PhraseRule(tuple(phrases), value, bool(m.group(2)), kind)


def parse_phrases(text: str, list_type: str = WEIGHTED) -> ParsedPhrases:
    """Every rule, include and directive in one file's ``text``. Never raises."""
    rules: list[PhraseRule] = []
    rejected: list[str] = []
    includes: list[tuple[int, str]] = []
    listcategory = ""
    kind = RISK
    ltype = list_type if list_type in LIST_TYPES else WEIGHTED
    seen: dict[RuleKey, int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        if len(line) > MAX_LINE:
            rejected.append(f"line {number}: longer than {MAX_LINE} characters")
            continue
        if line.startswith("#"):
            m = _LISTCATEGORY.match(line)
            if m and not listcategory:
                listcategory = m.group(1).strip()
                continue
            d = _DIRECTIVE.match(line)
            if d:
                key, value = d.group(1).lower(), d.group(2).lower()
                if key == "kind" and value in KINDS:
                    kind = value
                elif key == "type" and value in LIST_TYPES:
                    ltype = value
                else:
                    rejected.append(f"line {number}: unknown directive {line[:60]!r}")
            continue
        if line[:1] == ".":
            inc = _INCLUDE.match(line)
            if inc and inc.group(1).strip():
                includes.append((number, inc.group(1).strip()))
            else:
                rejected.append(f"line {number}: not an .Include<path> line: {line[:60]!r}")
            continue
        rule = parse_rule(line, ltype, kind)
        if isinstance(rule, str):
            rejected.append(f"line {number}: {rule}")
            continue
        first = seen.setdefault(rule_key(rule), number)
        if first != number:
            rejected.append(f"line {number}: repeats the rule of line {first}, counted once")
            continue
        rules.append(PhraseRule(rule.phrases, rule.weight, rule.percent, rule.kind, line=number))
    return ParsedPhrases(tuple(rules), tuple(rejected), tuple(includes), listcategory)


def rule_key(rule: PhraseRule) -> RuleKey:
    """What makes two rules the same rule, whatever their weights: the same phrases (in any
    order, read as the engine reads them, word boundaries kept) and the same kind."""
    phrases = frozenset((p[:1].isspace(), normalise(p), p[-1:].isspace()) for p in rule.phrases)
    return phrases, rule.kind


def decode(data: bytes, name: str = "") -> str:
    """A list file's text: UTF-8, else line by line in the encodings its language (from its
    ``name``) was written in, else Latin-1 (see :mod:`monitord.classify.textrisk.encodings`)."""
    from monitord.classify.textrisk.encodings import decode_list

    return decode_list(data, name)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PhraseListError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _type_of(path: Path, inherited: str = WEIGHTED) -> str:
    name = path.name.lower()
    if name.startswith(BANNED):
        return BANNED
    if name.startswith(WEIGHTED):
        return WEIGHTED
    return inherited


def read_phrase_file(path: Path, name: str, category: str) -> PhraseList:
    """One phrase list file for one category (the project's own lists). Includes are not
    followed: a list of the project's stands alone."""
    if not is_category(category) and category != ALLOW:
        raise PhraseListError(f"{path}: {category!r} is not a category id (see TAXONOMY.md)")
    data = _read(path)
    parsed = parse_phrases(decode(data, path.name), _type_of(path))
    return PhraseList(
        name,
        category,
        parsed.rules,
        str(path),
        parsed.listcategory,
        hashlib.sha256(data).hexdigest(),
        tuple(f"{path}: {r}" for r in parsed.rejected),
    )


def _key(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", value.lower())


def category_for(
    path: Path, listcategory: str, mapping: Mapping[str, str] | None = None
) -> str | None:
    """The category of an e2guardian list: by its folder name, then by its #listcategory.
    ``mapping`` (folder or list category name -> category id, ``allow``, or "" to leave the
    list out) is looked up before the built-in one."""
    table = {_key(k): v for k, v in E2GUARDIAN_MAP.items()}
    if mapping:
        table.update({_key(k): v for k, v in mapping.items()})
    for key in (_key(path.parent.name), _key(listcategory)):
        if key and key in table:
            return table[key] or None
    return None


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def resolve_include(target: str, including: Path, root: Path) -> Path | None:
    """The file an ``.Include<...>`` line names, looked for under ``root`` only.

    e2guardian configs name included lists by absolute path, often through a placeholder
    (``@E2CONFDIR@/lists/phraselists/ukenglish/goodphrases/weighted``): the path is taken as
    it stands when it is under ``root``, else relative to the including file, else by its
    trailing parts under ``root`` (``ukenglish/goodphrases/weighted``).
    """
    t = target.strip().replace("\\", "/")
    if not t or "\x00" in t:
        return None
    candidates: list[Path] = []
    if "@" not in t:
        p = Path(t)
        candidates.append(p if p.is_absolute() else including.parent / p)
    parts = [x for x in t.split("/") if x and "@" not in x and x not in (".", "..")]
    candidates += [root.joinpath(*parts[i:]) for i in range(len(parts))]
    for c in candidates:
        try:
            if c.is_file() and _inside(c, root):
                return c
        except OSError:
            continue
    return None


def _list_name(prefix: str, path: Path, root: Path) -> str:
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = path.name
    return f"{prefix}/{rel}" if prefix else rel


def read_e2guardian(
    path: Path,
    name: str = "e2guardian",
    *,
    category: str | None = None,
    mapping: Mapping[str, str] | None = None,
) -> tuple[list[PhraseList], list[str]]:
    """Every phrase list in an e2guardian phrase list tree or file, mapped to categories.

    ``path`` is a folder (every ``weighted*`` and ``banned*`` file below it is read) or a file
    (read with the files its ``.Include<...>`` lines name, under the file's folder). Each file
    with rules becomes one list named ``NAME/relative/path``. ``category`` puts every list in
    that category instead of mapping them; ``mapping`` overrides the built-in map (see
    :func:`category_for`). Returns the lists and, for what was left out, one line each saying
    why (unmapped lists, unreadable lines, missing includes).
    """
    if category is not None and not is_category(category) and category != ALLOW:
        raise PhraseListError(f"--category {category!r} is not a category id (see TAXONOMY.md)")
    if path.is_dir():
        root = path
        queue: list[tuple[Path, str, int]] = []
        skipped: list[str] = []
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            lname = f.name.lower()
            if lname.startswith((WEIGHTED, BANNED)):
                queue.append((f, _type_of(f), 0))
            elif lname.startswith("exception"):
                skipped.append(
                    f"{_list_name('', f, root)}: exception phrase lists are not imported "
                    "(they would exempt a whole text)"
                )
            elif lname.startswith("regexp"):
                skipped.append(
                    f"{_list_name('', f, root)}: regular expression URL lists are not phrase lists"
                )
    elif path.is_file():
        # A list in its category's folder (``ukenglish/pornography/weighted``) includes its
        # neighbours (``ukenglish/goodphrases/weighted``): they are looked for beside that
        # folder. A main list file (``weightedphraselist``) looks in its own folder.
        in_category = category is not None or category_for(path, "", mapping) is not None
        root = path.parent.parent if in_category else path.parent
        queue = [(path, _type_of(path), 0)]
        skipped = []
    else:
        raise PhraseListError(
            f"{path}: no such file or folder (expected an e2guardian phrase list)"
        )
    found: list[PhraseList] = []
    seen: set[Path] = set()
    while queue:
        file, ltype, depth = queue.pop(0)
        resolved = file.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        rel = _list_name("", file, root)
        data = _read(file)
        parsed = parse_phrases(decode(data, file.name), ltype)
        skipped += [f"{rel}: {r}" for r in parsed.rejected]
        for number, target in parsed.includes:
            inc = resolve_include(target, file, root)
            if inc is None:
                skipped.append(
                    f"{rel}: line {number}: included list {target} not found under {root}"
                )
            elif depth >= MAX_INCLUDE_DEPTH:
                skipped.append(f"{rel}: line {number}: includes nested too deep")
            else:
                queue.append((inc, _type_of(inc, ltype), depth + 1))
        if not parsed.rules:
            if not parsed.includes:
                skipped.append(f"{rel}: no phrase rules in it")
            continue
        # A list named by an .Include keeps its own category (goodphrases stays an allow
        # list inside a pornography list); --category applies to the lists asked for.
        forced = category if depth == 0 else None
        cat = forced or category_for(file, parsed.listcategory, mapping)
        if cat is None:
            skipped.append(
                f"{rel}: no category of the school's policy maps to list "
                f"{file.parent.name!r} ({parsed.listcategory or 'no #listcategory'})"
            )
            continue
        if not is_category(cat) and cat != ALLOW:
            skipped.append(f"{rel}: mapped to {cat!r}, which is not a category id")
            continue
        found.append(
            PhraseList(
                _list_name(name, file, root),
                cat,
                parsed.rules,
                str(file),
                parsed.listcategory,
                hashlib.sha256(data).hexdigest(),
                tuple(parsed.rejected),
            )
        )
    if not found:
        raise PhraseListError(
            f"{path}: no phrase lists of the school's categories found"
            + (f" ({skipped[0]})" if skipped else "")
        )
    return found, skipped


def dump_phrase_list(plist: PhraseList) -> str:
    """A list written back in the weighted format, with its kinds and banned rules marked,
    so that :func:`parse_phrases` reads the same rules from it."""
    out = [
        "# monitord phrase list (e2guardian weighted format)",
        f'#listcategory: "{plist.listcategory or plist.name}"',
        f"# category: {plist.category}",
        f"# source: {plist.source}",
    ]
    ltype, kind = WEIGHTED, RISK
    for rule in plist.rules:
        want_type = BANNED if rule.kind == BANNED else WEIGHTED
        if want_type != ltype:
            out.append(f"#type: {want_type}")
            ltype = want_type
        if want_type == WEIGHTED and rule.kind != kind:
            out.append(f"#kind: {rule.kind}")
            kind = rule.kind
        out.append(rule.source())
    return "\n".join(out) + "\n"


def write_phrase_list(lists_dir: Path, plist: PhraseList) -> Written:
    """``plist`` in its file under ``lists_dir``, ready to become a version of its name; the
    version counts its rules as ``expressions`` and has ``fmt`` ``e2guardian``."""
    lists_dir.mkdir(parents=True, exist_ok=True)
    base = lists_dir / f"{safe_file_name(plist.name)}.{plist.sha256[:12] or 'local'}"
    final = base.with_suffix(".phrases")
    write_atomically(final, dump_phrase_list(plist))
    return Written(
        plist.name,
        plist.category,
        FORMAT,
        plist.source,
        plist.sha256,
        final,
        expressions=len(plist.rules),
        rejected_lines=len(plist.rejected),
    )


def store_phrase_list(
    engine: Engine, lists_dir: Path, plist: PhraseList, actor: str, now: datetime
) -> int:
    """Write ``plist`` under ``lists_dir`` and make it the active version of its name, with
    an audit record; return the version id."""
    written = write_phrase_list(lists_dir, plist)
    with engine.begin() as conn:
        return record_version(conn, written, actor, now)


def import_e2guardian(
    engine: Engine,
    lists_dir: Path,
    path: Path,
    actor: str,
    now: datetime,
    *,
    name: str = "e2guardian",
    category: str | None = None,
    mapping: Mapping[str, str] | None = None,
) -> tuple[list[tuple[PhraseList, int]], list[str]]:
    """``monitord lists import PATH --format e2guardian``: read, then store every list.
    Returns each list stored with its version id, and what was left out (see
    :func:`read_e2guardian`)."""
    lists, skipped = read_e2guardian(path, name, category=category, mapping=mapping)
    stored = [(p, store_phrase_list(engine, lists_dir, p, actor, now)) for p in lists]
    return stored, skipped


def load_phrase_lists(engine: Engine) -> list[PhraseList]:
    """Every active stored phrase list, as the engine builds from them. A stored file that
    has gone is skipped (its version row stays, for the record)."""
    table = table_of(ListVersionRow)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                table.c.name, table.c.category, table.c.path, table.c.source, table.c.sha256
            ).where(table.c.active.is_(True), table.c.fmt == FORMAT)
        ).all()
    out: list[PhraseList] = []
    # The same rule in two lists of one category (one tree imported under two names, a list
    # both imported and included) would add its weight twice: the first list by name has it.
    held: dict[str, set[RuleKey]] = {}
    for name, category, stored, source, sha in sorted(rows):
        p = Path(stored)
        if not p.is_file():
            continue
        parsed = parse_phrases(decode(p.read_bytes()))
        seen = held.setdefault(category, set())
        rules: list[PhraseRule] = []
        for rule in parsed.rules:
            key = rule_key(rule)
            if key not in seen:
                seen.add(key)
                rules.append(rule)
        out.append(PhraseList(name, category, tuple(rules), source, parsed.listcategory, sha))
    return out


def rules_of(lists: Iterable[PhraseList]) -> int:
    """How many rules ``lists`` hold together."""
    return sum(len(p.rules) for p in lists)
