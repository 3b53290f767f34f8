"""The lexicons and the learned model together: the model raises alone only at its high score,
at its low one only beside the lexicon's own words of the category; never for help, a lesson,
an idiom, a window title or an adult; messages typed together are read together; and the
explanation says the model made the call, with its score."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitord.classify.textrisk.blend import BlendedJudge, default_judge
from monitord.classify.textrisk.conversation import Conversations, with_recent
from monitord.classify.textrisk.judge import ADULT, JUNIOR, SEARCH, TITLE, TYPED, TextJudge
from monitord.classify.textrisk.learned import TextModel
from monitord.classify.textrisk.lexicon import default_lexicon
from monitord.classify.textrisk.words import as_json, sentences

T = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def model(high: float = 0.9, low: float = 0.6, elsewhere: float | None = None) -> TextModel:
    """By hand: "zorblax" scores 0.98 (suicide), "glim" 0.62 (suicide), "drab" 0.62 (drugs)."""
    return TextModel(
        bias=-4.0,
        weights={"zorblax": 8.0, "glim": 4.5, "drab": 4.5},
        categories=("drugs", "suicide"),
        category_bias=(0.0, 0.0),
        category_weights={"zorblax": (-1.0, 2.0), "glim": (-1.0, 2.0), "drab": (2.0, -1.0)},
        high=high,
        low=low,
        elsewhere=elsewhere,
    )


@pytest.fixture(scope="module")
def judge() -> BlendedJudge:
    return BlendedJudge(default_lexicon(), model())


def test_a_high_score_raises_alone_and_says_so(judge: BlendedJudge) -> None:
    v = judge.judge("zorblax tonight again please", SEARCH, JUNIOR)
    assert v.categories == ("suicide",)
    s = v.scores[0]
    assert s.over
    assert s.learned == pytest.approx(0.98, abs=0.01)
    said = " ".join(sentences(v, "English"))
    assert "the learned model scores it 0.98 as a risk, most like suicide" in said
    assert "on its score alone (from 0.90)" in said
    assert "reported on the learned model's score of 0.98" in said
    assert as_json(v, "English")["scores"][0]["learned_score"] == pytest.approx(0.98)
    assert judge.judge("zorblax tonight", SEARCH, JUNIOR).categories == ()  # two words say little


def test_a_typed_message_the_model_reads_as_harmless_is_not_raised() -> None:
    said = "i took loads of pills tonight"  # every word unknown to the hand model: 0.02
    lexicons = TextJudge(default_lexicon())
    assert lexicons.judge(said, TYPED, JUNIOR).categories == ("suicide",)
    calm = BlendedJudge(default_lexicon(), replace(model(), harmless=0.05))
    v = calm.judge(said, TYPED, JUNIOR)
    assert v.categories == ()
    s = next(s for s in v.scores if s.category == "suicide")
    assert not s.over
    assert "scores it 0.02 as a risk, under 0.05: a typed message read as everyday talk" in (
        " ".join(s.reasons)
    )
    # a search, a short message, one the model scores higher, an adult's: the lexicons' word
    assert calm.judge(said, SEARCH, JUNIOR).categories == ("suicide",)
    assert calm.judge("kill myself", TYPED, JUNIOR).categories == ("suicide",)
    assert calm.judge(f"{said} zorblax", TYPED, JUNIOR).categories == ("suicide",)
    assert calm.judge(said, TYPED, ADULT).categories == ("suicide",)
    # grooming is a pattern whose single messages read as everyday talk
    secret = "dont tell your mum, send me a pic of you"
    assert lexicons.judge(secret, TYPED, JUNIOR).categories == ("grooming",)
    assert calm.judge(secret, TYPED, JUNIOR).categories == ("grooming",)
    # a harm said outright is never the model's to silence, however everyday the rest
    for plain in ("i want to kill myself tonight", "football practice then tea then kill myself"):
        assert calm.judge(plain, TYPED, JUNIOR).categories == ("suicide",), plain
    # without the score set, nothing is calmed
    assert BlendedJudge(default_lexicon(), model()).judge(said, TYPED, JUNIOR).categories == (
        "suicide",
    )


def test_another_language_raises_alone_only_from_its_own_bar() -> None:
    polish = "nie wiem czy zorblax dzisiaj jest"
    assert BlendedJudge(default_lexicon(), model()).judge(polish, SEARCH, JUNIOR).categories == ()
    strict = BlendedJudge(default_lexicon(), model(elsewhere=0.99))
    assert strict.judge(polish, SEARCH, JUNIOR).categories == ()
    v = BlendedJudge(default_lexicon(), model(elsewhere=0.97)).judge(polish, SEARCH, JUNIOR)
    assert v.categories == ("suicide",)
    assert "on its score alone (from 0.97)" in " ".join(sentences(v, "English"))


def test_a_low_score_raises_only_beside_a_word_of_the_same_category(judge: BlendedJudge) -> None:
    assert judge.judge("glim", SEARCH, JUNIOR).categories == ()
    # "paracetamol" alone is a word of suicide that does not reach the limit
    alone = TextJudge(default_lexicon()).judge("paracetamol glim lorem ipsum", SEARCH, JUNIOR)
    assert alone.categories == ()
    assert any(s.category == "suicide" for s in alone.scores)
    v = judge.judge("paracetamol glim lorem ipsum", SEARCH, JUNIOR)
    assert v.categories == ("suicide",)
    assert "beside the lexicon's own words of it (from 0.60)" in " ".join(v.scores[0].reasons)
    # the model's guess is drugs, the lexicon's word is of suicide: nothing
    assert judge.judge("paracetamol drab lorem ipsum", SEARCH, JUNIOR).categories == ()


def test_help_lessons_idioms_titles_and_adults_stay_as_the_lexicons_said(
    judge: BlendedJudge,
) -> None:
    helped = judge.judge("zorblax childline", TYPED, JUNIOR)  # help stays help
    assert helped.support
    assert not any(s.learned for s in helped.scores)
    assert judge.judge("zorblax homework for history class", SEARCH, JUNIOR).categories == ()
    assert judge.judge("zorblax i nearly died laughing", TYPED, JUNIOR).categories == ()
    # an everyday context a join gives (the duvet beside disappearing) quiets it too, but only
    # with both its parts: the duvet alone is no context
    assert judge.judge("zorblax i want to disappear under my duvet", TYPED).categories == ()
    assert judge.judge("zorblax i love my duvet so much", TYPED).categories == ("suicide",)
    assert judge.judge("zorblax right now please", TITLE, JUNIOR).categories == ()
    assert judge.judge("zorblax right now please", SEARCH, ADULT).categories == ()
    assert (
        judge.judge(
            "zorblax right now please", SEARCH, JUNIOR, lesson="Year 5 PSHE lesson"
        ).categories
        == ()
    )


def test_what_the_lexicons_raise_is_theirs(judge: BlendedJudge) -> None:
    v = judge.judge("how to kill myself zorblax", SEARCH, JUNIOR)
    assert v.categories == ("suicide",)
    assert v.scores[0].learned == 0.0


def test_messages_typed_together_are_left_to_the_lexicons(judge: BlendedJudge) -> None:
    # each message is read by the model alone; joined, harmless chat read as one text raised
    # false alarms on conversations written blind ("dont tell mum i broke the vase" ...)
    talk = Conversations()
    verdict = judge.judge("", TYPED)
    for i, message in enumerate(["hey", "zor", "tonight"]):
        recent = talk.add("amy", "chat", T + timedelta(seconds=30 * i), message)
        verdict = with_recent(judge, judge.judge(message, TYPED), recent, JUNIOR, None)
    assert verdict.categories == ()
    assert judge.judge("zorblax right now please", TYPED).categories == ("suicide",)


def test_the_shipped_judge_catches_a_phrasing_no_lexicon_lists() -> None:
    judge = default_judge()
    assert judge.judge("what time does the library open", SEARCH, JUNIOR).categories == ()
    assert judge.judge("i nearly died laughing at that video", TYPED, JUNIOR).categories == ()


def test_outside_english_the_model_needs_a_word_of_the_category(judge: BlendedJudge) -> None:
    assert judge.judge("zorblax jak tańczyć tango żeby się nie wstydzić", TYPED).categories == ()
    assert judge.judge("zorblax how to dance the tango", TYPED).categories == ("suicide",)


def test_help_the_model_reads_is_help_never_a_risk() -> None:
    # "quixly" stands for the words of a help ask no lexicon lists
    helping = replace(model(), help_bias=-4.0, help_weights={"quixly": 8.0}, help_at=0.9)
    judge = BlendedJudge(default_lexicon(), helping)
    v = judge.judge("i want quixly about it", TYPED, JUNIOR)
    assert v.support == v.categories
    assert v.support_seeking
    assert "the learned model reads it as help asked (0.98, from 0.90)" in " ".join(
        sentences(v, "English")
    )
    # the category the text is most like is marked as help; its risk score raises nothing
    v = judge.judge("i want zorblax and quixly now", TYPED, JUNIOR)
    assert v.support == ("suicide",)
    assert all(s.learned == 0.0 for s in v.scores)
    assert judge.judge("quixly about it", TYPED, JUNIOR).support == ()  # three words
    assert judge.judge("i want quixly about it", TITLE, JUNIOR).support == ()
    assert judge.judge("i want quixly about it", TYPED, ADULT).support == ()
    assert judge.judge("i want nothing about it", TYPED, JUNIOR).categories == ()
