"""Reading texts as the lexicons are read: Latin fast path, disguises, native scripts, emoji."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from monitord.classify.textrisk.normal import (
    canonical,
    forget_readings,
    joined_readings,
    readings,
    script_of,
    shown,
)
from monitord.core.textnorm import variants


def test_plain_lower_case_ascii_reads_as_itself() -> None:
    assert readings("How  to draw a Cat") == ("how to draw a cat",)


def test_fillers_inside_a_phrase_are_left_out_of_the_extra_reading() -> None:
    assert readings("whats even the point") == ("whats even the point", "whats the point")
    assert readings("i literally wanna die fr") == (
        "i literally wanna die fr",
        "i want to die",
    )
    assert readings("lol") == ("lol",)


def test_text_speak_with_a_digit_is_spelt_out_not_read_as_leetspeak() -> None:
    assert readings("any1 seen my bag")[-1] == "anyone seen my bag"
    assert "see you before class" in readings("see u b4 class")
    assert readings("level 1 boss") == variants("level 1 boss")


def test_disguises_read_as_the_textnorm_readings() -> None:
    for text in ("K I L L myself", "su1c1de", "$elf h@rm", "diiiie", "s.e.w.e.r.s.l.i.d.e"):
        assert readings(text) == variants(text)
    assert readings("K I L L myself")[0] == "kill myself"


def test_accented_latin_folds_as_typed_without_accents() -> None:
    assert canonical("jak się ciąć żeby nie było widać") == canonical(
        "jak sie ciac zeby nie bylo widac"
    )
    assert canonical("cum să mor fără durere") == "cum sa mor fara durere"


def test_native_scripts_keep_their_letters_and_vowel_signs() -> None:
    assert readings("আত্মহত্যা করার উপায়") == ("আত্মহত্যা করার উপায়",)
    assert readings("ਖੁਦਕੁਸ਼ੀ ਕਿਵੇਂ ਕਰੀਏ")[0].split() == ["ਖੁਦਕੁਸ਼ੀ", "ਕਿਵੇਂ", "ਕਰੀਏ"]
    assert script_of("আত্মহত্যা") == "Bengali"
    assert script_of("ਖੁਦਕੁਸ਼ੀ") == "Gurmukhi"
    assert script_of("how") == "Latin"


def test_arabic_script_spellings_are_made_one() -> None:
    # Arabic and Urdu yeh and kaf, alef with hamza, harakat and tatweel, a question mark.
    assert canonical("كيف أنتحر؟") == canonical("کیف انتحر")
    assert canonical("خُودکُشی") == canonical("خودکشي")
    assert canonical("خودکـشی") == canonical("خودکشی")
    assert script_of("خودکشی کیسے کریں") == "Arabic"
    # "and" written onto the next word is read without it too, down to three letters
    assert readings("ولا تقولي") == ("ولا تقولي", "لا تقولي")


def test_arabic_clitics_are_read_off_their_words() -> None:
    # "to", "with" and the article attached to a word: a reading without them
    assert canonical("كيف اروح داعش") in readings("كيف اروح لداعش")
    assert canonical("يقطع خبز سكين") in readings("يقطع الخبز بالسكين")
    assert canonical("رايح مدرسة") in readings("رايح عالمدرسة")
    # words of two letters keep theirs; Urdu, which attaches none of them, is left as it is
    assert readings("لا بد") == ("لا بد",)
    assert len(readings("بلیڈ سے کاٹا")) == 1


def test_emoji_with_a_meaning_become_words_the_rest_spaces() -> None:
    r = readings("bringing this tomorrow 🔪🏽 😂")[0]
    assert r == "bringing this tomorrow emojiknife"
    assert shown("emojiknife") == "\U0001f52a"
    assert shown("word") == "word"


def test_mixed_scripts_keep_every_word() -> None:
    assert readings("mujhe خودکشی karni hai")[0] == "mujhe خودکشي karni hai"


@given(st.text(max_size=200))
def test_any_string_reads_without_raising(text: str) -> None:
    out = readings(text)
    assert out
    assert all(isinstance(r, str) and r == r.strip() for r in out)


def test_pieces_typed_one_after_another_are_read_as_one_sentence() -> None:
    assert joined_readings(("i want to", "KILL", "myself")) == ("i want to kill myself",)
    assert joined_readings(("u", "ok")) == ("u ok", "you ok")
    forget_readings()
    long = ("see you " * 20, "at lunch " * 20)  # longer than is remembered
    assert joined_readings(long) == (" ".join(readings(p)[0] for p in long),)
    assert joined_readings(("u", "ok")) == ("u ok", "you ok")


def test_text_speak_of_one_letter_is_words_not_a_word_spaced_out() -> None:
    assert readings("how old r u? u seem nice")[-1] == "how old are you you seem nice"
    assert readings("k i l l myself") == ("kill myself",)


def test_18_plus_is_a_sign_of_its_own_and_a_sum_is_a_sum() -> None:
    assert readings("18+ vids") == ("eighteenplus vids",)
    assert readings("vídeos +18")[0] == "videos eighteenplus"
    assert "eighteenplus" not in " ".join(readings("18+3 = 21") + readings("what is 18 + 5"))
    assert readings("there are 18 videos")[0] == "there are 18 videos"
