"""bench/soak.py in small: the real daemon killed with SIGKILL every few seconds while three
logs grow and rotate and the mail server comes and goes, then every line and mail counted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[3] / "bench" / "soak.py"


@pytest.mark.slow
def test_a_small_soak_loses_and_doubles_nothing(tmp_path: Path) -> None:
    args = ["--lines", "6000", "--rate", "600", "--kill-every", "3", "5", "--mail-wait", "5"]
    done = subprocess.run(
        [sys.executable, str(SOAK), *args, "--dir", str(tmp_path / "soak")],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "RESULT: PASS: lost 0, doubled 0" in said
    survived = re.search(r"faults: (\d+) SIGKILLs survived", said)
    assert survived is not None
    assert int(survived.group(1)) >= 1, said
    assert not (tmp_path / "soak").exists()  # removed unless --keep
