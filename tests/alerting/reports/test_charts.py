"""The charts of the digest and the governors' report: PNG bytes sized for a phone, the same
bytes for the same numbers, a clear picture when there is nothing to draw."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.reports import charts

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", png[16:24])


def test_charts_are_the_same_for_the_same_numbers() -> None:
    series = {"gaming": [1, 0, 2, 0, 0, 0, 0], "self_harm": [0, 1, 0, 0, 3, 0, 0]}
    first = charts.stacked_bars("Alerts", DAYS, series)
    assert first == charts.stacked_bars("Alerts", DAYS, series)
    assert first != charts.stacked_bars("Alerts", DAYS, {"gaming": [2, 0, 2, 0, 0, 0, 0]})
    assert _size(first)[0] == int(charts.WIDTH_IN * charts.DPI)  # 720 pixels: a phone's width


def test_nothing_to_draw_is_still_a_picture() -> None:
    assert _size(charts.heat_map("Nothing", [[0] * 24 for _ in range(7)], DAYS))[0] == 720
    assert _size(charts.stacked_bars("Alerts", DAYS, {}))[0] == 720
    assert _size(charts.horizontal_bars("Outcomes", {}))[0] == 720


def test_a_narrower_chart_for_a_page() -> None:
    narrow = charts.horizontal_bars("Outcomes", {"no concern": 3}, width=4.0)
    assert _size(narrow)[0] == 4 * charts.DPI
    assert _size(charts.stacked_bars("Alerts", DAYS, {}, width=4.0))[0] == 480


def test_top_series_keeps_the_largest_and_sums_the_rest() -> None:
    many = {f"c{i}": [i, 1, 0, 0, 0, 0, 0] for i in range(15)}
    many["silent"] = [0] * 7
    stacks = charts.top_series(many)
    assert [s[0] for s in stacks][-1] == "other"
    assert len(stacks) == len(charts.PALETTE) + 1
    assert stacks[0][0] == "c14"  # the largest first
    assert stacks[-1][1] == [0 + 1 + 2, 3, 0, 0, 0, 0, 0]
    assert stacks[-1][2] == charts.OTHER_COLOUR
    assert "silent" not in [s[0] for s in stacks]


def test_the_trend_and_bars_draw() -> None:
    weeks = [f"W{n}" for n in range(1, 13)]
    trend = charts.trend(
        "Twelve weeks", weeks, {"high": [1] * 12, "medium": list(range(12))}, [3] * 12
    )
    bars = charts.horizontal_bars("Categories", {"gambling": 4, "gaming": 9})
    assert _size(trend)[0] == _size(bars)[0] == 720
    assert _size(charts.heat_map("By hour", [[h % 3 for h in range(24)]] * 7, DAYS))[1] > 0


@settings(max_examples=15, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.lists(st.integers(0, 500), min_size=7, max_size=7)
    )
)
def test_any_counts_draw_a_png(series: dict[str, list[int]]) -> None:
    assert _size(charts.stacked_bars("Alerts", DAYS, series))[0] == 720


def test_an_svg_chart_fits_a_page_that_allows_no_inline_style() -> None:
    from xml.etree import ElementTree

    svg = charts.horizontal_bars("Outcomes", {"closed": 3, "referred": 1}, fmt="svg")
    page = charts.inline_svg(svg, "chart-outcomes", "Outcomes of the alerts closed")
    root = ElementTree.fromstring(page)
    assert root.tag == f"{{{charts.SVG}}}svg"
    assert (root.get("role"), root.get("aria-label")) == ("img", "Outcomes of the alerts closed")
    assert root.find(f"{{{charts.SVG}}}title") is not None
    assert "width" not in root.attrib
    assert root.get("viewBox")
    elements = list(root.iter())
    assert not [e for e in elements if "style" in e.attrib]
    assert not [e for e in elements if e.tag.endswith(("}style", "}metadata"))]
    assert "<?xml" not in page
    assert "<!DOCTYPE" not in page
    # The bars keep their colour as a presentation attribute.
    assert [e for e in elements if e.get("fill") == "#1f77b4"]
    ids = {e.get("id") for e in elements if e.get("id")}
    assert ids
    assert all(i.startswith("chart-outcomes-") for i in ids)
    href = f"{{{charts.XLINK}}}href"
    used = {e.get(href, "")[1:] for e in elements if e.get(href)}
    clipped = {e.get("clip-path", "")[5:-1] for e in elements if e.get("clip-path")}
    assert used
    assert clipped
    assert used | clipped <= ids  # every reference points at a renamed id
