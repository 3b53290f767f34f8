"""Telling a text's language: script, CLD2, and the lexicons' words."""

from __future__ import annotations

from monitord.classify.textrisk.judge import JUNIOR, SEARCH, TextJudge
from monitord.classify.textrisk.language import PLAIN_ENGLISH, arabizi_words, identify
from monitord.classify.textrisk.lexicon import default_lexicon

MARKERS = {
    "en": frozenset({"the", "how"}),
    "pl": frozenset({"jak", "sie"}),
    "ur": frozenset({"kaise", "hai", "hain"}),
    "ro": frozenset({"sa", "cum"}),
    "ar": frozenset({"bdi", "shu"}),
}


def _id(text: str, found: dict[str, int] | None = None) -> tuple[str, bool]:
    got = identify(text, text.lower().split(), MARKERS, found)
    return got.code, got.sure


def test_scripts_say_the_language() -> None:
    assert _id("আত্মহত্যা করার উপায়") == ("bn", True)
    assert _id("ਖੁਦਕੁਸ਼ੀ ਕਿਵੇਂ ਕਰੀਏ") == ("pa", True)
    assert _id("خودکشی کیسے کریں") == ("ur", True)
    assert _id("كيف أنتحر") == ("ar", True)


def test_cld2_names_a_longer_latin_text() -> None:
    got = identify("jak zrobić naleśniki z serem", [], MARKERS)
    assert got.code == "pl"
    assert got.how.startswith("CLD2")
    assert got.reads("pl")
    assert got.reads("en")


def test_marker_and_lexicon_words_name_what_cld2_cannot() -> None:
    got = identify("khudkushi kaise karte hain", ["khudkushi", "kaise", "karte", "hain"], MARKERS)
    assert (got.code, got.sure) == ("ur", True)
    assert got.reads("pa")  # romanised Punjabi shares its words
    assert "kaise" in got.how
    assert _id("zorp blat", {"ro": 1})[0] == "ro"


def test_a_lexicon_word_outvotes_cld2_sure_of_a_language_with_no_lexicon() -> None:
    # CLD2 is sure this line of Roman Bengali is Xhosa; one Bengali lexicon word wins
    text = "baba ma ke bolba na amader kotha"
    assert identify(text, text.split(), MARKERS).code == "xh"
    got = identify(text, text.split(), MARKERS, {"ur": 1})
    assert (got.code, got.sure) == ("ur", False)
    assert got.reads("ur")


def test_one_common_marker_word_does_not_outvote_cld2() -> None:
    # CLD2 is sure "tango lessons near me" is Lingala; "me", a Spanish marker, is one word of
    # many languages and no evidence of Spanish
    markers = {**MARKERS, "es": frozenset({"me", "que", "como"})}
    text = "tango lessons near me"
    got = identify(text, text.split(), markers)
    assert got.code != "es"
    assert not got.reads("es")


def test_with_no_evidence_a_text_is_english_and_unsure() -> None:
    assert _id("qwxz") == ("en", False)
    assert PLAIN_ENGLISH.reads("en")
    assert not PLAIN_ENGLISH.reads("pl")


def test_broken_text_is_no_error() -> None:
    assert identify("lone \ud800 surrogate", [], MARKERS).code == "en"


def test_of_languages_with_as_many_votes_the_one_with_a_lexicon_word_wins() -> None:
    # CLD2 is sure this line of Roman Urdu is Danish; Punjabi has a marker word of it
    # ("mere"), Urdu a phrase of its lexicon: Urdu is read
    markers = {**MARKERS, "pa": frozenset({"mere", "nu"})}
    text = "sab mere bina khush rahenge"
    assert identify(text, text.split(), markers).code == "da"
    got = identify(text, text.split(), markers, {"ur": 1})
    assert got.code == "ur"
    assert got.reads("ur")


def test_a_language_cld2_is_sure_of_is_not_read_in_another_for_its_lexicon_words() -> None:
    # "pod" and "po" of everyday Polish are Portuguese drugs' "pod" and "pó"
    judge = TextJudge(default_lexicon())
    for text in ("kot spi pod lozkiem po obiedzie", "po szkole idziemy pod sklep"):
        verdict = judge.judge(text, SEARCH, JUNIOR)
        assert verdict.language.code == "pl"
        assert not verdict.language.reads("pt")
        assert verdict.categories == ()


def test_words_of_the_arabic_chat_alphabet_are_counted_not_text_speak() -> None:
    assert arabizi_words("shu 3omrek? enti ktir 7elwe") == 2
    assert arabizi_words("ma t2oli la 7ada") == 2
    assert arabizi_words("see u 2day, gr8 game, 3rd place at 7pm, ps5 and fifa23") == 0
    assert arabizi_words("2xl hoodie, 5min, 9yo") == 0
    assert arabizi_words("how to draw a horse") == 0


def test_arabizi_words_vote_for_arabic() -> None:
    # "bala" is a Portuguese lexicon word (a pill); the chat alphabet's words outvote it
    text = "ab3atli sowarek bala 2awa3i"
    got = identify(text, text.split(), MARKERS, {"pt": 1})
    assert got.code == "ar"
    assert got.reads("ar")
    assert got.how.startswith("the Arabic chat alphabet (2 words)")


def test_a_short_arabizi_line_is_judged_with_arabic_joins() -> None:
    judge = TextJudge(default_lexicon())
    for text, category in (
        ("ab3atli sowarek bala 2awa3i", "grooming"),
        ("bdi emout, ma 7ada bi7ebni", "suicide"),
        ("jara7t 7ali bel shafra mbere7, ma t2ol la 7ada", "self_harm"),
    ):
        verdict = judge.judge(text, "typed_text", JUNIOR)
        assert verdict.language.code == "ar", text
        assert category in verdict.categories, text
    for text in ("sam7ouni ta2akhart, ma 3ad ra7 et2akhar", "bukra ba3d el madrase ra7 nel3ab"):
        assert judge.judge(text, "typed_text", JUNIOR).categories == (), text


def test_a_join_said_whole_makes_its_language_read() -> None:
    # "nude" is in the picture joins of seven languages and twice a Portuguese word; with
    # "pathao" it is a Bengali join said whole, and Bengali is read
    judge = TextJudge(default_lexicon())
    verdict = judge.judge("nude pathao", "typed_text", JUNIOR)
    assert verdict.language.code == "bn"
    assert "grooming" in verdict.categories
    verdict = judge.judge("abbu amake roj mare, kake bolbo bujhte parchi na", "typed_text", JUNIOR)
    assert verdict.language.code == "bn"
    assert verdict.support
