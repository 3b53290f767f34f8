"""``monitord web`` as a server runs it: HTTPS with the school's certificate, every
security header and a Secure cookie; what would stop it refused at start with one line
that says the fix."""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trustme

from monitord.casework.accounts import add_account
from monitord.casework.totpkey import TotpKey, key_file
from monitord.cli.main import main
from monitord.core.clock import FixedClock
from monitord.settings.config import Config
from monitord.store.database import open_store
from monitord.web.serve import ServeError, bind, listening, ready_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_web(config: Config, body: str) -> Path:
    assert config.path is not None
    config.path.write_text(config.path.read_text() + f"\n[web]\n{body}\n")
    return config.path


def test_https_with_the_schools_certificate(config: Config, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "web.pem"))
    port = free_port()
    path = with_web(
        config,
        f'listen = "127.0.0.1:{port}"\ntls_cert = "{tmp_path / "web.pem"}"\n'
        f'tls_key = "{tmp_path / "web.pem"}"\nbase_url = "https://127.0.0.1:{port}"',
    )
    monitord = Path(sys.executable).parent / "monitord"
    server = subprocess.Popen(
        [str(monitord), "--config", str(path), "web"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
                conn.request("GET", "/signin")
                response = conn.getresponse()
                break
            except OSError:
                assert server.poll() is None, server.communicate()[0]
                assert time.monotonic() < deadline, "the console did not start"
                time.sleep(0.2)
        assert response.status == 200
        assert b"Sign in" in response.read()
        assert response.getheader("strict-transport-security") == "max-age=31536000"
        assert "default-src 'none'" in (response.getheader("content-security-policy") or "")
        cookie = (response.getheader("set-cookie") or "").lower()
        assert "secure" in cookie
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        # The API over the same connection: no session, no alerts.
        conn.request("GET", "/api/alerts")
        assert conn.getresponse().status == 401
        conn.close()
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert f"the console at https://127.0.0.1:{port} (HTTPS)" in output


def test_plain_http_off_loopback_is_refused_with_the_fix(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    path = with_web(config, 'listen = "0.0.0.0:8080"')
    assert main(["--config", str(path), "web"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "web" in line
    assert "tls_cert" in line


def test_a_certificate_that_does_not_load_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "web.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ServeError, match=r"cannot load them .* PEM files"):
        listening("0.0.0.0:8443", bad, bad)


def test_a_port_in_use_is_refused(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match=r"cannot listen there .* choose a free port"):
            bind(listening(f"127.0.0.1:{port}", None, None))


def test_a_missing_totp_key_stops_the_console_naming_the_file(
    config: Config, clock: FixedClock
) -> None:
    engine = open_store(config.database_url, site=config.site_id)
    try:
        key = TotpKey(key_file(config))
        add_account(engine, "helen.h", "dsl", "root", clock.now(), password="x" * 12, key=key)
        ready_key(config, engine, clock)  # the key is there: nothing to say
        key_file(config).unlink()
        with pytest.raises(ServeError, match="missing") as raised:
            ready_key(config, engine, clock)
        assert str(key_file(config)) in str(raised.value)
    finally:
        engine.dispose()
