"""RFC 6587 framing: octet counting and newline-ended messages, in any chunking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collectors.framing import Framer


def _all(chunks: list[bytes], max_frame: int = 100) -> list[bytes]:
    framer = Framer(max_frame)
    out = [m for chunk in chunks for m in framer.feed(chunk)]
    return out + framer.finish()


def test_newline_framing_drops_cr_and_blank_lines() -> None:
    assert _all([b"<13>a\r\n\n<13>b\n<13>c"]) == [b"<13>a", b"<13>b", b"<13>c"]


def test_octet_counting() -> None:
    assert _all([b"5 <13>a6 <13>bc"]) == [b"<13>a", b"<13>bc"]


def test_octet_counted_message_may_hold_newlines() -> None:
    assert _all([b"9 <13>a\nb\nc"]) == [b"<13>a\nb\nc"]


def test_the_two_framings_mixed_frame_by_frame() -> None:
    assert _all([b"5 <13>a<13>b\n5 <13>c"]) == [b"<13>a", b"<13>b", b"<13>c"]


def test_a_line_starting_with_digits_but_no_count_is_a_line() -> None:
    assert _all([b"2026-11-20T10:00:00Z h p: x\n"]) == [b"2026-11-20T10:00:00Z h p: x"]
    assert _all([b"12345678901234 x\n"]) == [b"12345678901234 x"]


def test_a_counted_frame_split_anywhere_waits_for_its_end() -> None:
    framer = Framer(100)
    assert framer.feed(b"1") == []
    assert framer.feed(b"0 <13>") == []
    assert framer.feed(b"abcd") == []
    assert framer.feed(b"ef<13>") == [b"<13>abcdef"]
    assert framer.feed(b"g\n") == [b"<13>g"]


def test_over_long_line_is_cut_and_the_rest_passed_over() -> None:
    assert _all([b"x" * 30, b"y" * 30, b"zzz\n<13>ok\n"], max_frame=40) == [
        b"x" * 30 + b"y" * 11,
        b"<13>ok",
    ]


def test_over_long_counted_frame_is_cut_and_the_rest_passed_over() -> None:
    body = b"<13>" + b"x" * 96
    assert _all([b"100 " + body[:50], body[50:], b"4 <1>y"], max_frame=40) == [
        body[:41],
        b"<1>y",
    ]


def test_a_partial_line_at_the_end_of_an_over_long_one_is_not_a_message() -> None:
    assert _all([b"x" * 60], max_frame=40) == [b"x" * 41]


_MSG = st.binary(min_size=1, max_size=60).map(lambda b: b"<13>" + b.replace(b"\n", b" ").strip())


@given(st.lists(st.tuples(_MSG, st.booleans()), max_size=20), st.data())
def test_any_mix_in_any_chunks_gives_the_messages_back(
    frames: list[tuple[bytes, bool]], data: st.DataObject
) -> None:
    stream = b"".join((b"%d %s" % (len(m), m)) if counted else m + b"\n" for m, counted in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    want = [m.rstrip(b"\r") if not counted else m for m, counted in frames]
    assert _all(chunks, max_frame=1000) == [m for m in want if m.strip()]
