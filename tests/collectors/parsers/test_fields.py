"""The field helpers of the structured formats (Zeek, Suricata): integers from JSON or TSV,
and the URL an HTTP request asked for."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.fields import MAX_INT, json_int, request_url


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (443, 443),
        (443.0, 443),
        ("8080", 8080),
        (MAX_INT, MAX_INT),
        (MAX_INT + 1, None),
        (-1, None),
        (1.5, None),
        (math.inf, None),
        (math.nan, None),
        (True, None),
        ("", None),
        ("-3", None),
        ("٣", None),  # a digit, but not an ASCII one
        ("9" * 20, None),
        (None, None),
        ([1], None),
    ],
)
def test_json_int(value: object, expected: int | None) -> None:
    assert json_int(value) == expected


@given(st.one_of(st.integers(), st.floats(), st.text(), st.booleans(), st.none()))
def test_json_int_is_a_non_negative_int_or_none(value: object) -> None:
    got = json_int(value)
    assert got is None or (type(got) is int and 0 <= got <= MAX_INT)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("example.org", "/a?b=1", "GET"), "http://example.org/a?b=1"),
        (("example.org", "/", "GET", 8080), "http://example.org:8080/"),
        (("example.org", "/", "GET", 80), "http://example.org/"),
        (("2001:db8::1", "/x", "GET"), "http://[2001:db8::1]/x"),
        (("[2001:db8::1]", "/x", "GET"), "http://[2001:db8::1]/x"),
        (("example.org", None, "GET"), "http://example.org/"),
        (("example.org", "*", "OPTIONS"), "http://example.org/"),
        (("proxy", "http://example.org/page", "GET"), "http://example.org/page"),
        (("proxy", "example.org:443", "CONNECT"), "example.org:443"),
        ((None, "example.org:443", "connect"), "example.org:443"),
        ((None, "/page", "GET"), None),
    ],
)
def test_request_url(args: tuple[str | None, str | None, str | None], expected: str | None) -> None:
    assert request_url(*args) == expected


@given(st.text(min_size=1, max_size=40), st.text(max_size=40), st.integers(0, 65535))
def test_a_request_with_a_host_and_a_path_is_an_http_url(host: str, path: str, port: int) -> None:
    url = request_url(host, "/" + path, "GET", port)
    assert url is not None
    assert url.startswith("http://")
    assert url.endswith("/" + path)
