"""Lexicon files: reading, errors naming the key, joined forms, one-slip typos."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.classify.textrisk.lexicon import (
    ACT,
    EXPLICIT,
    FRAME,
    PART,
    SIGNAL,
    Lexicon,
    LexiconError,
    default_lexicon,
    load_lexicons,
    read_lexicon,
    slips,
)

LEXICON = """
language = "xx"
name = "Test"
markers = ["zorp"]
[frames]
method = ["how to"]
[suicide]
explicit = ["end my life"]
act = ["paracetamol"]
[grooming.signals]
gift = ["robux"]
"""


def _write(tmp_path: Path, text: str, name: str = "xx.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _found(lex: Lexicon, text: str) -> set[tuple[str, str]]:
    return {(lex.entries[k.entry].phrase, k.typo) for _f, _l, k in lex.scan(text)}


def test_a_lexicon_file_gives_its_language_and_entries(tmp_path: Path) -> None:
    lang, entries = read_lexicon(_write(tmp_path, LEXICON))
    assert (lang.code, lang.name, lang.markers) == ("xx", "Test", frozenset({"zorp"}))
    got = {(e.phrase, e.cls, e.category, e.kind) for e in entries}
    assert got == {
        ("how to", FRAME, "", "method"),
        ("end my life", EXPLICIT, "suicide", ""),
        ("paracetamol", ACT, "suicide", ""),
        ("robux", SIGNAL, "grooming", "gift"),
    }


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('name = "x"', "language: expected a language code"),
        ('language = "x"\n[nonsense]\nact = ["a"]', r"\[nonsense\] is not a category id"),
        ('language = "x"\n[suicide]\nloud = ["a"]', "suicide.loud: not one of"),
        ('language = "x"\n[frames]\nwhy = ["a"]', "frames.why: not one of"),
        ('language = "x"\n[grooming.signals]\nhugs = ["a"]', "grooming.signals.hugs: not one of"),
        ('language = "x"\n[suicide]\nact = "a"', "suicide.act: expected a list of strings"),
        ("language = ", "not valid TOML"),
        (
            'language = "x"\n[suicide]\njoins = "a"',
            r"suicide.joins: expected \[\[suicide.joins\]\]",
        ),
        (
            'language = "x"\n[[suicide.joins]]\ngives = "photo"\na = ["x"]\nb = ["y"]',
            r"suicide.joins\[1\].gives: not one of",
        ),
        (
            'language = "x"\n[[grooming.joins]]\ngives = "photo"\na = ["x"]\nb = []',
            r"grooming.joins\[1\].b: expected at least one phrase",
        ),
        (
            'language = "x"\n[[suicide.joins]]\ngives = "act"\nnear = 40\na = ["x"]\nb = ["y"]',
            r"suicide.joins\[1\].near: expected a number of words from 1 to 12",
        ),
        (
            'language = "x"\n[[suicide.joins]]\ngives = "act"\na = ["x"]\nb = ["y"]\nc = ["z"]',
            r"unknown key 'c'",
        ),
        (
            'language = "x"\n[[suicide.joins]]\ngives = "act"\nnear = true\na = ["x"]\nb = ["y"]',
            r"suicide.joins\[1\].near: expected a number of words from 1 to 12",
        ),
        ('language = "x"\n[suicide]\nstrong = ["ok", "£"]', "suicide.strong: '£' reads as no word"),
        (
            'language = "x"\n[[grooming.joins]]\ngives = "gift"\na = ["x"]\nb = ["…"]',
            r"grooming.joins\[1\].b: '…' reads as no word",
        ),
    ],
)
def test_a_bad_lexicon_is_refused_naming_the_key(tmp_path: Path, text: str, why: str) -> None:
    with pytest.raises(LexiconError, match=why):
        read_lexicon(_write(tmp_path, text))


def test_phrases_match_whole_words_and_explicit_ones_joined(tmp_path: Path) -> None:
    _write(tmp_path, LEXICON)
    lex = load_lexicons(tmp_path)
    assert ("end my life", "") in _found(lex, "i will endmylife")
    assert _found(lex, "robuxes and paracetamols") == set()
    first, last, _key = next(iter(lex.scan("please end my life now")))
    assert (first, last) == (1, 3)


def test_one_slip_in_a_long_word_is_forgiven_unless_it_spells_a_real_word(tmp_path: Path) -> None:
    _write(tmp_path, LEXICON.replace('act = ["paracetamol"]', 'act = ["paracetamol", "strangle"]'))
    (tmp_path / "words.txt").write_text("# real words\nstrange\n", encoding="utf-8")
    lex = load_lexicons(tmp_path)
    assert _found(lex, "paracetmol") == {("paracetamol", "paracetmol")}
    assert _found(lex, "paracetemol") == {("paracetamol", "paracetemol")}
    assert _found(lex, "praacetamol") == {("paracetamol", "praacetamol")}
    assert _found(lex, "strange") == set()
    assert _found(lex, "robx") == set()  # short words are never guessed at


def test_slips_are_the_kinds_children_make() -> None:
    s = slips("overdose")
    assert {"overdos", "ovredose", "overddose", "overdase"} <= s
    assert "overdose" not in s
    assert "xverdose" not in s  # consonants are not swapped for others


def test_the_shipped_lexicons_load_in_every_language() -> None:
    lex = default_lexicon()
    assert {"en", "pl", "ro", "ur"} <= set(lex.languages)
    assert lex.key_count > len(lex.entries)


def test_a_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="not a folder of lexicons"):
        load_lexicons(tmp_path / "nope")


def test_a_join_gives_parts_of_its_two_sides(tmp_path: Path) -> None:
    text = (
        LEXICON
        + '[[grooming.joins]]\ngives = "photo"\nnear = 3\na = ["send"]\nb = ["pic", "pics"]\n'
    )
    _lang, entries = read_lexicon(_write(tmp_path, text))
    parts = {(e.phrase, e.cls, e.kind, e.side, e.near) for e in entries if e.join}
    assert parts == {
        ("send", PART, "photo", "a", 3),
        ("pic", PART, "photo", "b", 3),
        ("pics", PART, "photo", "b", 3),
    }
    lex = load_lexicons(_write(tmp_path, text).parent)
    # only the distinctive side wakes the judge
    assert lex.matters(("send it",)) is False
    assert lex.matters(("a pic",)) is True


def test_a_stem_matches_the_words_it_begins_and_must_be_long_enough(tmp_path: Path) -> None:
    _write(tmp_path, LEXICON.replace('act = ["paracetamol"]', 'act = ["apuñal*"]'))
    lex = load_lexicons(tmp_path)
    assert _found(lex, "voy a apunalarlo manana") == {("apuñal*", "")}
    first, last, _key = next(iter(lex.scan("voy a apunalarlo")))
    assert (first, last) == (2, 2)
    assert _found(lex, "xapunalar") == set()  # a stem begins a word
    _write(tmp_path, LEXICON.replace('act = ["paracetamol"]', 'act = ["tn*"]'))
    with pytest.raises(LexiconError, match="a stem needs 4 letters or more"):
        load_lexicons(tmp_path)


def test_a_phrase_listed_twice_counts_once(tmp_path: Path) -> None:
    _write(
        tmp_path, LEXICON.replace('act = ["paracetamol"]', 'act = ["paracetamol", "paracetamol"]')
    )
    lex = load_lexicons(tmp_path)
    assert sum(e.phrase == "paracetamol" for e in lex.entries) == 1


def test_a_language_may_be_written_in_two_files(tmp_path: Path) -> None:
    join = '[[grooming.joins]]\ngives = "photo"\nnear = 1\na = ["{a}"]\nb = ["{b}"]\n'
    _write(tmp_path, LEXICON + join.format(a="send", b="pic"))
    more = 'language = "xx"\nname = "Other"\nmarkers = ["blat"]\n[suicide]\nstrong = ["unalive"]\n'
    _write(tmp_path, more + join.format(a="zap", b="snap"), "xx-vocabulary.toml")
    lex = load_lexicons(tmp_path)
    lang = lex.languages["xx"]
    assert lang.name == "Test"  # the language's own file names it
    assert lang.markers == {"zorp", "blat"}
    assert {"end my life", "unalive"} <= {e.phrase for e in lex.entries}
    # each file's first join is a join of its own: its parts pair with each other only
    names = {e.phrase: e.join for e in lex.entries if e.join}
    assert names["send"] == names["pic"] != names["zap"] == names["snap"]


def test_a_stem_is_not_the_english_word_it_begins(tmp_path: Path) -> None:
    english = 'language = "en"\nname = "English"\n[extremism]\nstrong = ["jihad"]\n'
    _write(tmp_path, english, "en.toml")
    _write(
        tmp_path,
        LEXICON.replace(
            'act = ["paracetamol"]',
            'act = ["paracetamol"]\n[extremism]\nstrong = ["jihad", "jihad*"]',
        ),
    )
    lex = load_lexicons(tmp_path)
    kept = {(e.lang, e.phrase) for e in lex.entries if e.category == "extremism"}
    # the same word for the same thing is English's alone; a stem of the other language stays
    assert kept == {("en", "jihad"), ("xx", "jihad*")}
