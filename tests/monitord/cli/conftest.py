"""The school the command-line tests share: built once, copied for each test module (its
tests change it: they ack and close alerts, flush the outbox)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.settings.config import Config
from tests.monitord.cli.school import build_school, copy_school


@pytest.fixture(scope="session")
def school_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_school(tmp_path_factory.mktemp("school"))


@pytest.fixture(scope="module")
def site(school_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_school(school_template, tmp_path_factory.mktemp("site"))


@pytest.fixture
def options(config: Config, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``--config`` for a school made by ``monitord init`` (on either store, for tests
    marked ``stores``), with a terminal wide enough for each row of a table on one line."""
    monkeypatch.setenv("COLUMNS", "200")
    assert config.path is not None
    return ["--config", str(config.path)]
