"""What commands write: nothing a terminal acts on, and reads of personal data audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitord.cli.context import Context
from monitord.cli.output import audit_read, cell, print_json, safe_document
from monitord.service.initdir import init_dir
from tests.stores import rows


def test_json_is_the_same_value_with_nothing_for_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    value = {"indicator": "evil\u202eexample\x9b2J", "n": 1}
    print_json(value)
    shown = capsys.readouterr().out
    assert "\u202e" not in shown
    assert "\x9b" not in shown
    assert json.loads(shown) == value


def test_documents_and_cells_lose_their_escapes() -> None:
    assert safe_document("a,b\n\x1b[2Jc,d\n", is_json=False) == "a,b\n?c,d\n"
    assert "\\u202e" in safe_document('"\u202e"', is_json=True)
    assert cell("a\x1b]8;;http://x\x07b").plain == "a?b"


def test_a_read_is_recorded_with_who_and_how_much(tmp_path: Path) -> None:
    ctx = Context(config_path=str(init_dir(tmp_path / "site")[0]))
    audit_read(ctx, ctx.engine, "people.list", "site:default", {"people": 3})
    [(actor, action, detail)] = rows(
        ctx.engine, "SELECT actor, action, detail FROM audit WHERE action = 'people.list'"
    )
    ctx.close()
    assert (actor, action, json.loads(detail)) == (ctx.actor, "people.list", {"people": 3})
