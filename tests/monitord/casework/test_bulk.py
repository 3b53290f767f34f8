"""Several technical alerts at once; never an alert about what a person did."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.casework import cases
from monitord.casework.bulk import technical_alerts
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config
from tests.monitord.cli.school import mixed_alerts, opened
from tests.stores import use_store

pytestmark = pytest.mark.stores
NOW = datetime.now(UTC)


@pytest.fixture
def school(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> Path:
    path = init_dir(tmp_path / "site")[0]
    if store_kind != "sqlite":
        use_store(path, request.getfixturevalue("store_url"))
    return path


def test_by_category_every_open_one_and_none_closed(school: Path, tmp_path: Path) -> None:
    ids = mixed_alerts(school, tmp_path)
    devices = ids["unauthorised_device"]
    with opened(load_config(school)) as engine:
        assert technical_alerts(engine, [], "unauthorised_device") == devices
        cases.close(engine, devices[0], "technician", "no_concern", NOW)
        assert technical_alerts(engine, [], "unauthorised_device") == devices[1:]
        assert technical_alerts(engine, [], "monitoring_gap") == []


def test_ids_all_checked_before_any_is_used(school: Path, tmp_path: Path) -> None:
    ids = mixed_alerts(school, tmp_path)
    devices, [pupil] = ids["unauthorised_device"], ids["pornography"]
    with opened(load_config(school)) as engine:
        assert technical_alerts(engine, [devices[1], devices[0], devices[1]], None) == [
            devices[1],
            devices[0],
        ]
        cases.close(engine, devices[2], "technician", "no_concern", NOW)
        with pytest.raises(cases.CaseError) as refused:
            technical_alerts(engine, [devices[0], pupil, devices[2], 999], None)
    assert str(refused.value) == (
        f"alert {pupil} (pornography) is about what a person did: deal with it on its own; "
        f"alert {devices[2]} is closed; no alert 999 (nothing was changed)"
    )


def test_a_category_about_people_is_refused(school: Path) -> None:
    with opened(load_config(school)) as engine, pytest.raises(cases.CaseError) as refused:
        technical_alerts(engine, [], "pornography")
    assert "--category pornography: only alerts of monitoring_gap, unauthorised_device" in str(
        refused.value
    )
