"""The digest's and the governors' report's charts, drawn with matplotlib's Agg renderer into
PNG bytes (or SVG for the console's pages): no display, no pyplot state shared between
threads, the same picture for the same numbers.

Every chart is sized for a phone (about 720 pixels wide; narrower with ``width``, which
makes its lettering larger when it is scaled to a page's width) and carries its numbers in
the plain-text part too, for mail clients that show no images.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Literal
from xml.etree import ElementTree

if TYPE_CHECKING:
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure

SEVERITY_COLOURS = {
    "critical": "#6d0f1a",
    "high": "#c0392b",
    "medium": "#e08e0b",
    "low": "#7f8c8d",
}
# Distinct colours for up to twelve categories, in the order the legend lists them; the rest
# are drawn together as "other".
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#637939",
)
OTHER_COLOUR = "#c7c7c7"
WIDTH_IN = 6.0
DPI = 120  # 720 pixels wide
Format = Literal["png", "svg"]
SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
ElementTree.register_namespace("", SVG)
ElementTree.register_namespace("xlink", XLINK)


# matplotlib is imported when the first chart is drawn, not with this module: the daemon
# loads this module at start (for the weekly digest) and matplotlib is 35-45 MB of its memory.


@cache
def _heat() -> Colormap:
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("monitord_heat", ["#f7f7f7", "#fdd49e", "#d7301f"])


def _figure(height: float, width: float = WIDTH_IN) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, dpi: int = DPI, fmt: Format = "png") -> bytes:
    buf = io.BytesIO()
    # No software or date stamp: the same numbers give the same bytes.
    stamp = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=stamp)
    return buf.getvalue()


_URL = re.compile(r"url\(#([^)]+)\)")


def inline_svg(svg: bytes, prefix: str, title: str) -> str:
    """A chart drawn as SVG made fit to sit inside a page whose Content-Security-Policy
    allows no inline style: every ``style`` attribute becomes the presentation attributes it
    sets, the stylesheet and metadata go, ids take ``prefix`` (several charts share a page),
    and the picture scales to its box and is announced to screen readers by ``title``."""
    root = ElementTree.fromstring(svg)  # matplotlib's own output, never outside input
    for parent in root.iter():
        for child in list(parent):
            if child.tag in (f"{{{SVG}}}metadata", f"{{{SVG}}}style"):
                parent.remove(child)
    href = f"{{{XLINK}}}href"
    for el in root.iter():
        for declaration in el.attrib.pop("style", "").split(";"):
            name, _, value = declaration.partition(":")
            if name.strip() and value.strip():
                el.set(name.strip(), value.strip())
        for key, value in el.attrib.items():
            if key == "id":
                el.set(key, f"{prefix}-{value}")
            elif key == href and value.startswith("#"):
                el.set(key, f"#{prefix}-{value[1:]}")
            elif "url(#" in value:
                el.set(key, _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", value))
    for size in ("width", "height"):
        root.attrib.pop(size, None)
    # What the dropped stylesheet set for every element, inherited from the root instead.
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    root.set("role", "img")
    root.set("aria-label", title)
    heading = ElementTree.Element(f"{{{SVG}}}title")
    heading.text = title
    root.insert(0, heading)
    return ElementTree.tostring(root, encoding="unicode")


def _style(ax: object) -> None:
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)
    ax.yaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]


def _no_data(fig: Figure, title: str, message: str, dpi: int = DPI, fmt: Format = "png") -> bytes:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title, fontsize=11, loc="left")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, color="#555555")
    return _save(fig, dpi, fmt)


def top_series(
    series: Mapping[str, Sequence[int]], keep: int = len(PALETTE)
) -> list[tuple[str, list[int], str]]:
    """The ``keep`` largest series by total (largest first), then the rest summed as
    ``other``; each with its colour. Series that are all zero are left out."""
    ranked = sorted(
        ((name, list(values)) for name, values in series.items() if any(values)),
        key=lambda item: (-sum(item[1]), item[0]),
    )
    out = [(name, values, PALETTE[i]) for i, (name, values) in enumerate(ranked[:keep])]
    rest = ranked[keep:]
    if rest:
        summed = [sum(v) for v in zip(*(values for _, values in rest), strict=True)]
        out.append(("other", summed, OTHER_COLOUR))
    return out


def stacked_bars(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[int]],
    *,
    colours: Mapping[str, str] | None = None,
    ylabel: str = "alerts",
    empty: str = "No alerts",
    height: float = 3.2,
    dpi: int = DPI,
    fmt: Format = "png",
    width: float = WIDTH_IN,
) -> bytes:
    """Bars for each label, stacked by series (categories, or severities with ``colours``)."""
    if colours is not None:
        stacks = [(n, list(series[n]), colours.get(n, OTHER_COLOUR)) for n in series]
        stacks = [s for s in stacks if any(s[1])]
    else:
        stacks = top_series(series)
    fig = _figure(height + 0.22 * ((len(stacks) + 3) // 4), width)
    if not stacks:
        return _no_data(fig, title, empty, dpi, fmt)
    ax = fig.add_subplot()
    x = list(range(len(labels)))
    bottom = [0] * len(labels)
    for name, values, colour in stacks:
        ax.bar(x, values, bottom=bottom, color=colour, label=name.replace("_", " "), width=0.7)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for xi, total in zip(x, bottom, strict=True):
        if total:
            ax.annotate(
                str(total), (xi, total), ha="center", va="bottom", fontsize=8, color="#333333"
            )
    ax.set_xticks(x, list(labels))
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_ylim(0, max(bottom) * 1.18 + 0.5)
    ax.set_title(title, fontsize=11, loc="left")
    _style(ax)
    # Below the bars, across the width: beside them it would squeeze them on a phone.
    ax.legend(
        fontsize=8.5,
        frameon=False,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncols=min(4, len(stacks)),
        handlelength=1.0,
        columnspacing=1.0,
    )
    fig.tight_layout()
    return _save(fig, dpi, fmt)


def heat_map(
    title: str,
    grid: Sequence[Sequence[int]],
    day_labels: Sequence[str],
    *,
    dpi: int = DPI,
    fmt: Format = "png",
    width: float = WIDTH_IN,
) -> bytes:
    """Seven rows (days) of 24 hours, shaded by count; the count is written in each cell that
    has one."""
    fig = _figure(3.3, width)
    if not any(any(row) for row in grid):
        return _no_data(fig, title, "No flagged activity", dpi, fmt)
    ax = fig.add_subplot()
    peak = max(max(row) for row in grid)
    image = ax.imshow(
        [list(row) for row in grid], cmap=_heat(), aspect="auto", vmin=0, vmax=max(peak, 1)
    )
    for d, row in enumerate(grid):
        for h, n in enumerate(row):
            if n:
                colour = "white" if n > peak * 0.6 else "#222222"
                ax.text(h, d, str(n), ha="center", va="center", fontsize=6.5, color=colour)
    ax.set_yticks(range(len(day_labels)), list(day_labels))
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour of the day (school time)", fontsize=9)
    ax.tick_params(labelsize=8, length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize=11, loc="left")
    bar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    bar.ax.tick_params(labelsize=7)
    bar.outline.set_visible(False)
    fig.tight_layout()
    return _save(fig, dpi, fmt)


def trend(
    title: str,
    labels: Sequence[str],
    by_severity: Mapping[str, Sequence[int]],
    low: Sequence[int],
    *,
    highlight_last: bool = True,
    dpi: int = DPI,
    fmt: Format = "png",
    width: float = WIDTH_IN,
) -> bytes:
    """Alerts per period stacked by severity (bars, left axis) and low-severity events per
    period (a line, right axis)."""
    fig = _figure(3.4, width)
    if not any(any(v) for v in by_severity.values()) and not any(low):
        return _no_data(fig, title, "Nothing recorded in these weeks", dpi, fmt)
    ax = fig.add_subplot()
    x = list(range(len(labels)))
    bottom = [0] * len(labels)
    for sev in ("critical", "high", "medium"):
        values = list(by_severity.get(sev, [0] * len(labels)))
        ax.bar(x, values, bottom=bottom, color=SEVERITY_COLOURS[sev], width=0.65, label=sev)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if highlight_last and labels:
        ax.axvspan(len(labels) - 1.45, len(labels) - 0.55, color="#fff2b3", zorder=0)
    ax.set_xticks(x, list(labels), rotation=45, ha="right")
    ax.set_ylabel("alerts", fontsize=9)
    # Head room for the legend, which sits above the bars.
    ax.set_ylim(0, max(max(bottom), 1) * 1.4)
    _style(ax)
    ax.set_title(title, fontsize=11, loc="left")
    right = ax.twinx()
    right.plot(x, list(low), color="#34495e", marker="o", markersize=3, linewidth=1.4)
    right.set_ylabel("low-severity events", fontsize=9, color="#34495e")
    right.set_ylim(0, max(max(low, default=0), 1) * 1.4)
    right.tick_params(labelsize=8, colors="#34495e")
    right.spines["top"].set_visible(False)
    handles, names = ax.get_legend_handles_labels()
    line = right.get_lines()[0]
    ax.legend(
        [*handles, line],
        [*names, "low-severity events"],
        fontsize=8,
        frameon=False,
        loc="upper left",
        ncols=4,
    )
    fig.tight_layout()
    return _save(fig, dpi, fmt)


def horizontal_bars(
    title: str,
    values: Mapping[str, int],
    *,
    colour: str = "#1f77b4",
    empty: str = "None",
    dpi: int = DPI,
    fmt: Format = "png",
    width: float = WIDTH_IN,
) -> bytes:
    """One bar per name, largest at the top (categories or outcomes in the report)."""
    items = sorted(((k, v) for k, v in values.items() if v), key=lambda kv: (-kv[1], kv[0]))
    fig = _figure(max(2.0, 0.32 * len(items) + 1.0), width)
    if not items:
        return _no_data(fig, title, empty, dpi, fmt)
    ax = fig.add_subplot()
    names = [k.replace("_", " ") for k, _ in reversed(items)]
    counts = [v for _, v in reversed(items)]
    ax.barh(names, counts, color=colour, height=0.6)
    for y, n in enumerate(counts):
        ax.annotate(str(n), (n, y), xytext=(3, 0), textcoords="offset points", va="center")
    ax.set_xlim(0, max(counts) * 1.15)
    ax.set_title(title, fontsize=11, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)
    ax.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    fig.tight_layout()
    return _save(fig, dpi, fmt)
