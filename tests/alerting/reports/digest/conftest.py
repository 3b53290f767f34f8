"""Fixtures of the digest tests: a site, its store, its policy, a generated week and the
digest collected from it, and a loopback SMTP sink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from alerting.reports.digest.collect import collect
from alerting.reports.digest.model import Digest
from monitord.classify.policy import Policy, load_policy
from monitord.settings.config import Config
from monitord.store.database import open_store
from tests.alerting.reports.digest.site import (
    WEEK,
    site_config,
)
from tests.alerting.reports.digestweek import generate
from tests.alerting.test_delivery import Sink, free_port


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def cfg(tmp_path: Path, port: int) -> Config:
    return site_config(tmp_path / "site", port)


@pytest.fixture
def engine(cfg: Config) -> Iterator[Engine]:
    e = open_store(cfg.database_url)
    yield e
    e.dispose()


@pytest.fixture
def policy(cfg: Config) -> Policy:
    return load_policy(cfg.policy_file, cfg.tz)


@pytest.fixture
def sink(port: int) -> Iterator[Sink]:
    s = Sink()
    controller = Controller(s, hostname="127.0.0.1", port=port)
    controller.start()
    yield s
    controller.stop()


@pytest.fixture
def generated(engine: Engine) -> Any:
    return generate(engine, WEEK)


@pytest.fixture
def digest(engine: Engine, cfg: Config, policy: Policy, generated: Any) -> Digest:
    return collect(engine, cfg, policy, WEEK, generated.now)
