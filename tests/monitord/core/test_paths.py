"""The files monitord ships with are where ``DEFAULTS`` says."""

from __future__ import annotations

from monitord.core.paths import DEFAULTS


def test_the_shipped_defaults_are_there() -> None:
    assert DEFAULTS.is_dir()
    assert (DEFAULTS / "policy.toml").is_file()
    assert (DEFAULTS / "monitord.toml").is_file()
    for folder in ("lists", "phrases", "processes", "lexicon"):
        assert any((DEFAULTS / folder).iterdir()), folder
