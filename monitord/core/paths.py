"""Where the files monitord ships with live: the default policy, starter lists, phrase lists,
lexicons and process names, all under ``monitord/defaults``."""

from __future__ import annotations

from pathlib import Path

DEFAULTS = Path(__file__).resolve().parent.parent / "defaults"
