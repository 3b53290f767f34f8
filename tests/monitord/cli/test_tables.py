"""Tables as wide as the terminal, folding names and indicators, never cutting ids or
times."""

from __future__ import annotations

import pytest

from monitord.cli.tables import Column, print_table

COLUMNS = [
    Column("id", whole=True, right=True),
    Column("time", whole=True),
    Column("person"),
    Column("indicator"),
]
ROWS = [
    (
        123456,
        "2026-11-19 10:01",
        "jayden.smith-longname",
        "https://" + "very-long." * 8 + "example/",
    ),
    (7, "2026-11-19 10:02", None, "short.example"),
]


def _printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int
) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(width))
    print_table(COLUMNS, ROWS)
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("width", [40, 60, 80])
def test_ids_and_times_are_never_cut_and_the_rest_folds_to_fit(
    width: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _printed(capsys, monkeypatch, width)
    assert max(len(line.rstrip()) for line in lines) <= width
    text = "\n".join(lines)
    for whole in ("123456", "2026-11-19 10:01", "2026-11-19 10:02"):
        assert any(whole in line for line in lines), (whole, text)
    # Folded, not cut: every character of the indicator is there, over several lines.
    folded = "".join(line.split()[-1] for line in lines[2:] if line.strip())
    assert "very-long." * 8 in folded.replace(" ", "")
    assert "-" in text  # None is shown as -


def test_a_terminal_too_narrow_for_the_ids_and_times_gets_them_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _printed(capsys, monkeypatch, 20)
    assert any("123456" in line and "2026-11-19 10:01" in line for line in lines)


def test_a_wide_terminal_shows_each_row_on_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [line for line in _printed(capsys, monkeypatch, 300) if line.strip()]
    assert len(lines) == 2 + len(ROWS)  # the header, its rule and a line a row
    assert ROWS[0][3] in lines[2]


def test_what_a_pupil_typed_cannot_move_the_cursor(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    print_table([Column("indicator")], [("evil\x1b[2J\u202eexample",)])
    shown = capsys.readouterr().out
    assert "\x1b" not in shown
    assert "\u202e" not in shown
    assert "evil??example" in shown
