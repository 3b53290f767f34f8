"""A judgement in sentences and as JSON."""

from __future__ import annotations

import json

from monitord.classify.textrisk.judge import TYPED, TextJudge
from monitord.classify.textrisk.lexicon import default_lexicon
from monitord.classify.textrisk.words import as_json, sentences, summary

JUDGE = TextJudge(default_lexicon())


def test_sentences_name_the_frame_the_phrases_the_limit_and_the_outcome() -> None:
    v = JUDGE.judge("how many paracetamol does it take to die")
    lines = sentences(v, "English")
    assert lines[0] == "Language: English (plainly English)."
    (line,) = [x for x in lines if x.startswith("suicide:")]
    assert "frames it (asking for a method)" in line
    assert "against the junior limit of 100 for a search: reported." in line


def test_help_grooming_and_other_languages_read_as_sentences() -> None:
    help_ = sentences(JUDGE.judge("childline number"), "English")
    assert any("looking for help" in x and "never as a risk" in x for x in help_)
    groom = JUDGE.judge("dont tell your mum, send me a pic", TYPED)
    text = summary(groom, "grooming", "English")
    assert "2 kinds of grooming signal" in text
    assert "isolation" in text
    pl = JUDGE.judge("jak popełnić samobójstwo")
    assert "Language: Polish (CLD2" in summary(pl, "suicide", "Polish")


def test_nothing_found_says_so() -> None:
    assert sentences(JUDGE.judge("how to draw a cat"), "English")[-1].startswith("No word")


def test_the_json_form_is_json() -> None:
    v = JUDGE.judge("im going to unalive myself", TYPED, messages=3)
    out = json.loads(json.dumps(as_json(v, "English")))
    assert out["categories"] == ["suicide"]
    assert out["messages"] == 3
    assert any(p["phrase"] == "unalive myself" for p in out["phrases"])
    assert out["sentences"][1].startswith("Judged with the 2 messages")
