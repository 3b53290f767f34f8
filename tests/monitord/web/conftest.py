"""The console's test school, for every test module here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitord.core.clock import FixedClock
from monitord.settings.config import Config
from tests.monitord.web.school import Console, console_school


@pytest.fixture
def console(config: Config, clock: FixedClock, tmp_path: Path) -> Iterator[Console]:
    with console_school(config, clock, tmp_path) as c:
        yield c
