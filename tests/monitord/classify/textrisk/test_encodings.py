"""Reading other languages' phrase lists in the encodings they were written in."""

from __future__ import annotations

from monitord.classify.textrisk.encodings import decode_list, list_language
from tests.conftest import SHARED

MULTI = SHARED / "data" / "e2guardian-phraselists" / "multilingual"


def test_a_list_names_its_language() -> None:
    assert list_language("weighted_polish") == "pl"
    assert list_language("banned_portuguese") == "pt"
    assert list_language("weighted_russian_utf8") == "ru"
    assert list_language("weighted_general_swedish") == "sv"
    assert list_language("e2guardian/pornography/weighted_japanese") == "ja"
    assert list_language("weighted") is None


def test_each_encoding_is_read_as_written() -> None:
    assert decode_list("<żółw><5>".encode()) == "<żółw><5>"
    assert decode_list("<seksualny><5>".encode("cp1250"), "weighted_polish") == "<seksualny><5>"
    assert decode_list("<секс><5>".encode("cp1251"), "weighted_russian") == "<секс><5>"
    assert decode_list("<секс><5>".encode("koi8_r"), "weighted_russian") == "<секс><5>"
    mixed = "<裸><5>\n".encode("euc_jp") + "<裸体><5>\n".encode("shift_jis") + "<写真><5>".encode()
    assert decode_list(mixed, "weighted_japanese").splitlines() == [
        "<裸><5>",
        "<裸体><5>",
        "<写真><5>",
    ]
    assert decode_list("<café><5>".encode("latin-1"), "weighted_french") == "<café><5>"


def test_the_shared_russian_lists_read_alike_in_both_encodings() -> None:
    legacy = decode_list(
        (MULTI / "pornography" / "weighted_russian").read_bytes(), "weighted_russian"
    )
    utf8 = (MULTI / "pornography" / "weighted_russian_utf8").read_text(encoding="utf-8")
    phrases = [line for line in legacy.splitlines() if line.startswith("<")]
    assert phrases
    assert phrases == [line for line in utf8.splitlines() if line.startswith("<")]
