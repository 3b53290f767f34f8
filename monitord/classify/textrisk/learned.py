"""A small learned model of risky short texts, beside the lexicons.

The lexicons catch what they list; a pupil's phrasing they have never met slips past them.
This model reads a text's normalised words (the canonical reading of
:func:`~monitord.classify.textrisk.normal.readings`) as features: each word, each pair of
neighbouring words, the first five letters of a long word (a stem, so that an inflected
language's endings count as one), and the four-letter pieces of each word (so that a
misspelling still shares most of them). Its logistic models:

- **risk**: how likely the text is one a safeguarding lead must see (any category but help);
- **category**: for a risky text, which category it is most like (one weight a category);
- **help** (where the file has one): how likely the text is a pupil asking for help, from
  the same features, read by the judge only where the lexicons found no help.

It is trained offline from the project's labelled corpora (``bench/textmodel.py``), and
shipped as one JSON file of weights (``defaults/model/textrisk.json``), read with the standard
library. Judging a text is a sum of dictionary look-ups; a word's own part of the sum is
remembered, so a text costs a look-up a word and one a pair.

:class:`~monitord.classify.textrisk.judge.TextJudge` combines it with the lexicons: the model
alone raises a category only at a high score (``high``), and at a lower one (``low``) only
beside a word of that category's own lexicon that did not reach the limit alone; never for a
text the lexicons read as help, a lesson, news or a harmless idiom. Under its ``harmless``
score it reads a pupil's typed message the lexicons raised (but for grooming) as everyday
talk, and the judge does not raise it.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from monitord.classify.lists import ListError
from monitord.core.categories import is_category
from monitord.core.paths import DEFAULTS

DEFAULT_MODEL = DEFAULTS / "model" / "textrisk.json"
FORMAT = "monitord-textrisk-model/1"
STEM = 5
GRAM = 4
# A word's own part of the risk sum is remembered; the memory is emptied when this full.
_WORDS_KEPT = 20_000


def word_features(word: str) -> list[str]:
    """The features of one word alone: itself, its stem, its four-letter pieces."""
    out = [word]
    if len(word) > STEM:
        out.append(word[:STEM] + "~")
    marked = f"<{word}>"
    out.extend("#" + marked[i : i + GRAM] for i in range(len(marked) - GRAM + 1))
    return out


def pair_features(words: list[str]) -> list[str]:
    """The pairs of neighbouring words, the first with the start of the text."""
    out = []
    previous = "^"
    for w in words:
        out.append(f"{previous}_{w}")
        previous = w
    return out


def features(normalised: str) -> list[str]:
    """Every feature of a normalised text, as training sees them."""
    words = normalised.split()
    out: list[str] = []
    for w in words:
        out.extend(word_features(w))
    out.extend(pair_features(words))
    return out


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class Guess:
    """What the model makes of a text: the risk, and the category it is most like."""

    risk: float
    category: str
    likeness: float


@dataclass(frozen=True)
class TextModel:
    """The weights of the two models and the thresholds the judge applies."""

    bias: float
    weights: Mapping[str, float]
    categories: tuple[str, ...]
    category_bias: tuple[float, ...]
    category_weights: Mapping[str, Sequence[float]]
    high: float
    low: float
    trained_on: str = ""
    # the score from which it raises alone in a language other than English (None: never)
    elsewhere: float | None = None
    # help asked: a third logistic model (help against everything else) and the score from
    # which a text is read as help (None: no help model)
    help_bias: float = 0.0
    help_weights: Mapping[str, float] = field(default_factory=dict)
    help_at: float | None = None
    # the score under which a pupil's typed message the lexicons raised is read as harmless
    # (a word of risk used in an everyday sense; None: never)
    harmless: float | None = None
    _words: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    _parts: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    _help_words: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    def _word(self, word: str) -> float:
        return _feature_sum(self.weights, self._words, word)

    def risk(self, normalised: str) -> float:
        """How likely the text is a risk (0 to 1)."""
        return _score(self.bias, self.weights, self._words, normalised)

    def help(self, normalised: str) -> float:
        """How likely the text is a pupil asking for help (0 to 1; 0 without a help model)."""
        if self.help_at is None:
            return 0.0
        return _score(self.help_bias, self.help_weights, self._help_words, normalised)

    def risk_joined(self, parts: Sequence[str]) -> float:
        """:meth:`risk` of normalised ``parts`` joined by spaces (messages read together),
        each part's own sum (its words and the pairs inside it) remembered: a message is
        read again with every one typed after it."""
        get = self.weights.get
        z = self.bias
        previous = "^"
        for part in parts:
            words = part.split()
            if not words:
                continue
            z += get(f"{previous}_{words[0]}", 0.0) + self._part(part, words)
            previous = words[-1]
        return _sigmoid(z)

    def _part(self, part: str, words: list[str]) -> float:
        got = self._parts.get(part)
        if got is None:
            get = self.weights.get
            got = sum(self._word(w) for w in words)
            got += sum(get(f"{a}_{b}", 0.0) for a, b in pairwise(words))
            if len(self._parts) >= _WORDS_KEPT:
                self._parts.clear()
            self._parts[part] = got
        return got

    def guess(self, normalised: str) -> Guess:
        """The risk, and the category the text is most like with its own score."""
        risk = self.risk(normalised)
        sums = list(self.category_bias)
        cw = self.category_weights
        for f in features(normalised):
            row = cw.get(f)
            if row is not None:
                for i, x in enumerate(row):
                    sums[i] += x
        best = max(range(len(sums)), key=lambda i: (sums[i], -i))
        return Guess(risk, self.categories[best], _sigmoid(sums[best]))


def _floats(value: object, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(isinstance(x, int | float) for x in value):
        raise ListError(f"{where}: expected a list of numbers")
    return tuple(float(x) for x in value)


def _feature_sum(weights: Mapping[str, float], kept: dict[str, float], word: str) -> float:
    """The weights of ``word``'s features, remembered in ``kept`` (cleared when full)."""
    got = kept.get(word)
    if got is None:
        got = sum(weights.get(f, 0.0) for f in word_features(word))
        if len(kept) >= _WORDS_KEPT:
            kept.clear()
        kept[word] = got
    return got


def _score(
    bias: float, weights: Mapping[str, float], kept: dict[str, float], normalised: str
) -> float:
    """A logistic model's score of a normalised text: each word's features (remembered in
    ``kept``) and each pair of neighbouring words."""
    get = weights.get
    known = kept.get
    z = bias
    previous = "^"
    for w in normalised.split():
        own = known(w)
        z += (_feature_sum(weights, kept, w) if own is None else own) + get(f"{previous}_{w}", 0.0)
        previous = w
    return _sigmoid(z)


def parse_model(data: object, where: str = "model") -> TextModel:
    """A model from its JSON form; ListError names what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ListError(f"{where}: not a text model (expected format {FORMAT!r})")
    try:
        risk, cats = data["risk"], data["category"]
        high, low = float(data["high"]), float(data["low"])
        other = data.get("elsewhere")
        elsewhere = None if other is None else float(other)
        calm = data.get("harmless")
        harmless = None if calm is None else float(calm)
        weights = {str(k): float(v) for k, v in risk["weights"].items()}
        names = tuple(str(c) for c in cats["names"])
        cbias = _floats(cats["bias"], f"{where}: category bias")
        # a row as four-byte floats: a third of a tuple's memory
        crows = {
            str(k): array("f", _floats(v, f"{where}: category weights of {k!r}"))
            for k, v in cats["weights"].items()
        }
        bias = float(risk["bias"])
        helps = data.get("help")
        help_bias, help_weights, help_at = 0.0, {}, None
        if helps is not None:
            help_bias, help_at = float(helps["bias"]), float(helps["at"])
            help_weights = {str(k): float(v) for k, v in helps["weights"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ListError(f"{where}: malformed text model ({e})") from e
    bad = [c for c in names if not is_category(c)]
    if bad:
        raise ListError(f"{where}: {', '.join(bad)} not a category id")
    if len(cbias) != len(names) or any(len(r) != len(names) for r in crows.values()):
        raise ListError(f"{where}: category weights do not match the {len(names)} categories")
    if not names:
        raise ListError(f"{where}: no categories")
    if not 0.0 < low <= high < 1.0:
        raise ListError(f"{where}: thresholds must be 0 < low <= high < 1, not {low}, {high}")
    if elsewhere is not None and not high <= elsewhere < 1.0:
        raise ListError(f"{where}: elsewhere must be high <= elsewhere < 1, not {elsewhere}")
    if harmless is not None and not 0.0 < harmless < low:
        raise ListError(f"{where}: harmless must be between 0 and low ({low}), not {harmless}")
    if help_at is not None and not 0.0 < help_at < 1.0:
        raise ListError(f"{where}: help.at must be between 0 and 1, not {help_at}")
    trained = str(data.get("trained_on", ""))
    return TextModel(
        bias,
        weights,
        names,
        cbias,
        crows,
        high,
        low,
        trained,
        elsewhere,
        help_bias,
        help_weights,
        help_at,
        harmless,
    )


def load_model(path: Path) -> TextModel:
    """Read a model file; ListError names the file and what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ListError(f"{path}: cannot read a text model ({e})") from e
    return parse_model(data, str(path))


def default_model() -> TextModel:
    """The model shipped with monitord."""
    return load_model(DEFAULT_MODEL)


# Grooming is a pattern: one signal alone (a compliment, a photo asked for, an app's name) is
# never an alert. The model raises it only at its high score, and only when what it reads
# beyond the words of the signals the lexicons found is a risk too (``beyond``).
PATTERN = "grooming"


def alone_in(model: TextModel, english: bool, risk: float) -> bool:
    """Whether the model may raise alone: in English (most of its training) at ``high``, in
    the other languages only from ``elsewhere`` (where it is set)."""
    return english or (model.elsewhere is not None and risk >= model.elsewhere)


def calms(model: TextModel, risk: float) -> bool:
    """Whether the model reads a typed message the lexicons raised as harmless: its score
    under ``harmless`` (where that is set)."""
    return model.harmless is not None and risk < model.harmless


def decide(
    model: TextModel,
    guess: Guess,
    hinted: Mapping[str, int],
    quiet: bool,
    beyond: float | None = None,
    alone: bool = True,
) -> str | None:
    """The category the model raises, if any: at ``high`` alone (where ``alone``: in English,
    which most of its training is); at ``low`` when the lexicon found words of the category
    it guesses (``hinted``: each category's total below its limit); grooming only alone,
    with the rest of the text (``beyond`` the lexicon's grooming words, None when there were
    none) at ``low`` too; never when ``quiet`` (the lexicons read help, a lesson, news or an
    idiom)."""
    if quiet or guess.risk < model.low:
        return None
    on_its_own = alone and guess.risk >= model.high
    if guess.category == PATTERN:
        rest = guess.risk if beyond is None else beyond
        return PATTERN if on_its_own and rest >= model.low else None
    if on_its_own or hinted.get(guess.category, 0) > 0:
        return guess.category
    return None
