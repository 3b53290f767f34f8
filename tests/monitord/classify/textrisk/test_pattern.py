"""Grooming read across messages by the learned model: only beside a sign the lexicons found,
only when more than that sign scores, never for an adult, beside a lesson or for a lesson's
words; and the explanation says the model made the call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitord.classify.textrisk.blend import BlendedJudge, default_judge
from monitord.classify.textrisk.conversation import Conversations, with_recent
from monitord.classify.textrisk.judge import ADULT, JUNIOR, TYPED, TextJudge
from monitord.classify.textrisk.learned import TextModel
from monitord.classify.textrisk.lexicon import default_lexicon
from monitord.classify.textrisk.pattern import learned_pattern

T = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def model() -> TextModel:
    """By hand: "zorblax" is grooming's word (4 of them score 0.99); "alone" and "snap" weigh
    as much, so that a window scoring high only on the lexicons' own sign is told apart."""
    return TextModel(
        bias=-6.0,
        weights={"zorblax": 3.0, "alone": 6.0, "snap": 6.0},
        categories=("grooming", "suicide"),
        category_bias=(0.0, 0.0),
        category_weights={"zorblax": (2.0, -1.0), "alone": (2.0, -1.0), "snap": (2.0, -1.0)},
        high=0.9,
        low=0.6,
    )


@pytest.fixture(scope="module")
def judge() -> BlendedJudge:
    return BlendedJudge(default_lexicon(), model())


def _typed(judge: TextJudge, *messages: str, band: str = JUNIOR) -> tuple[str, ...]:
    """Every category raised while ``messages`` are typed 40 s apart by one pupil."""
    talk = Conversations()
    raised: dict[str, None] = {}
    for i, message in enumerate(messages):
        recent = talk.add("amy", "chat", T + timedelta(seconds=40 * i), message)
        verdict = judge.judge(message, TYPED, band)
        if recent.messages > 1:
            verdict = with_recent(judge, verdict, recent, band, None)
        raised.update(dict.fromkeys(verdict.categories))
    return tuple(raised)


def test_a_sign_and_what_the_model_reads_beside_it_are_a_pattern(judge: BlendedJudge) -> None:
    assert _typed(judge, "zorblax zorblax", "are you alone", "zorblax zorblax") == ("grooming",)
    found = learned_pattern(judge, ("zorblax zorblax zorblax", "are you alone"), JUNIOR, None)
    assert found is not None
    assert found.categories == ("grooming",)
    reasons = " ".join(found.scores[0].reasons)
    assert "learned model scores the last 2 messages" in reasons
    assert 'alone "are you alone"' in reasons
    assert found.scores[0].learned >= 0.9


def test_one_everyday_ask_alone_is_no_pattern(judge: BlendedJudge) -> None:
    # a photo, a meeting, a gift or another app asked for is what friends trade every day:
    # the model's score beside it raises nothing ("coach wants photos of everyone in kit")
    assert _typed(judge, "zorblax zorblax", "whats your snap", "zorblax zorblax") == ()
    snap = ("zorblax zorblax zorblax", "whats your snap")
    assert learned_pattern(judge, snap, JUNIOR, None) is None
    # beside a sign of another kind it is read
    both = ("zorblax zorblax zorblax", "whats your snap", "are you alone")
    assert learned_pattern(judge, both, JUNIOR, None) is not None


def test_no_sign_of_the_lexicons_no_pattern(judge: BlendedJudge) -> None:
    assert _typed(judge, "zorblax zorblax", "zorblax zorblax zorblax", "ok zorblax") == ()


def test_a_score_made_by_the_sign_alone_is_no_pattern(judge: BlendedJudge) -> None:
    # "alone" scores the window high, but without the sign's words the rest scores nothing
    assert _typed(judge, "hi", "are you alone", "ok") == ()
    assert learned_pattern(judge, ("hello there", "are you alone"), JUNIOR, None) is None


def test_adults_lessons_and_lesson_words_stay_quiet(judge: BlendedJudge) -> None:
    msgs = ("zorblax zorblax", "are you alone", "zorblax zorblax")
    assert _typed(judge, *msgs, band=ADULT) == ()
    assert learned_pattern(judge, msgs, JUNIOR, "Year 6 PSHE - online safety.docx") is None
    assert learned_pattern(judge, (*msgs[:2], "zorblax homework"), JUNIOR, None) is None
    # a harmless sense of another category's word ("steam") does not silence it
    assert learned_pattern(judge, (*msgs[:2], "zorblax steam"), JUNIOR, None) is not None


def test_one_message_is_never_read_as_a_pattern(judge: BlendedJudge) -> None:
    assert learned_pattern(judge, ("zorblax zorblax are you alone",), JUNIOR, None) is None


def test_the_shipped_model_reads_the_pupils_side() -> None:
    judge = default_judge()
    steam = ("he keeps sending me money on my steam", "he said i owe him now", "he wants pics")
    assert "grooming" in _typed(judge, *steam)
    harmless = ("are you home alone", "can you let the dog out", "mums stuck in traffic")
    assert _typed(judge, *harmless) == ()
