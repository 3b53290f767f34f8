"""The service as a server runs it: the unit passes systemd's own checks, the install script
writes what it should with the right modes, and the daemon talks to systemd."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from monitord.cli.main import main
from monitord.service.initdir import init_dir

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "systemd" / "monitord.service"
ANALYZE = shutil.which("systemd-analyze")


def runnable_unit(tmp_path: Path) -> Path:
    """The unit with its ExecStart pointing at this checkout's monitord, so verify can run."""
    unit = tmp_path / "monitord.service"
    monitord = Path(sys.executable).parent / "monitord"
    unit.write_text(UNIT.read_text().replace("/opt/monitord/venv/bin/monitord", str(monitord)))
    return unit


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_unit_verifies_and_is_rated_at_most_2_5(tmp_path: Path) -> None:
    unit = runnable_unit(tmp_path)
    verify = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    rating = subprocess.run(
        [ANALYZE, "security", "--offline=yes", str(unit)], capture_output=True, text=True
    )
    line = next(x for x in rating.stdout.splitlines() if "Overall exposure level" in x)
    level = float(line.split("monitord.service:")[1].split()[0])
    assert level <= 2.5, line


def install(tmp_path: Path, action: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = dict(
        os.environ,
        ROOT=str(tmp_path / "root"),
        NO_SYSTEMCTL="1",
        SKIP_VENV="1",
        PYTHON=sys.executable,
        **env,
    )
    return subprocess.run(
        [str(ROOT / "scripts" / "install.sh"), action],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_install_then_uninstall_keeps_the_data(tmp_path: Path) -> None:
    done = install(tmp_path, "install")
    assert done.returncode == 0, done.stderr
    root = tmp_path / "root"
    config = root / "etc" / "monitord" / "monitord.toml"
    assert mode(config) == 0o640
    assert mode(root / "etc" / "monitord" / "smtp.secret") == 0o600
    assert mode(root / "etc" / "monitord") == 0o750
    assert (
        root / "etc" / "systemd" / "system" / "monitord.service"
    ).read_text() == UNIT.read_text()
    assert (root / "usr" / "lib" / "sysusers.d" / "monitord.conf").exists()
    assert 'url = "sqlite:////var/lib/monitord/monitord.db"' in config.read_text()
    assert main(["--config", str(config), "config", "check"]) == 0
    # A second install keeps the school's edited config.
    config.write_text(config.read_text().replace("Example Primary", "St Mary's"))
    assert install(tmp_path, "install").returncode == 0
    assert "St Mary's" in config.read_text()
    (root / "var" / "lib" / "monitord" / "monitord.db").write_text("the school's data")
    assert install(tmp_path, "uninstall").returncode == 0
    assert not (root / "etc" / "systemd" / "system" / "monitord.service").exists()
    assert not (root / "opt" / "monitord").exists()
    assert (root / "var" / "lib" / "monitord" / "monitord.db").read_text() == "the school's data"
    assert config.exists()
    assert install(tmp_path, "uninstall", PURGE="1").returncode == 0
    assert not (root / "var" / "lib" / "monitord").exists()
    assert not (root / "etc" / "monitord").exists()


def test_install_without_systemd_finishes_with_a_note(tmp_path: Path) -> None:
    done = install(tmp_path, "install", SYSTEMD_RUN_DIR=str(tmp_path / "no-systemd"))
    assert done.returncode == 0, done.stderr
    assert "systemd is not running on this machine" in done.stdout
    assert "monitord --config /etc/monitord/monitord.toml run" in done.stdout
    capture = tmp_path / "root" / "opt" / "monitord" / "systemd" / "capture.conf"
    assert mode(capture) == 0o644
    assert install(tmp_path, "uninstall", SYSTEMD_RUN_DIR="/nonexistent").returncode == 0


def test_install_refuses_an_interpreter_the_service_user_cannot_run(tmp_path: Path) -> None:
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    (private / "python3").symlink_to(sys.executable)

    def with_python(python: Path, folder: str) -> subprocess.CompletedProcess[str]:
        # The interpreter is checked only when the virtual environment is made.
        environ = {k: v for k, v in os.environ.items() if k != "SKIP_VENV"}
        environ.update(ROOT=str(tmp_path / folder), PYTHON=str(python))
        return subprocess.run(
            [str(ROOT / "scripts" / "install.sh"), "install"],
            capture_output=True,
            text=True,
            env=environ,
            timeout=60,
        )

    done = with_python(private / "python3", "root")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "cannot be run by the monitord user" in done.stderr
    assert "PYTHON=/usr/bin/python3" in done.stderr
    assert not (tmp_path / "root" / "opt" / "monitord" / "venv").exists()
    missing = with_python(tmp_path / "nothing", "root2")
    assert missing.returncode == 1
    assert "apt-get install python3 python3-venv" in missing.stderr


def test_daemon_tells_systemd_ready_watchdog_and_stopping(tmp_path: Path) -> None:
    config = init_dir(tmp_path / "site")[0]
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(120)
        env = dict(os.environ, NOTIFY_SOCKET=address, WATCHDOG_USEC="400000")
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitord", "--config", str(config), "run"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            messages = [sock.recv(4096).decode() for _ in range(3)]
            proc.send_signal(signal.SIGTERM)
            while "STOPPING=1" not in messages[-1]:
                messages.append(sock.recv(4096).decode())
            proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert messages[0].startswith("READY=1\nSTATUS=following")
    assert "WATCHDOG=1" in messages[1:]
    assert proc.returncode == 0
