"""Charts: the same numbers draw the same image."""

from __future__ import annotations

from alerting.reports import charts


def test_charts_are_the_same_for_the_same_numbers() -> None:
    series = {"gaming": [1, 0, 2, 0, 0, 0, 0], "self_harm": [0, 1, 0, 0, 3, 0, 0]}
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    first = charts.stacked_bars("Alerts", days, series)
    assert first == charts.stacked_bars("Alerts", days, series)
    assert first.startswith(b"\x89PNG")
    empty = charts.heat_map("Nothing", [[0] * 24 for _ in range(7)], days)
    assert empty.startswith(b"\x89PNG")
    many = {f"c{i}": [i, 1, 0, 0, 0, 0, 0] for i in range(15)}
    stacks = charts.top_series(many)
    assert [s[0] for s in stacks][-1] == "other"
    assert len(stacks) == len(charts.PALETTE) + 1
    assert stacks[-1][1] == [0 + 1 + 2, 3, 0, 0, 0, 0, 0]
