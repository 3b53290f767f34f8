"""Intervals of bindings: a lease's start from its expiry, renewals merged into one binding, and
a lookup that finds what a scan of every interval finds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from monitord.identity.intervals import Intervals, lease_interval

T0 = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def test_lease_interval_from_expiry() -> None:
    assert lease_interval(T0, timedelta(hours=1)) == (T0 - timedelta(hours=1), T0)
    starts, ends = lease_interval(None, timedelta(hours=1))
    assert ends is None
    assert starts.year == 1970


@given(
    st.lists(
        st.tuples(st.integers(0, 100), st.integers(0, 40) | st.none()),
        max_size=30,
    ),
    st.lists(st.integers(-5, 150), min_size=1, max_size=20),
)
def test_interval_lookup_matches_a_scan(
    spans: list[tuple[int, int | None]], probes: list[int]
) -> None:
    """With every binding from its own device (nothing merges), the lookup is the scan it
    replaces: the latest-starting binding that covers the time."""
    entry = Intervals()
    added = []
    for n, (start, length) in enumerate(spans):
        end = float("inf") if length is None else float(start + length)
        entry.add(float(start), end, n, n)
        added.append((float(start), n, end))
    for t in probes:
        covering = [(s, n) for s, n, e in added if s <= t <= e]
        i = entry.at(float(t))
        if not covering:
            assert i == -1
        else:
            assert entry.slot(i) == max(covering)[1]
