"""The console as one ASGI application: every part's routes are there, the package's own
stylesheet is served, every response (a page, the API, a file, a page not found) carries
the security headers, HSTS and Secure cookies only when staff reach it over HTTPS, and a
body too large is refused before any handler reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from monitord.core.clock import FixedClock
from monitord.settings.config import Config, load_config
from monitord.web.app import STATIC, make_app, served_over_https
from monitord.web.headers import CSP, MAX_BODY
from tests.monitord.web.school import Console


def with_web(config: Config, body: str) -> Config:
    assert config.path is not None
    config.path.write_text(config.path.read_text() + f"\n[web]\n{body}\n")
    return load_config(config.path)


def client(console: Console) -> TestClient:
    return TestClient(console.app, base_url="http://127.0.0.1", follow_redirects=False)


def test_https_is_the_certificates_or_the_proxys(config: Config, tmp_path: Path) -> None:
    assert not served_over_https(config)
    assert config.path is not None
    original = config.path.read_text()
    pem = tmp_path / "web.pem"
    pem.write_text("")
    for web, https in (
        ('base_url = "http://127.0.0.1:8080"', False),
        ('base_url = "https://monitord.school.example"', True),
        (f'tls_cert = "{pem}"\ntls_key = "{pem}"', True),
    ):
        config.path.write_text(original)
        assert served_over_https(with_web(config, web)) is https, web


@pytest.mark.parametrize(
    "path",
    ["/", "/alerts", "/alerts/1", "/timeline", "/search", "/health", "/digests", "/report",
     "/audit", "/enrol", "/signin"],
)  # fmt: skip
def test_every_parts_pages_are_served(console: Console, path: str) -> None:
    r = client(console).get(path)
    # Each is there: the sign-in page itself, or a way to it (never "not found").
    assert r.status_code in (200, 303), (path, r.status_code)
    if r.status_code == 303:
        assert r.headers["location"].startswith("/signin")
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["cache-control"] == "no-store"


def test_the_stylesheet_and_the_other_answers_carry_the_headers(console: Console) -> None:
    c = client(console)
    css = c.get("/static/console.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.content == (STATIC / "console.css").read_bytes()
    assert "cache-control" not in css.headers  # the same for everyone: it may be cached
    for r in (css, c.get("/no-such-page"), c.get("/api/alerts"), c.get("/static/../app.py")):
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in r.headers  # plain HTTP here
    assert c.get("/no-such-page").status_code == 404
    assert c.get("/api/alerts").status_code == 401
    assert c.get("/static/../app.py").status_code == 404  # the package's code is not served


def test_over_https_hsts_and_secure_cookies(
    console: Console, config: Config, clock: FixedClock
) -> None:
    https = with_web(config, 'base_url = "https://monitord.school.example"')
    app = make_app(https, console.school.app.engine, clock)
    c = TestClient(app, base_url="https://monitord.school.example", follow_redirects=False)
    r = c.get("/signin")
    assert r.headers["strict-transport-security"] == "max-age=31536000"
    assert "Secure" in r.headers["set-cookie"]
    assert app.state.console.secure is True


def test_a_body_too_large_is_refused(console: Console) -> None:
    r = client(console).post("/api/session", content=b"{" + b" " * MAX_BODY + b"}")
    assert r.status_code == 413
    assert r.text == "request body too large\n"
