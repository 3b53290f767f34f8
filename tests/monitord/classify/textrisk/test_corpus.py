"""The project's labelled corpus holds its floors: recall 95% for the high-risk categories,
90% for the rest, false alarms at most 1%, on the tuned part and the shared dev corpus; the
held-out parts are held to what they measured, so that a change that loses them is seen:
heldout.tsv (studied in the second round), unseen.tsv (never tuned on) and the probes of fresh
phrasings (fresh4-8.tsv, fresh20-23.tsv and fresh29.tsv in English; fresh9-15.tsv,
fresh24.tsv and fresh30.tsv in the other languages; fresh25-26.tsv and fresh28.tsv
conversations; fresh27.tsv single texts in all nine; fresh31.tsv conversations in nine languages
and single texts in eight, written blind: each judged once before its misses were studied, and
fresh31 held to what it reached once its misses were studied; fresh32.tsv, of the same
design, kept sealed until the end of that work and held to its first sight; fresh33.tsv,
sealed through the fifth round and held to what it measured after it and after the sixth
round's help frames and food cut with a knife, 3 false alarms; fresh35.tsv, of the same
design, sealed through the sixth round and held to what it measured after it; fresh36.tsv,
likewise, sealed through the sixth round's second text work; both held to their false alarms
after the seventh round's everyday senses, 4 and 5 (the lead's briefs for that work described
phenomena seen in their misses, so they are no longer blind); the model retrained at the
seventh round's end on its check sets raised one game chat of fresh25 and one item of
fresh35, and they are held there; fresh37.tsv, of the same design, written blind at the
seventh round's start, sealed through it and held to what it measured after it; fresh38.tsv
and fresh39.tsv likewise, written blind at the eighth round's start);
vocabulary.tsv, the check sets the other languages' vocabulary was written against;
help.tsv, plans.tsv, ambush.tsv and grievance.tsv, those of the help frames, the plans, the
plans made without a weapon and recruitment by grievance (their false alarms are the
model's, raising the other languages alone); coded.tsv, harms told in code or without their
words (two false alarms are older lexicon entries', the rest the model's); helpparts.tsv,
help asked over several messages (the lexicons alone 0/12, with the model 2/12: its help
score reads English; test_conversation.py holds the reading; the lexicons 10/12 since an ask
to talk in a message before the harm told is read as help, seventh round); disclosure.tsv,
help asked with a harm told (a parent hitting, an adult touching, a friend cutting or
wanting to die) and near misses asking the same about everyday things (3 of its false alarms
are the shipped model's help score, "my friend says she wants to be a vet, should i tell
miss": retrained on the corpora it has none, but moves probe 35's false alarms 4 -> 6; the
fourth "me pega los botones", Spanish for sewing buttons on; the last lines of both, two
sets of 25 and 20, were written after the work and judged once first: 10/14 risks and 1/11
false alarms, then 10/12 and 0/8; main at the round's start 7/14, 1/11 and 3/12, 1/8);
senses.tsv, words of risk in an everyday sense (a cut at Scouts, disappearing under the
duvet, pests killed, a wedding's secret) beside their risky twins; unsaid.tsv, self-harm
hidden, done again or excused and suicide's farewells without their words, beside a real
cat, a charity sale and a friend moving school (misses: marks hidden "in pe", whose injuries
are a harmless sense; a farewell kept from "you can keep my headphones till monday"); told.tsv,
risks told in words the engine had not seen in the weakest categories (a group called vermin
and a call to clean the country of them, a weapon carried for protection, a painless way to
go, a group chat remade without her), beside rats in the shed and a surprise party (the
lexicons alone 191/225; its three false alarms are main's before it, "everyone would be better if
i just stopped talking in class", an umbrella carried "por si acaso" and "a weight off my
shoulders" read by the model);
spoken.tsv, the eight other languages as pupils type them (Arabizi, English mixed in, short
messages, farewells, a death wished on the one insulted, attacks praised) beside twins sharing
the words (eighth round; the lexicons miss a cut owned across four messages; their false
alarms are a pilot called a legend on a flight to Christchurch and a guide a hero there,
told.tsv's join, and a Romanian timetable photo asked with "ai snap?"; the shipped model
raises a Polish goodbye before a holiday and calms captagon asked in Arabizi);
ownlife.tsv, a pupil's own life said outright after a pet, a grandparent, a game or a
headache named before it and apart from it, beside the same words with no harm said (main
before the rule raised none of its 11 risks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.classify.lists import ListError
from monitord.classify.textrisk.blend import default_judge
from monitord.classify.textrisk.corpus import HIGH_RISK, NONE, Item, judge_item, read_corpus, tally
from monitord.classify.textrisk.judge import TextJudge
from monitord.classify.textrisk.lexicon import default_lexicon
from tests.conftest import ROOT, SHARED

TEXTS = ROOT / "tests" / "data" / "texts"
LANGUAGES = {"en", "pl", "ro", "ur", "pa", "bn", "ar", "pt", "es"}


@pytest.fixture(scope="module")
def judge() -> TextJudge:
    return TextJudge(default_lexicon())


@pytest.fixture(scope="module")
def blended() -> TextJudge:
    """The lexicons with the learned model, as the daemon judges: trained on these corpora, so
    its recall here proves nothing (the lexicons' floors are held alone); its false alarms
    are held to the same ceilings."""
    return default_judge()


def test_the_corpus_is_large_and_has_more_harmless_items_than_risks() -> None:
    items = read_corpus(TEXTS / "tune.tsv") + read_corpus(TEXTS / "heldout.tsv")
    assert len(items) >= 800
    harmless = sum(i.expected == NONE for i in items)
    assert harmless >= len(items) - harmless
    for lang in LANGUAGES:
        mine = [i for i in items if i.lang == lang]
        assert sum(i.expected == NONE for i in mine) >= 5, lang
        assert {i.expected for i in mine} >= {"suicide", "grooming", "violence"}, lang


@pytest.mark.parametrize("path", [TEXTS / "tune.tsv", SHARED / "data" / "texts" / "dev-corpus.tsv"])
def test_recall_and_false_alarm_floors(judge: TextJudge, blended: TextJudge, path: Path) -> None:
    assert tally(blended, read_corpus(path)).false_alarm_rate <= 0.01
    t = tally(judge, read_corpus(path))
    for category in t.positives:
        floor = 0.95 if category in HIGH_RISK else 0.90
        assert t.recall(category) >= floor, (category, t.recall(category))
    for lang in t.lang_positives:
        assert t.language_recall(lang) >= 0.90, lang
    assert t.false_alarm_rate <= 0.01


@pytest.mark.parametrize(
    ("name", "recall", "false_alarms"),
    [
        ("heldout", 0.97, 1),
        ("unseen", 0.95, 1),
        ("fresh4", 0.97, 0),
        ("fresh5", 0.97, 0),
        ("fresh6", 0.97, 0),
        ("fresh7", 0.97, 0),
        ("fresh8", 0.97, 0),
        ("fresh20", 0.97, 0),
        ("fresh21", 0.97, 0),
        ("fresh22", 0.97, 0),
        ("fresh23", 0.97, 0),
        ("fresh24", 0.97, 0),
        ("fresh25", 0.97, 1),
        ("fresh26", 0.88, 0),
        ("fresh27", 0.97, 0),
        ("fresh28", 0.95, 0),
        ("fresh29", 0.97, 0),
        ("fresh30", 0.97, 0),
        ("fresh31", 0.94, 1),
        ("fresh32", 0.82, 0),
        ("fresh33", 0.5, 3),
        ("fresh35", 0.52, 5),
        ("fresh36", 0.5, 5),
        ("fresh37", 0.54, 6),
        ("fresh38", 0.66, 7),
        ("fresh39", 0.72, 9),
        ("fresh9", 0.97, 0),
        ("fresh10", 0.97, 0),
        ("fresh11", 0.97, 0),
        ("fresh12", 0.97, 0),
        ("fresh13", 0.97, 0),
        ("fresh14", 0.97, 0),
        ("fresh15", 0.97, 0),
        ("vocabulary", 0.97, 0),
        ("help", 1.0, 0),
        ("plans", 1.0, 0),
        ("ambush", 1.0, 2),
        ("grievance", 1.0, 6),
        ("coded", 1.0, 8),
        ("helpparts", 0.83, 1),
        ("disclosure", 0.97, 4),
        ("senses", 1.0, 0),
        ("unsaid", 0.96, 0),
        ("told", 0.84, 3),
        ("spoken", 0.99, 4),
        ("ownlife", 1.0, 0),
    ],
)
def test_the_held_out_parts_keep_what_they_measured(
    judge: TextJudge, blended: TextJudge, name: str, recall: float, false_alarms: int
) -> None:
    assert tally(blended, read_corpus(TEXTS / f"{name}.tsv")).false_alarms <= false_alarms
    t = tally(judge, read_corpus(TEXTS / f"{name}.tsv"))
    caught = sum(t.caught.values())
    assert caught / sum(t.positives.values()) >= recall
    assert t.false_alarms <= false_alarms


def test_a_malformed_corpus_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("# header\nsuicide\tsearch\ten\n", encoding="utf-8")
    with pytest.raises(ListError, match=r"bad.tsv:2: expected 4 or 5"):
        read_corpus(bad)
    bad.write_text("sadness\tsearch\ten\tx\n", encoding="utf-8")
    with pytest.raises(ListError, match="not a category id"):
        read_corpus(bad)
    bad.write_text("none\tshout\ten\tx\n", encoding="utf-8")
    with pytest.raises(ListError, match="kind 'shout'"):
        read_corpus(bad)


def test_a_conversation_raises_what_any_of_its_messages_raised(judge: TextJudge) -> None:
    # the pattern is complete at the second message; the third adds nothing
    text = "he sent me money || now he wants pics and says ill owe him || whatever"
    v = judge_item(judge, Item("grooming", "conversation", "en", text))
    assert "grooming" in v.categories
    calm = "are you coming to the park || mum says yes || see you there"
    assert judge_item(judge, Item("none", "conversation", "en", calm)).categories == ()


def test_everyday_chat_in_every_language_raises_nothing(blended: TextJudge) -> None:
    items = read_corpus(TEXTS / "everyday.tsv")
    assert {i.lang for i in items} == {"en", "pl", "ro", "es", "pt", "ur", "pa", "bn", "ar"}
    assert all(i.expected == NONE for i in items)
    assert tally(blended, items).false_alarms == 0
