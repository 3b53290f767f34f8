"""``monitord digest`` and ``report``: what they refuse, in one line. (The digest and the
report themselves are tested in tests/alerting/reports/.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.cli.main import main


def test_another_schools_digest_is_never_mailed_from_here(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*options, "digest", "--send", "--site", "north"]) == 1
    assert capsys.readouterr().err.strip() == (
        "--send mails this school's digest: see another site's with --out"
    )
    assert main([*options, "digest", "--week", "2026-W99"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_report_dates_are_checked(
    options: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "--from", "yesterday-ish", "--to", "2026-11-30", "--out", str(tmp_path)]
    assert main([*options, *args]) == 1
    err = capsys.readouterr().err.strip()
    assert "--from" in err
    assert len(err.splitlines()) == 1
