"""``monitord evidence`` and ``sar`` on the command line. (Bundles, the trail and subject
access are tested in tests/monitord/casework/.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.cli.main import main


def test_a_fresh_trail_verifies(options: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*options, "evidence", "verify"]) == 0
    assert capsys.readouterr().out.startswith("audit trail intact: ")
    assert main([*options, "evidence", "verify", "--anchor", "nonsense"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_export_never_takes_a_password_on_the_command_line(
    options: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle.zip"
    assert main([*options, "evidence", "export", "1", "-o", str(bundle), "--password", "pw"]) == 1
    assert "visible to every user of the server" in capsys.readouterr().err
    empty = tmp_path / "empty.secret"
    empty.write_text("\n")
    export = ["evidence", "export", "1", "-o", str(bundle), "--password-file", str(empty)]
    assert main([*options, *export]) == 1
    assert "the first line is empty" in capsys.readouterr().err
    assert main([*options, "evidence", "export", "1", "-o", str(bundle)]) == 1
    assert capsys.readouterr().err.strip() == "no alert 1"
    assert not bundle.exists()
