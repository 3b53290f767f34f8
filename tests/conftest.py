"""Shared fixtures: the real sample data beside the project, and a fresh monitord."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.app import App, open_app
from monitord.clock import FixedClock
from monitord.config import Config, load_config
from monitord.initdir import init_dir

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"
UT1 = SHARED / "data" / "ut1" / "blacklists"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 20, 16, 0, tzinfo=UTC))


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A config made by ``monitord init`` in a temporary folder."""
    return load_config(init_dir(tmp_path / "site")[0])


@pytest.fixture
def app(config: Config, clock: FixedClock) -> App:
    return open_app(config, clock)
