from __future__ import annotations

import email
import io
from email.policy import default as default_policy
from pathlib import Path

import pytest
from rich.console import Console

from monitord.service.demo import run_demo


def test_demo_catches_the_planted_incidents(tmp_path: Path) -> None:
    buf = io.StringIO()
    assert run_demo(tmp_path / "demo", Console(file=buf, width=200)) == 0
    text = buf.getvalue()
    for expected in ("pornography", "gambling", "filter_bypass", "social_media", "(blocked)"):
        assert expected in text
    assert "0 rejected" in text
    assert "headteacher" in text
    assert "chair of governors" in text
    mails = sorted((tmp_path / "demo" / "mailbox").glob("*.eml"))
    assert len(mails) == 6
    subjects = [
        str(email.message_from_bytes(p.read_bytes(), policy=default_policy)["Subject"])
        for p in mails
    ]
    assert any("HIGH pornography" in s for s in subjects)
    # A second run replaces the demo folder rather than piling up.
    assert run_demo(tmp_path / "demo", Console(file=io.StringIO(), width=200)) == 0
    assert len(list((tmp_path / "demo" / "mailbox").glob("*.eml"))) == 6


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a monitord demo folder"):
        run_demo(tmp_path, Console(file=io.StringIO()))
    assert (tmp_path / "precious.txt").read_text() == "keep me"
