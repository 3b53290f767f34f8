"""Search terms from search-engine URLs and from agents' text reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitord.classify.searchterms import _UNTIDY, event_text, search_terms, tidy
from monitord.core.model import Event, EventKind


@pytest.mark.parametrize(
    ("url", "engine", "query"),
    [
        (
            "https://www.google.co.uk/search?q=how+to+kill+myself&client=safari",
            "google",
            "how to kill myself",
        ),
        ("https://www.google.com/search?q=su1c1de&tbm=isch", "google", "su1c1de"),
        ("https://www.google.com.au/search?hl=en&q=self%20harm", "google", "self harm"),
        ("https://www.google.com/?q=cats", "google", "cats"),
        ("https://www.google.co.uk/webhp?hl=en#q=from+the+fragment", "google", "from the fragment"),
        ("http://images.google.com/images?q=dogs", "google", "dogs"),
        ("www.google.co.uk/search?q=no+scheme", "google", "no scheme"),
        ("https://www.bing.com/search?q=childline+number&form=QBLH", "bing", "childline number"),
        ("https://www.bing.com/images/search?q=cats", "bing", "cats"),
        ("https://duckduckgo.com/?q=k+i+l+l+myself&t=h_", "duckduckgo", "k i l l myself"),
        ("https://html.duckduckgo.com/html/?q=lite", "duckduckgo", "lite"),
        ("https://uk.search.yahoo.com/search?p=ways+to+self+harm", "yahoo", "ways to self harm"),
        ("https://search.yahoo.com/search?p=x&fr=yfp", "yahoo", "x"),
        ("https://www.youtube.com/results?search_query=fnaf+song", "youtube", "fnaf song"),
        ("https://m.youtube.com/results?search_query=slime", "youtube", "slime"),
        ("https://www.ecosia.org/search?method=index&q=trees", "ecosia", "trees"),
        ("https://www.kiddle.co/s.php?q=volcano", "kiddle", "volcano"),
        ("https://swiggle.org.uk/?q=romans", "swiggle", "romans"),
        ("https://www.kidrex.org/results/?q=dinosaurs", "kidrex", "dinosaurs"),
        ("https://search.kidzsearch.com/kzsearch.php?q=planets", "kidzsearch", "planets"),
        ("https://www.startpage.com/do/search?query=private", "startpage", "private"),
        ("https://www.startpage.com/sp/search?q=other", "startpage", "other"),
        ("https://search.brave.com/search?q=brave+query", "brave", "brave query"),
        ("https://yandex.ru/search/?text=%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82", "yandex", "привет"),
        ("https://yandex.com/search/?text=vpn", "yandex", "vpn"),
        ("https://www.baidu.com/s?wd=%E4%BD%A0%E5%A5%BD", "baidu", "你好"),
        ("https://m.baidu.com/s?word=mobile", "baidu", "mobile"),
        ("https://www.qwant.com/?q=qwant", "qwant", "qwant"),
        ("https://www.ask.com/web?q=ask", "ask", "ask"),
        (
            "https://en.wikipedia.org/w/index.php?search=holocaust+year+6",
            "wikipedia",
            "holocaust year 6",
        ),
        ("https://www.tiktok.com/search?q=trend", "tiktok", "trend"),
        ("HTTPS://WWW.GOOGLE.COM/search?q=Upper+Case", "google", "Upper Case"),
        ("https://www.google.com/search?q=++spaced++out++", "google", "spaced out"),
    ],
)
def test_search_terms(url: str, engine: str, query: str) -> None:
    assert search_terms(url) == (engine, query)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.google.com/url?q=https://example.com/&sa=U",  # a result link, not a search
        "https://www.google.com/maps?q=london",
        "https://www.google.com/search?q=",
        "https://www.google.com/search",
        "https://mail.google.com/mail/?q=x",
        "https://example.com/search?q=not+an+engine",
        "https://notgoogle.com/search?q=x",
        "https://www.youtube.com/watch?v=abc",
        "https://www.bing.com/maps?q=x",
        "http://[::1",
        "",
        "not a url at all",
    ],
)
def test_not_a_search(url: str) -> None:
    assert search_terms(url) is None


def test_names_are_read_alike_however_often_and_however_long() -> None:
    # A search engine's page without a query or fragment holds no terms; the engine of a
    # name is remembered, and one longer than DNS allows is still read, not remembered.
    assert search_terms("https://www.google.com/search") is None
    for _ in range(3):
        assert search_terms("https://www.google.com/search?q=owls") == ("google", "owls")
        assert search_terms("https://www.google.com/search#q=bats") == ("google", "bats")
    long_name = "a" * 300 + ".wikipedia.org"
    assert search_terms(f"https://{long_name}/w/index.php?search=moths") == (
        "wikipedia",
        "moths",
    )


def test_a_huge_query_is_cut() -> None:
    found = search_terms("https://www.google.com/search?q=" + "a+" * 5000)
    assert found is not None
    assert len(found[1]) <= 1000


def _event(kind: EventKind, **kw: str) -> Event:
    return Event(kind=kind, ts=datetime(2026, 11, 20, 10, 0, tzinfo=UTC), **kw)  # type: ignore[arg-type]


def test_event_text() -> None:
    assert event_text(_event(EventKind.SEARCH, text="how to  stop self harming")) == (
        "how to stop self harming"
    )
    assert event_text(_event(EventKind.TEXT, text="k i l l myself")) == "k i l l myself"
    assert (
        event_text(_event(EventKind.HTTP, url="https://www.bing.com/search?q=su1c1de")) == "su1c1de"
    )
    assert event_text(_event(EventKind.HTTP, url="https://example.com/")) is None
    assert event_text(_event(EventKind.DNS, domain="example.com")) is None
    assert event_text(_event(EventKind.TEXT, text="   ")) is None


@settings(max_examples=500)
@given(st.text())
def test_no_string_raises(url: str) -> None:
    found = search_terms(url)
    assert found is None or (found[0] and found[1] == found[1].strip())


@settings(max_examples=300)
@given(
    st.sampled_from(
        [
            "https://www.google.com/search?q=",
            "https://www.bing.com/search?q=",
            "https://duckduckgo.com/?q=",
            "https://search.yahoo.com/search?p=",
        ]
    ),
    st.text(),
)
def test_any_query_value(prefix: str, value: str) -> None:
    found = search_terms(prefix + value)
    assert found is None or found[1].strip() == found[1]


@settings(max_examples=1000)
@given(st.text(st.sampled_from("ab \t\n\x00\xa0\u2028\u200b\u3000é😀\x1f")) | st.text())
def test_tidy_agrees_with_the_whole_search_for_untidy_space(value: str) -> None:
    assert tidy(value) == (_UNTIDY.search(value) is None)
    if tidy(value) and value:
        assert event_text(_event(EventKind.TEXT, text=value)) == value


def test_tidy_text_is_left_as_it_is_and_the_rest_made_tidy() -> None:
    assert tidy("how to draw a dragon")
    assert tidy("jak popełnić samobójstwo 😀")
    for untidy in (" ok", "ok ", "o  k", "o\tk", "o\x00k", "o\xa0k", "o\u2028k"):
        assert not tidy(untidy)
        assert event_text(_event(EventKind.TEXT, text=untidy)) in ("ok", "o k")
