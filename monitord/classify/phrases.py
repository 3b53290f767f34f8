"""The phrase engine: which categories a search or a typed text falls in, and why.

Built from weighted phrase lists (:mod:`monitord.classify.e2guardian` reads them: the
project's own in ``config/phrases`` and any imported from e2guardian), one Aho-Corasick
automaton holds every phrase of every list, normalised by
:mod:`monitord.core.textnorm`. Scoring a text:

1. Every reading of the text (:func:`monitord.core.textnorm.variants`) is scanned once; a phrase
   with a space at an end inside ``< >`` matches only at a word boundary there. A two-word
   or longer phrase bounded at both ends also matches written as one word (``selfharm``,
   ``k i l l m y s e l f``).
2. A rule hits when all its phrases were found (co-occurrence); each rule counts once per text.
3. Each category's total is the sum of its hits' weights; a percentage weight is that share of
   the category's limit for the age band. An allow list's negative weights (e2guardian
   ``goodphrases``, the project's education list) lower the total of every category that has
   hits, except ``child_abuse`` and ``terrorist_content``; an allow list never raises one.
4. A category is over when its total is over the limit of the age band (as e2guardian's
   naughtiness limit: over, not equal), or when a banned phrase of it hit (whatever the
   negative weights).
5. Support: a rule of kind ``support`` (Childline, "how to stop self harming") is a pupil
   looking for help. For a pupil (``infant`` or ``junior`` band) a support hit puts its
   category over whatever its total, so the DSL hears of it, unless an education rule also
   hit (homework, a lesson). Staff (``adult``) are not reported for support alone: their
   support phrases only lower the total, so a teacher preparing a lesson is not reported.
   A result with an over category that has a support hit is ``support_seeking``, and its
   :attr:`TextResult.max_severity` is ``high``.

Every hit is kept, with its list, phrase and weight, so the alert can say exactly why.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick

from monitord.classify.e2guardian import (
    BANNED,
    EDUCATION,
    RISK,
    SUPPORT,
    PhraseList,
    PhraseListError,
    read_phrase_file,
)
from monitord.core.categories import ALLOW, ILLEGAL, is_category
from monitord.core.model import Match, Person, Severity
from monitord.core.paths import DEFAULTS
from monitord.core.textnorm import normalise, variants

INFANT = "infant"
JUNIOR = "junior"
ADULT = "adult"
BANDS = (INFANT, JUNIOR, ADULT)
PUPIL_BANDS = frozenset({INFANT, JUNIOR})

# e2guardian's guidance for its naughtiness limit: 50 for young children, 100 for older
# children, 160 for young adults. config/phrases/bands.toml documents and can change them.
DEFAULT_LIMITS: Mapping[str, int] = {INFANT: 50, JUNIOR: 100, ADULT: 160}

DEFAULT_PHRASES = DEFAULTS / "phrases"
BANDS_FILE = "bands.toml"

STAFF_ROLES = frozenset({"staff", "headteacher", "governor", "volunteer", "supply"})
PUPIL_ROLES = frozenset({"pupil", "guest"})

_INFANT_YEARS = frozenset({"N", "R", "1", "2", "NURSERY", "RECEPTION", "EYFS", "FS1", "FS2"})
_JUNIOR_YEARS = frozenset({"3", "4", "5", "6"})


def age_band(year_group: str | None, role: str | None = None) -> str:
    """The age band whose limits apply: ``infant`` for nursery, reception and Years 1-2,
    ``junior`` for Years 3-6, ``adult`` for staff and for anyone unknown.

    Staff roles are ``adult`` whatever their year group. ``Year 3``, ``Y3`` and ``3`` all
    read as Year 3. A pupil (or guest, who follows the pupil column) whose year group is
    missing, or is Year 7 or above, is ``junior``: a pupil never gets the staff limits.
    """
    r = (role or "").strip().lower()
    if r in STAFF_ROLES:
        return ADULT
    yg = (year_group or "").strip().upper().replace(" ", "")
    for prefix in ("YEAR", "YR", "Y"):
        if yg.startswith(prefix) and len(yg) > len(prefix):
            yg = yg[len(prefix) :]
            break
    if yg in _INFANT_YEARS:
        return INFANT
    if yg in _JUNIOR_YEARS:
        return JUNIOR
    if r in PUPIL_ROLES or (yg.isdigit() and 7 <= int(yg) <= 14):
        return JUNIOR
    return ADULT


def age_band_of(person: Person | None) -> str:
    """:func:`age_band` of a person from the roster; ``adult`` when nobody is known."""
    if person is None:
        return ADULT
    return age_band(person.year_group, person.role)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Limits per age band, and per category where one is set apart."""

    limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    categories: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def limit(self, band: str, category: str) -> int:
        own = self.categories.get(category)
        if own is not None and band in own:
            return own[band]
        return self.limits[band]


def _limits(table: Any, where: str, need_all: bool) -> dict[str, int]:
    if not isinstance(table, dict):
        raise PhraseListError(f"{where}: expected a table of age bands")
    out: dict[str, int] = {}
    for band, value in table.items():
        if band not in BANDS:
            raise PhraseListError(f"{where}.{band}: not an age band ({', '.join(BANDS)})")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise PhraseListError(f"{where}.{band}: expected a whole number above 0")
        out[band] = value
    missing = [b for b in BANDS if b not in out]
    if need_all and missing:
        raise PhraseListError(f"{where}: no limit for {', '.join(missing)}")
    return out


def load_thresholds(path: Path) -> Thresholds:
    """``bands.toml``: ``[limits]`` with a limit for each band, and optionally
    ``[categories.ID]`` with a limit for some bands of one category."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PhraseListError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PhraseListError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"limits", "categories"}
    if unknown:
        raise PhraseListError(f"{path}: unknown key {sorted(unknown)[0]!r}")
    limits = _limits(data.get("limits", dict(DEFAULT_LIMITS)), f"{path}: limits", True)
    cats_raw = data.get("categories", {})
    if not isinstance(cats_raw, dict):
        raise PhraseListError(f"{path}: categories: expected tables [categories.ID]")
    cats: dict[str, dict[str, int]] = {}
    for cat, table in cats_raw.items():
        if not is_category(cat):
            raise PhraseListError(f"{path}: categories.{cat}: not a category id")
        cats[cat] = _limits(table, f"{path}: categories.{cat}", False)
    return Thresholds(limits, cats)


@dataclass(frozen=True, slots=True)
class PhraseHit:
    """One rule that hit: its list, its phrase (co-occurrences joined by ``+``), the weight
    it added for this age band, and its kind (risk, support, education, banned)."""

    list_name: str
    category: str
    phrase: str
    weight: int
    kind: str = RISK

    def match(self) -> Match:
        """As a :class:`~monitord.core.model.Match`. A support or education rule's list name
        carries its kind (``phrases/self_harm:support``), so that a stored explanation still
        says the pupil was looking for help."""
        name = self.list_name if self.kind in (RISK, BANNED) else f"{self.list_name}:{self.kind}"
        return Match(self.category, name, self.phrase, self.weight, allow=self.category == ALLOW)


@dataclass(frozen=True, slots=True)
class TextResult:
    """How a text scored for one age band.

    ``totals`` has every category with a hit; ``limits`` the limit each was held against;
    ``categories`` the ones over (the largest total first). ``support_seeking`` says an over
    category has a support hit; ``support_categories`` names them.
    """

    text: str
    normalised: str
    age_band: str
    hits: tuple[PhraseHit, ...] = ()
    totals: Mapping[str, int] = field(default_factory=dict)
    limits: Mapping[str, int] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    support_seeking: bool = False
    support_categories: tuple[str, ...] = ()

    def matches(self) -> tuple[Match, ...]:
        """Every hit as a Match, for a :class:`~monitord.classify.engine.Classification`."""
        return tuple(h.match() for h in self.hits)

    def allowed_by(self) -> tuple[Match, ...]:
        """The allow-list hits (their negative weights lowered the totals)."""
        return tuple(h.match() for h in self.hits if h.category == ALLOW)

    @property
    def max_severity(self) -> Severity | None:
        """The most a policy may make of this text: ``high`` for a pupil looking for help
        (never ``critical``); None when it sets no cap."""
        return Severity.HIGH if self.support_seeking else None


@dataclass(frozen=True, slots=True)
class _Rule:
    list_name: str
    category: str
    display: str
    weight: int
    percent: bool
    kind: str
    parts: tuple[frozenset[int], ...]


# Characters that normalisation reads as letters or drops, so that a phrase starting or
# ending with one is not bounded there.
_NOT_SEPARATORS = frozenset("$@!|'`\u2019\u2018")


def _bounded(end: str) -> bool:
    """A phrase's first or last character makes a word boundary: a space, or a separator
    such as ``_`` (``<_word_>``) or ``.``, which the normalised text also has as a space."""
    return bool(end) and (end.isspace() or not (end.isalnum() or end in _NOT_SEPARATORS))


def phrase_keys(phrase: str) -> tuple[str, ...]:
    """The strings an automaton looks for to find ``phrase`` (as written inside ``< >``) in
    a normalised text padded with a space at each end. Empty when it normalises to nothing.
    A space or a separator at an end of the phrase is a word boundary there."""
    core = normalise(phrase)
    if not core:
        return ()
    left = " " if _bounded(phrase[:1]) else ""
    right = " " if _bounded(phrase[-1:]) else ""
    keys = [f"{left}{core}{right}"]
    if left and right and " " in core:
        keys.append(f" {core.replace(' ', '')} ")
    return tuple(keys)


class PhraseEngine:
    """Phrase lists compiled into one automaton; :meth:`score` a text for an age band."""

    def __init__(self, lists: Iterable[PhraseList], thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        for band in BANDS:
            if band not in self.thresholds.limits:
                raise PhraseListError(f"thresholds: no limit for age band {band!r}")
        self.lists = tuple(lists)
        key_ids: dict[str, int] = {}
        key_rules: list[list[int]] = []
        rules: list[_Rule] = []
        for plist in self.lists:
            for rule in plist.rules:
                parts: list[frozenset[int]] = []
                for phrase in rule.phrases:
                    ids: set[int] = set()
                    for key in phrase_keys(phrase):
                        if key not in key_ids:
                            key_ids[key] = len(key_ids)
                            key_rules.append([])
                        ids.add(key_ids[key])
                    if not ids:
                        break
                    parts.append(frozenset(ids))
                else:
                    index = len(rules)
                    rules.append(
                        _Rule(
                            plist.name,
                            plist.category,
                            rule.display,
                            rule.weight,
                            rule.percent,
                            rule.kind,
                            tuple(parts),
                        )
                    )
                    for part in parts:
                        for kid in part:
                            if not key_rules[kid] or key_rules[kid][-1] != index:
                                key_rules[kid].append(index)
        self._rules = tuple(rules)
        self._key_rules = tuple(tuple(r) for r in key_rules)
        self._automaton: Any = None
        if key_ids:
            automaton = ahocorasick.Automaton()
            for key, kid in key_ids.items():
                automaton.add_word(key, kid)
            automaton.make_automaton()
            self._automaton = automaton

    @property
    def rule_count(self) -> int:
        return len(self._rules)

    def _found(self, texts: Iterable[str]) -> set[int]:
        seen: set[int] = set()
        if self._automaton is None:
            return seen
        for text in texts:
            for _end, kid in self._automaton.iter(f" {text} "):
                seen.add(kid)
        return seen

    def _weight(self, rule: _Rule, band: str) -> int:
        category = rule.category
        if rule.kind == BANNED:
            return self.thresholds.limit(band, category) + 1
        if rule.percent:
            return round(rule.weight * self.thresholds.limit(band, category) / 100)
        return rule.weight

    def score(
        self, text: str, age_band: str, readings: tuple[str, ...] | None = None
    ) -> TextResult:
        """Score ``text`` against every list for ``age_band`` (``infant``, ``junior`` or
        ``adult``; see :func:`age_band`). Raises ValueError for any other band.
        ``readings``: the text's :func:`~monitord.core.textnorm.variants`, when the caller has
        them already."""
        if age_band not in BANDS:
            raise ValueError(f"unknown age band {age_band!r} (one of {', '.join(BANDS)})")
        readings = readings or variants(text)
        seen = self._found(readings)
        candidates: set[int] = set()
        for kid in seen:
            candidates.update(self._key_rules[kid])
        hits: list[PhraseHit] = []
        for index in sorted(candidates):
            rule = self._rules[index]
            if all(not part.isdisjoint(seen) for part in rule.parts):
                hits.append(
                    PhraseHit(
                        rule.list_name,
                        rule.category,
                        rule.display,
                        self._weight(rule, age_band),
                        rule.kind,
                    )
                )
        return self._judge(text, readings[0], age_band, hits)

    def rejudge(self, result: TextResult, keep: Callable[[PhraseHit], bool]) -> TextResult:
        """``result`` judged again with only the hits ``keep`` accepts (a list in a language
        the text is not in, left out)."""
        kept = [h for h in result.hits if keep(h)]
        return self._judge(result.text, result.normalised, result.age_band, kept)

    def _judge(self, text: str, normalised: str, band: str, hits: list[PhraseHit]) -> TextResult:
        totals: dict[str, int] = {}
        banned: set[str] = set()
        support: set[str] = set()
        allow_lowers = 0
        education = False
        kept: list[PhraseHit] = []
        for hit in hits:
            if hit.kind == EDUCATION:
                education = True
            if hit.category == ALLOW:
                if hit.weight < 0:
                    allow_lowers += hit.weight
                    kept.append(hit)
                continue
            kept.append(hit)
            totals[hit.category] = totals.get(hit.category, 0) + hit.weight
            if hit.kind == BANNED:
                banned.add(hit.category)
            elif hit.kind == SUPPORT:
                support.add(hit.category)
        if allow_lowers:
            for cat in totals:
                if cat not in ILLEGAL:
                    totals[cat] += allow_lowers
        limits = {cat: self.thresholds.limit(band, cat) for cat in totals}
        over: list[str] = []
        for cat, total in totals.items():
            if (
                cat in banned
                or total > limits[cat]
                or (band in PUPIL_BANDS and cat in support and not education)
            ):
                over.append(cat)
        over.sort(key=lambda c: (-totals[c], c))
        helped = tuple(c for c in over if c in support)
        return TextResult(
            text,
            normalised,
            band,
            tuple(kept),
            totals,
            limits,
            tuple(over),
            bool(helped),
            helped,
        )


def _dir_category(path: Path) -> str:
    stem = path.stem
    if is_category(stem):
        return stem
    if stem == "education" or stem.startswith(ALLOW):
        return ALLOW
    raise PhraseListError(
        f"{path}: name a phrase list after its category id (self_harm.txt), or education.txt"
        " or allow*.txt for an allow list"
    )


def load_phrase_dir(folder: Path) -> list[PhraseList]:
    """The project's phrase lists: every ``*.txt`` in ``folder``, named ``phrases/STEM``,
    whose category is the file's stem (``self_harm.txt``); ``education.txt`` and
    ``allow*.txt`` are allow lists. Any other name is refused rather than guessed at."""
    if not folder.is_dir():
        raise PhraseListError(f"{folder}: not a folder of phrase lists")
    return [
        read_phrase_file(path, f"phrases/{path.stem}", _dir_category(path))
        for path in sorted(folder.glob("*.txt"))
    ]


def load_engine(folder: Path = DEFAULT_PHRASES, extra: Iterable[PhraseList] = ()) -> PhraseEngine:
    """An engine from a phrase folder (its lists and its ``bands.toml``, if any) and
    ``extra`` lists (imported ones, :func:`monitord.classify.e2guardian.load_phrase_lists`)."""
    bands = folder / BANDS_FILE
    thresholds = load_thresholds(bands) if bands.is_file() else Thresholds()
    return PhraseEngine([*load_phrase_dir(folder), *extra], thresholds)


@lru_cache(maxsize=1)
def default_engine() -> PhraseEngine:
    """The engine of the project's own lists as shipped (built once)."""
    return load_engine(DEFAULT_PHRASES)
