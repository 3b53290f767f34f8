"""``monitord search`` and ``timeline`` on the command line: a reason asked for, times and
the missing person or device named in one line each. (What they find is tested with the
search itself, in tests/monitord/casework/test_search.py.)"""

from __future__ import annotations

import pytest

from monitord.cli.main import main


def test_search_wants_a_reason_and_readable_times(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*options, "search", "--user", "jayden.s"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith('search needs --reason "..."')
    assert len(err.splitlines()) == 1
    assert main([*options, "search", "--since", "teatime", "--reason", "check"]) == 1
    assert capsys.readouterr().err.strip().startswith("--since: ")
    assert main([*options, "search", "--user", "jayden.s", "--reason", "check", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert main([*options, "search", "--user", "jayden.s", "--reason", "check"]) == 0
    assert "0 matching event(s)" in capsys.readouterr().out


def test_timeline_names_what_it_needs(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*options, "timeline", "--reason", "check"]) == 1
    assert capsys.readouterr().err.strip() == "timeline needs --user U or --device D"
    assert main([*options, "timeline", "--user", "jayden.s", "--date", "someday"]) == 1
    assert capsys.readouterr().err.strip().startswith("--date: ")
    with pytest.raises(SystemExit) as usage:
        main([*options, "timeline", "--user", "u", "--json", "--csv"])
    assert usage.value.code == 2
