"""``monitord web``: what stops the console at start is one line and exit status 1; its
help says how it is reached; its systemd unit passes systemd's checks, is hardened like
the daemon's (without the capture capability or the log readers' group), and the install
script puts it in place and takes it away again."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from monitord.cli.main import main
from monitord.settings.config import Config

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "systemd" / "monitord-web.service"
DAEMON = ROOT / "systemd" / "monitord.service"
ANALYZE = shutil.which("systemd-analyze")


def settings(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        key, eq, value = line.partition("=")
        if eq and not line.startswith("#"):
            found.setdefault(key, []).append(value)
    return found


def test_hardened_like_the_daemon_without_capture() -> None:
    web, daemon = settings(UNIT), settings(DAEMON)
    hardening = [k for k in daemon if k.startswith(("Protect", "Private", "Restrict", "System"))]
    for key in [*hardening, "NoNewPrivileges", "UMask", "User", "CapabilityBoundingSet"]:
        assert web.get(key) == daemon[key], key
    assert web["CapabilityBoundingSet"] == [""]
    assert web["AmbientCapabilities"] == [""]
    assert "SupplementaryGroups" not in web
    assert web["ExecStart"] == [
        "/opt/monitord/venv/bin/monitord --config /etc/monitord/monitord.toml web"
    ]


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_unit_verifies_and_is_rated_at_most_2_5(tmp_path: Path) -> None:
    assert ANALYZE is not None
    unit = tmp_path / "monitord-web.service"
    monitord = Path(sys.executable).parent / "monitord"
    unit.write_text(UNIT.read_text().replace("/opt/monitord/venv/bin/monitord", str(monitord)))
    verify = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    rating = subprocess.run(
        [ANALYZE, "security", "--offline=yes", str(unit)], capture_output=True, text=True
    )
    line = next(x for x in rating.stdout.splitlines() if "Overall exposure level" in x)
    assert float(line.split("monitord-web.service:")[1].split()[0]) <= 2.5, line


def test_install_puts_the_unit_in_place_and_uninstall_removes_it(tmp_path: Path) -> None:
    env = dict(
        os.environ, ROOT=str(tmp_path), NO_SYSTEMCTL="1", SKIP_VENV="1", PYTHON=sys.executable
    )
    script = str(ROOT / "scripts" / "install.sh")
    done = subprocess.run([script, "install"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    installed = tmp_path / "etc" / "systemd" / "system" / "monitord-web.service"
    assert installed.read_text() == UNIT.read_text()
    done = subprocess.run(
        [script, "uninstall"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert not installed.exists()


def test_a_port_in_use_is_one_line_and_status_1(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    assert config.path is not None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config.path.write_text(config.path.read_text() + f'\n[web]\nlisten = "127.0.0.1:{port}"\n')
        assert main(["--config", str(config.path), "web"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert f"127.0.0.1:{port}" in line
    assert "choose a free port" in line


def test_the_help_says_how_the_console_is_reached(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["web", "--help"])
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "monitord users add" in shown
    assert "[web] tls_cert and tls_key" in shown
    assert "plain HTTP on loopback behind a reverse proxy" in shown
