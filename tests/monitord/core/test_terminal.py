"""What a pupil controls never acts on the operator's terminal: escape sequences, control and
bidirectional characters are shown as ``?`` and rich never reads markup in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitord.core.terminal import json_printable, printable, printable_text
from tests.conftest import UT1
from tests.monitord.cli.school import monitord

DAY = datetime(2026, 11, 19, 18, 0, tzinfo=UTC)
# A hyperlink (OSC 8), a screen clear, a C1 CSI, a window title, and a right-to-left override.
HOSTILE = (
    "[/][link=http://evil.example]x[/link]\x1b]8;;http://evil.example\x07click\x1b]8;;\x07"
    "\x1b[2J\x9b31m\x1b]0;owned\x07\u202egnp.exe:smile:"
)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\x1b[31mred\x1b[0m", "a?red?"),
        ("\x1b]8;;http://x\x07link\x1b]8;;\x07", "?link?"),
        ("\x9b2Jx", "?x"),
        ("tab\there\nnew", "tab?here?new"),
        ("\u202egnp.exe", "?gnp.exe"),
        ("zero\u200bwidth", "zero?width"),
        ("plain [bold]text[/bold] é 日本", "plain [bold]text[/bold] é 日本"),
    ],
)
def test_printable(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_printable_text_keeps_lines_and_tabs() -> None:
    assert printable_text("a\tb\nc\x1b[2Jd\r\n") == "a\tb\nc?d?\n"


@given(st.text())
def test_nothing_a_terminal_acts_on_is_left(text: str) -> None:
    for out in (printable(text), printable_text(text)):
        assert not any((ord(c) < 0x20 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F for c in out)
        assert not any(c in out for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@given(st.text())
def test_json_stays_the_same_value(text: str) -> None:
    doc = json_printable(json.dumps({"v": text}, ensure_ascii=False))
    assert json.loads(doc) == {"v": text}
    assert "\u202e" not in doc
    assert "\x9b" not in doc


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with an alert whose URL is a pupil's attempt on the operator's terminal."""
    root = tmp_path_factory.mktemp("terminal")
    assert monitord("init", str(root / "site")).returncode == 0
    config = root / "site" / "monitord.toml"
    r = monitord("lists", "import", str(UT1), "--format", "ut1", config=config)
    assert r.returncode == 0, r.stderr
    gambling = (UT1 / "gambling" / "domains").read_text().split()[0]
    at = int(datetime(2026, 11, 19, 10, 0, tzinfo=UTC).timestamp())
    log = root / "access.log"
    log.write_bytes(
        f"{at}.000     12 10.20.6.7 TCP_MISS/200 900 GET http://www.{gambling}/{HOSTILE} "
        "jayden.s HIER_DIRECT/192.0.2.1 text/html\n".encode()
    )
    os.utime(log, (DAY.timestamp(), DAY.timestamp()))
    r = monitord("ingest", str(log), "--format", "squid", config=config)
    assert r.returncode == 0, r.stderr
    return config


@pytest.mark.parametrize(
    "command",
    [
        ("alerts", "list"),
        ("alerts", "show", "1"),
        ("alerts", "list", "--json"),
        ("search", "--user", "jayden.s", "--reason", "test"),
        ("search", "--user", "jayden.s", "--csv", "--reason", "test"),
        ("search", "--user", "jayden.s", "--json", "--reason", "test"),
        ("timeline", "--user", "jayden.s", "--date", "2026-11-19", "--reason", "test"),
    ],
)
def test_a_pupils_url_cannot_reach_the_terminal(hostile: Path, command: tuple[str, ...]) -> None:
    cmd = [sys.executable, "-m", "monitord", "--config", str(hostile), *command]
    wide = {**os.environ, "COLUMNS": "2000"}  # tables wide enough to show the whole URL
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=wide, check=False)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "evil.example" in out  # the text is shown, as text
    for c in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert c not in out, (command, c)
    if "--json" not in command:
        assert "[/]" in out  # markup is never read: shown as typed, and no crash
    assert "\U0001f604" not in out  # nor emoji codes
