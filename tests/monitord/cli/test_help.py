"""``--help`` for every command: each group lists its actions, each option says what it
does."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from monitord.cli.main import build_parser, main


def _walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _walk(child, (*path, name))


def _missing_help(path: tuple[str, ...], parser: argparse.ArgumentParser) -> list[str]:
    where = " ".join(("monitord", *path))
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            described = {pseudo.dest for pseudo in action._choices_actions if pseudo.help}
            missing += [f"{where} {name}" for name in action.choices if name not in described]
        elif not action.help or action.help == argparse.SUPPRESS:
            name = "/".join(action.option_strings) or action.dest
            missing.append(f"{where}: {name}")
    return missing


def test_every_command_and_option_has_help() -> None:
    tree = list(_walk(build_parser()))
    assert len(tree) > 50  # the groups and their actions, not just the top
    missing = [line for path, parser in tree for line in _missing_help(path, parser)]
    assert missing == []


def test_every_group_lists_each_action_with_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    for path, parser in _walk(build_parser()):
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions:
            continue
        with pytest.raises(SystemExit) as done:
            main([*path, "--help"])
        assert done.value.code == 0
        shown = " ".join(capsys.readouterr().out.split())  # as argparse wrapped it
        for pseudo in actions[0]._choices_actions:
            assert f"{pseudo.dest} {' '.join(str(pseudo.help).split())}" in shown


def test_the_top_level_help_reads_as_prose(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    assert "monitord follows the school's" in shown
    assert "monitord COMMAND --help" in shown
    for group in ("alerts", "people", "devices", "lists", "evidence", "outbox", "silence"):
        assert f"\n    {group} " in shown
