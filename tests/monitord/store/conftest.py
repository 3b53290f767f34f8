"""Fixtures of the store's tests: a second store of the kind under test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _new_store


@pytest.fixture
def wide_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second store of the same kind, for the same day stored as before (every event an
    ``events`` row)."""
    yield from _new_store(store_kind, tmp_path / "wide-store", request, migrated=True)
