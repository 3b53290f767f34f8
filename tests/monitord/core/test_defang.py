"""Defanging: no logged URL or host reaches a person as a live link, and no control or
bidirectional character changes how it reads."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitord.core.defang import defang

LIVE_SCHEME = re.compile(r"(?i)\b(?:https?|ftps?)://")


# --- defang -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("indicator", "expected"),
    [
        (
            "https://www.example.com/a/b.html?x=1.2",
            "hxxps://www[.]example[.]com/a/b[.]html?x=1[.]2",
        ),
        ("http://evil.example.org", "hxxp://evil[.]example[.]org"),
        ("http://evil.example.org/", "hxxp://evil[.]example[.]org/"),
        ("ftp://files.example.net/pub/x.v2.zip", "fxp://files[.]example[.]net/pub/x[.]v2[.]zip"),
        ("HTTPS://Example.COM/Path.Html", "hxxps://Example[.]COM/Path[.]Html"),
        ("www.pornhub.com", "www[.]pornhub[.]com"),
        ("bet365.com/en/sports.html", "bet365[.]com/en/sports[.]html"),
        # Every link form, wherever it stands: www., protocol-relative, a bare host in a query,
        # full-width and ideographic dots.
        ("go to www.x.com now", "go to www[.]x[.]com now"),
        ("//x.org/a", "//x[.]org/a"),
        (
            "https://g.com/url?q=evil.com&u=www.bad.org",
            "hxxps://g[.]com/url?q=evil[.]com&u=www[.]bad[.]org",
        ),
        ("a\uff0eexample\u3002com", "a[.]example[.]com"),
        ("http://http://evil.com", "hxxp://hxxp://evil[.]com"),
        ("10.0.0.5", "10[.]0[.]0[.]5"),
        ("http://10.0.0.5:8080/x.php", "hxxp://10[.]0[.]0[.]5:8080/x[.]php"),
        ("roblox", "roblox"),
    ],
)
def test_defang(indicator: str, expected: str) -> None:
    assert defang(indicator) == expected


def test_defang_keeps_a_path_readable_with_no_host_left_in_it() -> None:
    path = "/watch/v.12.mp4?a=b.c&d=%2E#frag.x"
    assert defang("https://cdn.example.com" + path) == (
        "hxxps://cdn[.]example[.]com/watch/v[.]12[.]mp4?a=b[.]c&d=%2E#frag[.]x"
    )


@pytest.mark.parametrize("mark", ["\u202e", "\u202d", "\u2066", "\u200f", "\u200b", "\ufeff"])
def test_defang_strips_bidirectional_and_invisible_characters(mark: str) -> None:
    # "moc.evil" written backwards after U+202E reads as "live.com" in a mail client.
    out = defang(f"https://x.example/{mark}moc.evil")
    assert mark not in out
    assert out == "hxxps://x[.]example/ moc[.]evil"


def test_defang_removes_line_breaks_and_control_characters() -> None:
    out = defang("http://a.example/x\r\nBcc: evil@example.org\x00\x1b[31m\u2028")
    assert out.startswith("hxxp://a[.]example/x")
    assert not re.search(r"[\x00-\x1f\x7f\u2028\u2029]", out)


@pytest.mark.parametrize(
    "indicator",
    [
        "https://www.google.com/url?q=https://www.pornhub.com/view.php",
        " http://evil.example.com/",
        "\nhttps://evil.example.com/",
        "search: free bets at http://bet365.com/offer",
    ],
)
def test_defang_leaves_no_live_link_anywhere(indicator: str) -> None:
    """A URL inside a redirect, or after leading space, must not come out clickable."""
    out = defang(indicator)
    assert not LIVE_SCHEME.search(out), out
    assert "pornhub.com" not in out
    assert "bet365.com" not in out
    assert "example.com" not in out


URL_PIECES = [
    "http://",
    "HTTPS://",
    "ftp://",
    "hxxp://",
    ".",
    "/",
    "?q=",
    ":",
    "evil",
    "com",
    "www",
    "a",
    "é",
    "[.]",
    " ",
    "\n",
    "\r",
    "\t",
    "\u2028",
]
URLISH = st.lists(
    st.sampled_from(URL_PIECES),
    max_size=30,
).map("".join)


@given(st.one_of(st.text(max_size=300), URLISH))
def test_defang_any_text_is_one_printable_line_without_live_scheme(text: str) -> None:
    out = defang(text)
    assert "\r" not in out
    assert "\n" not in out
    assert not LIVE_SCHEME.search(out)
