"""``monitord lists``: category lists imported in each format."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.cli.main import main


def test_lists_import_hosts_and_e2guardian(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from monitord.service.initdir import init_dir
    from tests.conftest import SHARED

    config = str(init_dir(tmp_path / "site")[0])
    hosts = tmp_path / "hosts"
    hosts.write_text("# a block list\n0.0.0.0 casino.example\n0.0.0.0 poker.example # two\n")
    assert (
        main(
            [
                "--config",
                config,
                "lists",
                "import",
                str(hosts),
                "--format",
                "hosts",
                "--category",
                "gambling",
            ]
        )
        == 0
    )
    assert main(["--config", config, "lists", "import", str(hosts), "--format", "hosts"]) == 1
    assert "needs --category" in capsys.readouterr().err
    assert main(["--config", config, "classify", "www.casino.example", "--json"]) == 0
    assert '"gambling"' in capsys.readouterr().out
    phrases = SHARED / "data" / "e2guardian-phraselists" / "ukenglish"
    assert (
        main(["--config", config, "lists", "import", str(phrases), "--format", "e2guardian"]) == 0
    )
    shown = capsys.readouterr().out
    assert "pornography" in shown
    with sqlite3.connect(tmp_path / "site" / "var" / "monitord.db") as db:
        formats = {r[0] for r in db.execute("SELECT fmt FROM list_versions WHERE active")}
    assert {"e2guardian", "hosts"} <= formats
