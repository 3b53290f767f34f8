"""Every response's security headers, and the limit on a request's body."""

from __future__ import annotations

from collections.abc import Iterator

from starlette.testclient import TestClient

from monitord.web.headers import CSP, MAX_BODY
from tests.monitord.web.school import Console


def client(console: Console) -> TestClient:
    return TestClient(console.app, base_url="http://127.0.0.1")


def test_pages_and_static_files_carry_the_headers(console: Console) -> None:
    c = client(console)
    page = c.get("/signin")
    css = c.get("/static/console.css")
    for r in (page, css):
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in r.headers  # plain HTTP on loopback
    assert page.headers["cache-control"] == "no-store"
    assert "no-store" not in css.headers.get("cache-control", "")


def test_a_body_over_the_limit_is_refused(console: Console) -> None:
    c = client(console)
    big = b"x" * (MAX_BODY + 1)
    r = c.post("/api/session", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 4096 + 2):
            yield b"y" * 4096

    r = c.post("/api/session", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert c.post("/api/session", json={"username": "x"}).status_code == 400
