"""What a command is given: nothing read or opened until asked for, then kept."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.cli.context import Context, UserError, group
from monitord.core.clock import FixedClock
from monitord.service.initdir import init_dir
from monitord.settings.config import ConfigError
from monitord.store.database import ALL_SITES, site_of


def test_nothing_is_read_until_asked_for(tmp_path: Path) -> None:
    ctx = Context(config_path=str(tmp_path / "absent.toml"))
    assert ctx.output == "table"
    assert not ctx.json
    with pytest.raises(ConfigError):
        ctx.cfg  # noqa: B018 (read on first use)


def test_config_and_store_made_once_and_closed(tmp_path: Path) -> None:
    path = init_dir(tmp_path / "site")[0]
    clock = FixedClock(datetime(2026, 11, 20, 16, 0, tzinfo=UTC))
    ctx = Context(config_path=str(path), clock=clock, output="json")
    assert ctx.json
    assert ctx.cfg is ctx.cfg
    assert ctx.engine is ctx.engine
    assert site_of(ctx.engine) == ctx.cfg.site_id
    assert site_of(ctx.store(ctx.site("all"))) == ALL_SITES
    assert ctx.site(None) == ctx.cfg.site_id
    assert ctx.site("north") == "north"
    assert ctx.now() == clock.now()
    assert ctx.actor  # the login of this process's real user id
    ctx.close()
    assert ctx.store(ctx.cfg.site_id) is not None  # opened again if asked after closing
    ctx.close()


def test_a_user_error_keeps_each_line() -> None:
    exc = UserError("first problem", "second problem")
    assert exc.lines == ["first problem", "second problem"]
    assert str(exc) == "first problem\nsecond problem"


def test_a_group_names_its_action_and_requires_one() -> None:
    parser = argparse.ArgumentParser(prog="monitord")
    actions = group(parser.add_subparsers(dest="command"), "things", "the things")
    actions.add_parser("list", help="every thing").set_defaults(chosen="list")
    assert parser.parse_args(["things", "list"]).things_command == "list"
    with pytest.raises(SystemExit) as usage:
        parser.parse_args(["things"])
    assert usage.value.code == 2
