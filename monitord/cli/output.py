"""How commands write: consoles that show nothing a terminal acts on, JSON and documents
made safe, and the audit record of a read of personal data in bulk."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from monitord.core.terminal import console, json_printable, printable_text
from monitord.store.database import audit

if TYPE_CHECKING:
    from rich.text import Text
    from sqlalchemy import Engine

    from monitord.cli.context import Context

# What pupils control reaches these (tables of alerts, searches): see monitord.core.terminal.
out = console()
err = console(stderr=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json_printable(json.dumps(value, indent=2, ensure_ascii=False)) + "\n")


def safe_document(text: str, is_json: bool) -> str:
    """JSON or CSV for the terminal (or a pipe): nothing in it a terminal acts on."""
    return json_printable(text) if is_json else printable_text(text)


def print_lines(lines: list[str], *, error: bool = False) -> None:
    for line in lines:
        (err if error else out).print(line, markup=False)


def cell(value: str | None, width: int | None = None) -> Text:
    from rich.text import Text

    from monitord.casework.output import printable

    return Text(printable(value, width))


def audit_read(
    ctx: Context, engine: Engine, action: str, subject: str, detail: dict[str, Any]
) -> None:
    """Record a read of personal data in bulk (who, what and how much)."""
    with engine.begin() as conn:
        audit(conn, ctx.actor, action, subject, detail, now=ctx.now())
