"""Screenshots that agents send as evidence, kept content-addressed: the file is named by its
SHA-256, checked on arrival, so it can neither be swapped nor land anywhere but the evidence
folder."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path, PurePosixPath

from monitord.core.private import write_private
from monitord.store.shots import shot_path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_SCREENSHOT = 20 * 1024 * 1024


class ScreenshotError(Exception):
    """A screenshot that cannot be kept; the message says why."""


def evidence_path(evidence: Path, digest: str) -> Path:
    if not _SHA256.match(digest):
        raise ScreenshotError(f"sha256 {digest[:80]!r} is not 64 lower-case hex digits")
    return shot_path(evidence, digest)


def check_blob(data: bytes, digest: str) -> None:
    """That ``digest`` is a SHA-256 and ``data``'s."""
    if not _SHA256.match(digest):
        raise ScreenshotError(f"sha256 {digest[:80]!r} is not 64 lower-case hex digits")
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ScreenshotError(f"content's sha256 is {actual}, not {digest}")


def store_blob(data: bytes, digest: str, evidence: Path) -> Path:
    """Keep ``data`` if its SHA-256 is ``digest``; the same picture twice is kept once."""
    target = evidence_path(evidence, digest)
    check_blob(data, digest)
    if target.exists():
        return target
    return write_private(target, data)


def safe_relative(base: Path, name: str) -> Path:
    """``name`` inside ``base``: no absolute path, no ``..``, no link out of it."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if not name or pure.is_absolute() or ".." in pure.parts or ":" in name:
        raise ScreenshotError(f"screenshot name {name[:80]!r} leads outside the spool")
    candidate = (base / pure).resolve()
    root = base.resolve()
    if root != candidate and root not in candidate.parents:
        raise ScreenshotError(f"screenshot name {name[:80]!r} leads outside the spool")
    return candidate


def read_screenshot(base: Path, name: str, digest: str) -> bytes:
    """The screenshot a report in ``base`` names, read from one descriptor opened without
    following a link, and no more than MAX_SCREENSHOT."""
    source = safe_relative(base, name)
    evidence_path(Path(), digest)  # the digest is checked before the file is read
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ScreenshotError(f"screenshot {name[:80]!r}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ScreenshotError(f"screenshot {name[:80]!r} is not a regular file")
        data = fh.read(MAX_SCREENSHOT + 1)
    if len(data) > MAX_SCREENSHOT:
        raise ScreenshotError(f"screenshot {name[:80]!r} is larger than 20 MiB")
    return data
