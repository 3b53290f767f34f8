"""Host, URL and user-name normalisation shared by the parsers."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.urls import host_of_url, normalise_host, normalise_user


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("example.com..", "example.com"),
        ("example.com:443", "example.com"),
        ("Example.COM.:443", "example.com"),
        ("  example.com  ", "example.com"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:DB8::1]:443", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),  # a bare IPv6 address has no port to cut
        ("::1", "::1"),
        ("192.0.2.1:3128", "192.0.2.1"),
        ("", None),
        (".", None),
        (":443", None),
        ("[", None),
        ("[2001:db8::1", None),
        ("[]", None),
        ("[]:443", None),
    ],
)
def test_normalise_host(host: str, expected: str | None) -> None:
    assert normalise_host(host) == expected


@pytest.mark.parametrize(
    ("url", "method", "expected"),
    [
        ("login.yahoo.com:443", "CONNECT", "login.yahoo.com"),
        ("login.yahoo.com:443", "connect", "login.yahoo.com"),
        ("[2001:db8::1]:443", "CONNECT", "2001:db8::1"),
        ("192.0.2.7:443", "CONNECT", "192.0.2.7"),
        ("http://www.example.com/a/b?c=d", "GET", "www.example.com"),
        ("HTTP://WWW.Example.com./", "GET", "www.example.com"),
        ("http://example.com:8080/x", "GET", "example.com"),
        ("http://user@example.com/x", "GET", "example.com"),
        ("http://user:secret@example.com:8080/x", "GET", "example.com"),
        ("http://us@er:p@ss@example.com/x", "GET", "example.com"),  # the last @ ends userinfo
        ("http://example.com/path@elsewhere.org", "GET", "example.com"),
        ("http://[2001:db8::1]:8080/x", "GET", "2001:db8::1"),
        ("ftp://files.example.org/pub", "GET", "files.example.org"),
        ("example.com/x", "", "example.com"),  # no scheme: the host is what comes first
        ("http://[::1/x", "GET", None),  # urlsplit refuses an unclosed bracket
        ("http:///x", "GET", None),
    ],
)
def test_host_of_url(url: str, method: str, expected: str | None) -> None:
    assert host_of_url(url, method) == expected


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("jsmith", "jsmith"),
        ("JSmith", "jsmith"),
        ("-", None),
        ("", None),
        ("  ", None),
        ("SCHOOL\\JSmith", "jsmith"),
        ("SCHOOL%5CJSmith", "jsmith"),
        ("SCHOOL%5cjsmith", "jsmith"),
        ("jsmith@SCHOOL.EXAMPLE", "jsmith"),
        ("jsmith%40school.example", "jsmith"),
        ("SCHOOL\\jsmith@SCHOOL.EXAMPLE", "jsmith"),
        ("SCHOOL\\", None),
        ("@SCHOOL.EXAMPLE", None),
        ("%2D", None),  # an encoded "-" is still no user
    ],
)
def test_normalise_user(user: str, expected: str | None) -> None:
    assert normalise_user(user) == expected


def _whole_url_host(url: str, method: str) -> str | None:
    """The host as the whole URL split gives it: what ``host_of_url`` answers by its site."""
    if method.upper() == "CONNECT" or "://" not in url:
        return normalise_host(url.split("/", 1)[0])
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    return normalise_host(netloc.rsplit("@", 1)[-1])


_URL_TEXT = st.text(alphabet=st.sampled_from("aZ.:/?#@[]%-_ \t09é\x00"), max_size=30)


@given(
    st.one_of(_URL_TEXT, st.builds(lambda a, b: a + "://" + b, _URL_TEXT, _URL_TEXT)),
    st.sampled_from(["GET", "CONNECT", "", "post"]),
)
def test_a_urls_host_is_its_sites(url: str, method: str) -> None:
    # Remembered by the URL cut at the end of its host: the same answer as the whole URL's,
    # asked twice (the second time remembered), and for a URL longer than is remembered.
    assert host_of_url(url, method) == _whole_url_host(url, method)
    assert host_of_url(url, method) == _whole_url_host(url, method)
    long = url + "/" + "x" * 400
    assert host_of_url(long, method) == _whole_url_host(long, method)


@given(st.text(max_size=20))
def test_names_too_long_to_remember_are_answered_alike(name: str) -> None:
    # Trailing space goes either way: a name past the remembered length (worked out afresh)
    # and the short one (remembered) give one answer.
    assert normalise_host(name + " " * 400) == normalise_host(name.rstrip())
    assert normalise_user(name + " " * 400) == normalise_user(name.rstrip())
