"""Grooming read across messages by the learned model, beside the lexicons' signals.

A pupil being groomed types one sign a message, in their own words: their age, that they
will not tell their mum, that they are home alone, what the other wants shown. The lexicons
name many of those signs, never all; when they find one in the last messages typed close
together and the rest are phrasings they do not list, the pattern is missed. The learned
model (:mod:`monitord.classify.textrisk.learned`), trained on conversations of the corpora
read as the last few messages joined, reads those messages as one text.

It raises grooming over messages only when all of these hold, so that one weak sign, or
unrelated everyday chat typed minutes apart, is never an alert:

- the reader is a pupil and no lesson document is open;
- two messages or more were typed close together;
- the model scores them together at ``WINDOW_HIGH`` or over, most like grooming;
- the lexicons found at least one grooming signal in them (the model never raises a
  conversation on its own, in any language), and not one everyday ask alone (a photo, a
  meeting, a gift, another app: "coach wants photos of everyone in kit for the website");
- what is left once the words of those signals are taken out still scores ``BEYOND`` or
  over: the model reads more than the one sign the lexicons found;
- the lexicons read no help, lesson or news in them, nor a harmless sense of grooming's
  own words ("a surprise party").

The explanation says so: which messages, the model's score, the signals the lexicons found.
"""

from __future__ import annotations

from dataclasses import replace

from monitord.classify.textrisk.blend import BlendedJudge
from monitord.classify.textrisk.judge import GROOMING, PUPIL_BANDS, TYPED, Score, TextVerdict
from monitord.classify.textrisk.lexicon import BENIGN, CONTEXT, SUPPORT
from monitord.classify.textrisk.normal import joined_readings, readings

# Signals friends trade every day (a photo of the homework, meeting at the park, a gift card,
# "add me on snap"): across messages, two of them are no pattern without a third, or without
# a sign of another kind (secrecy, isolation, an older contact, sexual talk, flattery, being
# alone, the child's age, a threat). In one message two of any kind still are. The model
# never reads a pattern beside one of them alone ("coach wants photos of everyone in kit" /
# "yeah just email it to him"): a sign of another kind, or two, must be among its messages.
EVERYDAY = frozenset({"photo", "meet", "gift", "private_app"})

# The model's score for messages read together: its ``high``, at which it raises one English
# text alone; here in any language, since a sign the lexicons found must be among them.
WINDOW_HIGH = 0.90
# What is left of them without the words of the lexicons' signals must score this too.
BEYOND = 0.60


def _quiet(found: TextVerdict) -> bool:
    """Whether the lexicons read help, a lesson or news in the messages, or a harmless sense
    of grooming's own words ("a surprise party"); a harmless sense of another category's
    word ("steam", "card") says nothing of grooming."""
    said = (CONTEXT, SUPPORT)
    return any(
        h.entry.cls in said or (h.entry.cls == BENIGN and h.entry.category == GROOMING)
        for h in found.hits
    )


def learned_pattern(
    judge: BlendedJudge, close: tuple[str, ...], band: str, lesson: str | None
) -> TextVerdict | None:
    """The verdict on the messages ``close`` (typed close together, oldest first) read as
    one text, with grooming raised by the model's score beside the lexicons' signals; None
    when the rule above does not hold."""
    if band not in PUPIL_BANDS or lesson is not None or len(close) < 2:
        return None
    model = judge.model
    if model.risk_joined([readings(t)[0] for t in close]) < WINDOW_HIGH:
        return None  # most windows stop here: a sum of each message's remembered sum
    texts = joined_readings(close)
    guess = model.guess(texts[0])
    if guess.category != GROOMING:
        return None
    text = " . ".join(close)
    # messages read together: the lexicons alone (the blended judge asks no model of them)
    found = judge.judge_readings(text, texts, TYPED, band, None, len(close))
    if not found.signals or _quiet(found):
        return None
    if len(found.signals) < 2 and set(found.signals) <= EVERYDAY:
        return None
    rest = judge.beyond(texts)
    if rest is None or model.risk(rest) < BEYOND:
        return None
    listed = ", ".join(
        f"{kind.replace('_', ' ')} {said[0]}" for kind, said in found.signals.items()
    )
    why = (
        f"the learned model scores the last {len(close)} messages read together "
        f"{guess.risk:.2f} as a risk, most like grooming ({guess.likeness:.2f}), beside the "
        f"grooming signals the lexicons found in them: {listed}; it raises the pattern from "
        f"{WINDOW_HIGH:.2f}"
    )
    old = next((s for s in found.scores if s.category == GROOMING), None)
    score = Score(
        GROOMING,
        old.total if old else 0,
        old.limit if old else judge._limit(GROOMING, band, TYPED),
        True,
        (*(old.reasons if old else ()), why),
        learned=round(guess.risk, 2),
    )
    others = tuple(s for s in found.scores if s.category != GROOMING)
    return replace(found, scores=(score, *others), categories=(GROOMING,))
