"""The lexicons' judgement and the learned model's, together.

:class:`BlendedJudge` judges a text as :class:`~monitord.classify.textrisk.judge.TextJudge`
does, then asks the learned model (:mod:`monitord.classify.textrisk.learned`) about a pupil's
search or typed text that the lexicons did not raise:

- at the model's ``high`` score it raises the category the text is most like, alone, in an
  English text (in the other languages its training is thin: their common words, such as
  Polish "nie" and "sie", lean towards risk);
- at its ``low`` score, only when the lexicons found words of that category which did not
  reach the limit alone (an act without its frame); never for grooming, where one signal
  alone is never an alert;
- never for a text of fewer than four words, messages read together, a window title, an
  adult, a text the lexicons read as help (Childline), a lesson,
  news or a harmless idiom, nor beside a lesson document; and never in place of a category
  the lexicons raised.

Help asked in words no lexicon lists ("who can i tell about what he does") is read by the
model's help score: from its ``help_at`` a pupil's text of four words or more that the
lexicons did not read as help is help (support) in the category the lexicons raised, or else
the one the text is most like, never a risk alone.

A pupil's typed message (four words or more) that the lexicons raised, in any category but
grooming, is not raised when the model scores it under its ``harmless`` score: a word of
risk in an everyday sense the lexicons do not list yet (onions cut with a knife, a game's
"i killed everyone", a trip that was "the bomb"). Searches keep the lexicons' word (a query
is short and its frames were written for it), and so does grooming, a pattern of signals
whose single messages read as everyday talk.

What the model raised says so in the category's reasons, with its score and the threshold
that applied, so that ``monitord classify`` and the alert tell a safeguarding lead that a
learned score, not a listed phrase, made the call.
"""

from __future__ import annotations

from dataclasses import replace

from monitord.classify.textrisk.judge import (
    JUNIOR,
    PUPIL_BANDS,
    SEARCH,
    TITLE,
    TYPED,
    Score,
    TextJudge,
    TextVerdict,
    with_joins,
)
from monitord.classify.textrisk.language import PLAIN_ENGLISH
from monitord.classify.textrisk.learned import (
    PATTERN,
    TextModel,
    alone_in,
    calms,
    decide,
    default_model,
)
from monitord.classify.textrisk.lexicon import (
    BENIGN,
    CONTEXT,
    EXPLICIT,
    PART,
    SIGNAL,
    SUPPORT,
    Lexicon,
    default_lexicon,
)

# Fewer words than this say too little for the model ("promise?" scored 0.93 on its bias).
MIN_WORDS = 4
# What the lexicons read as help, a lesson or news, or a harmless sense: the model keeps quiet.
QUIET = frozenset({BENIGN, CONTEXT, SUPPORT})


def said_outright(verdict: TextVerdict) -> bool:
    """Whether a category ``verdict`` raises was said outright ("i want to kill myself"):
    the model may silence a word of risk in an everyday sense, never a plain statement."""
    return any(
        h.entry.cls == EXPLICIT and h.entry.category in verdict.categories for h in verdict.hits
    )


class BlendedJudge(TextJudge):
    """A :class:`TextJudge` whose misses the learned ``model`` may catch."""

    def __init__(self, lexicon: Lexicon, model: TextModel) -> None:
        super().__init__(lexicon)
        self.model = model

    def judge_readings(
        self,
        text: str,
        texts: tuple[str, ...],
        kind: str = SEARCH,
        band: str = JUNIOR,
        lesson: str | None = None,
        messages: int = 1,
    ) -> TextVerdict:
        verdict = super().judge_readings(text, texts, kind, band, lesson, messages)
        # messages read together are the lexicons' (joined chat read as one text, the model
        # raised harmless conversations written blind); so is a lesson's context
        if lesson is not None or messages > 1:
            return verdict
        calmed = self.calmed(verdict, texts)
        if calmed is not None:
            return calmed
        return self.learned(verdict, texts)

    def calmed(self, verdict: TextVerdict, texts: tuple[str, ...]) -> TextVerdict | None:
        """``verdict`` with nothing raised where the model reads the pupil's typed message
        the lexicons raised as harmless; None otherwise."""
        model = self.model
        if (
            model.harmless is None
            or not verdict.categories
            or any(h.entry.cls == SUPPORT for h in verdict.hits)
            or PATTERN in verdict.categories
            or verdict.kind != TYPED
            or verdict.band not in PUPIL_BANDS
            or texts[0].count(" ") < MIN_WORDS - 1
            or said_outright(verdict)
        ):
            return None
        risk = model.risk(texts[0])
        if not calms(model, risk):
            return None
        why = (
            f"the learned model scores it {risk:.2f} as a risk, under {model.harmless:.2f}: "
            "a typed message read as everyday talk, not raised"
        )
        scores = tuple(
            replace(s, over=False, reasons=(*s.reasons, why)) if s.over else s
            for s in verdict.scores
        )
        return replace(verdict, scores=scores, categories=(), support=())

    def learned(self, verdict: TextVerdict, texts: tuple[str, ...]) -> TextVerdict:
        """``verdict`` with what the model raises in ``texts`` (the readings of the text, or
        of the messages typed together with it, the canonical one first)."""
        model = self.model
        helped = self.helped(verdict, texts)
        if helped is not None:
            return helped
        if (
            verdict.categories
            or verdict.band not in PUPIL_BANDS
            or verdict.kind == TITLE
            or texts[0].count(" ") < MIN_WORDS - 1
            or model.risk(texts[0]) < model.low
            or self.quiet(texts)
        ):
            return verdict
        guess = model.guess(texts[0])
        hinted = {s.category: s.total for s in verdict.scores if s.total > 0}
        rest = self.beyond(texts) if guess.category == PATTERN else None
        beyond = None if rest is None else model.risk(rest)
        language = verdict.language
        if language is PLAIN_ENGLISH:  # not asked yet: no word of another lexicon was found
            language = self.identify(verdict.text, texts[0])
        english = language.code == "en"
        alone = alone_in(model, english, guess.risk)
        category = decide(model, guess, hinted, False, beyond, alone)
        if category is None:
            return verdict
        if hinted.get(category, 0) > 0:
            how = f"beside the lexicon's own words of it (from {model.low:.2f})"
        else:
            bar = model.high if english or model.elsewhere is None else model.elsewhere
            how = f"on its score alone (from {bar:.2f})"
        why = (
            f"the learned model scores it {guess.risk:.2f} as a risk, most like {category} "
            f"({guess.likeness:.2f}), and raises it {how}"
        )
        score = self.marked(verdict, category, why, learned=round(guess.risk, 2))
        others = tuple(s for s in verdict.scores if s.category != category)
        return replace(verdict, scores=(score, *others), categories=(category,))

    def marked(
        self,
        verdict: TextVerdict,
        category: str,
        why: str,
        learned: float = 0.0,
        asked: bool = False,
    ) -> Score:
        """``category``'s score in ``verdict`` (or a new one) over its limit because of the
        model (``asked``: as help), ``why`` added to its reasons."""
        old = next((s for s in verdict.scores if s.category == category), None)
        return Score(
            category,
            old.total if old else 0,
            old.limit if old else self._limit(category, verdict.band, verdict.kind),
            True,
            (*(old.reasons if old else ()), why),
            asked,
            learned,
        )

    def helped(self, verdict: TextVerdict, texts: tuple[str, ...]) -> TextVerdict | None:
        """``verdict`` with help marked where the model reads help asked and the lexicons did
        not; None otherwise."""
        model = self.model
        if (
            model.help_at is None
            or verdict.support
            or verdict.band not in PUPIL_BANDS
            or verdict.kind == TITLE
            or texts[0].count(" ") < MIN_WORDS - 1
        ):
            return None
        score = model.help(texts[0])
        if score < model.help_at:
            return None
        category = verdict.categories[0] if verdict.categories else model.guess(texts[0]).category
        why = (
            f"the learned model reads it as help asked ({score:.2f}, from {model.help_at:.2f}), "
            f"about {category}"
        )
        mark = self.marked(verdict, category, why, asked=True)
        others = tuple(s for s in verdict.scores if s.category != category)
        rest = tuple(c for c in verdict.categories if c != category)
        return replace(
            verdict, scores=(mark, *others), categories=(category, *rest), support=(category,)
        )

    def beyond(self, texts: tuple[str, ...]) -> str | None:
        """The reading of ``texts`` with a grooming signal, without the words of the
        signals the lexicons found in it (or their joins' parts), or None when there were
        none."""
        found = [
            h
            for h in self.find(texts)
            if h.entry.category == PATTERN and h.entry.cls in (SIGNAL, PART)
        ]
        if not found:
            return None
        reading = found[0].reading
        drop = {n for h in found if h.reading == reading for n in range(h.first, h.last + 1)}
        return " ".join(w for n, w in enumerate(texts[reading].split()) if n not in drop)

    def quiet(self, texts: tuple[str, ...]) -> bool:
        """Whether the lexicons read help, a lesson, news or a harmless sense in ``texts``
        (looked for only when the model would raise: most texts never get here); a harmless
        sense a join gives counts where both its parts are found."""
        return any(h.entry.cls in QUIET for h in with_joins(self.find(texts)))


def default_judge() -> BlendedJudge:
    """The lexicons and the learned model shipped with monitord."""
    return BlendedJudge(default_lexicon(), default_model())
