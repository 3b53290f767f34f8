"""Tables on the operator's terminal: as wide as the terminal (``shutil.get_terminal_size``:
``$COLUMNS``, the terminal, else 80), folding the long columns (names, indicators) to fit,
and never cutting or wrapping the columns that must be read whole (ids and times). When the
terminal is too narrow for those, the table is drawn wider than the terminal rather than
cut."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from monitord.core.terminal import console, printable
from monitord.store.database import utc

# What a folding column keeps at the least, and the space between columns.
_NARROWEST = 4
_GAP = 2


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    whole: bool = False  # an id or a time: never folded or cut
    right: bool = False  # numbers


def local_time(value: datetime | None, tz: ZoneInfo) -> str | None:
    """A time from the store (UTC, naive from SQLite) on the school's clock, to the
    minute."""
    return None if value is None else utc(value).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def terminal_width() -> int:
    return shutil.get_terminal_size().columns


def print_table(columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> None:
    """Print rows (None shown as -) under the columns' names."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    cells = [["-" if v is None else printable(v) for v in row] for row in rows]
    longest = [max([len(c.name), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    sized = list(zip(columns, longest, strict=True))
    needed = sum(_GAP + (n if c.whole else min(n, _NARROWEST)) for c, n in sized)
    table = Table(
        box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, pad_edge=False, show_edge=False
    )
    for c, n in sized:
        table.add_column(
            c.name,
            no_wrap=c.whole,
            min_width=n if c.whole else None,
            overflow="ignore" if c.whole else "fold",
            justify="right" if c.right else "left",
        )
    for row in cells:
        table.add_row(*(Text(v) for v in row))
    console(width=max(terminal_width(), needed)).print(table)
