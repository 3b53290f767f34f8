from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from collectors.screenshots import ScreenshotError, read_screenshot, safe_relative, store_blob


def test_blob_kept_under_its_hash_once(tmp_path: Path) -> None:
    data = b"picture"
    digest = hashlib.sha256(data).hexdigest()
    first = store_blob(data, digest, tmp_path)
    again = store_blob(data, digest, tmp_path)
    assert first == again == tmp_path / "screenshots" / digest[:2] / digest
    assert first.read_bytes() == data


@pytest.mark.parametrize("digest", ["0" * 63, "G" * 64, "../" + "0" * 61, "0" * 64 + "/x"])
def test_a_digest_that_is_not_one_is_refused(tmp_path: Path, digest: str) -> None:
    with pytest.raises(ScreenshotError):
        store_blob(b"x", digest, tmp_path)


def test_content_must_match_its_hash(tmp_path: Path) -> None:
    with pytest.raises(ScreenshotError, match="content's sha256 is"):
        store_blob(b"x", "0" * 64, tmp_path)
    assert not (tmp_path / "screenshots").exists()


@pytest.mark.parametrize(
    "name", ["../x.png", "/etc/passwd", "a/../../x.png", "..\\x.png", "C:\\x.png", "", "link/x"]
)
def test_names_that_lead_outside_are_refused(tmp_path: Path, name: str) -> None:
    base = tmp_path / "spool"
    base.mkdir()
    (base / "link").symlink_to(tmp_path)
    with pytest.raises(ScreenshotError, match="leads outside the spool"):
        safe_relative(base, name)


def test_store_screenshot_from_the_spool(tmp_path: Path) -> None:
    (tmp_path / "s.png").write_bytes(b"png")
    digest = hashlib.sha256(b"png").hexdigest()
    data = read_screenshot(tmp_path, "s.png", digest)
    assert store_blob(data, digest, tmp_path / "evidence").read_bytes() == b"png"
    with pytest.raises(ScreenshotError, match="No such file"):
        read_screenshot(tmp_path, "missing.png", digest)
