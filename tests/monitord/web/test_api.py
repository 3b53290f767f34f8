"""The console's JSON API as DESIGN.md fixes it, for every role: sign-in and lock-out,
the alerts each role may see, 401 and 403, CSRF on every write, writes recorded as the
account."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from tests.monitord.web.school import ACCOUNTS, PASSWORD, Console


def client(console: Console) -> TestClient:
    return TestClient(console.app, base_url="http://127.0.0.1")


def signed_in(console: Console, username: str) -> tuple[TestClient, str]:
    c = client(console)
    r = c.post(
        "/api/session",
        json={"username": username, "password": PASSWORD, "totp": console.code(username)},
    )
    assert r.status_code == 200, r.text
    assert r.json()["role"] == ACCOUNTS[username][0]
    return c, r.json()["csrf"]


def seen(console: Console, username: str) -> set[str]:
    c, _ = signed_in(console, username)
    r = c.get("/api/alerts")
    assert r.status_code == 200
    by_id = {v: k for k, v in console.alert.items()}
    return {by_id[a["id"]] for a in r.json()}


EVERYONE = {"alice.p", "ben.p", "bob.s", "helen.h", "someone", "device"}


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        # The DSL's account is the roster's "someone" (found by email): never their own.
        ("sam.dsl", EVERYONE - {"someone"}),
        ("dep", EVERYONE),
        ("helen.h", EVERYONE - {"helen.h"}),
        ("chair", {"helen.h"}),
        ("tech", {"device"}),
    ],
)
def test_each_role_sees_its_alerts(console: Console, username: str, expected: set[str]) -> None:
    assert seen(console, username) == expected


@pytest.mark.parametrize("username", ["osg", "gov"])
def test_osg_and_governors_see_no_alert(console: Console, username: str) -> None:
    c, _ = signed_in(console, username)
    assert c.get("/api/alerts").status_code == 403
    assert c.get(f"/api/alerts/{console.alert['alice.p']}").status_code == 403


def test_one_alert_with_its_events_only_when_the_role_may_see_it(console: Console) -> None:
    head, _ = signed_in(console, "helen.h")
    r = head.get(f"/api/alerts/{console.alert['alice.p']}")
    assert r.status_code == 200
    body = r.json()
    assert (body["id"], body["person"], body["category"]) == (
        console.alert["alice.p"],
        "alice.p",
        "pornography",
    )
    assert [e["indicator"] for e in body["events"]] == ["pornhub.com"]
    assert "pornhub.com" in body["events"][0]["raw"]
    assert head.get(f"/api/alerts/{console.alert['helen.h']}").status_code == 403
    assert head.get("/api/alerts/9999").status_code == 404
    viewed = console.school.audit("alert.view")
    assert [(a["actor"], a["subject"]) for a in viewed] == [
        ("helen.h", f"alert:{console.alert['alice.p']}")
    ]


def test_without_a_session_401(console: Console) -> None:
    c = client(console)
    assert c.get("/api/alerts").status_code == 401
    assert c.get(f"/api/alerts/{console.alert['alice.p']}").status_code == 401
    assert c.post(f"/api/alerts/{console.alert['alice.p']}/ack", json={}).status_code == 401


def test_status_filter(console: Console) -> None:
    c, csrf = signed_in(console, "dep")
    alice = console.alert["alice.p"]
    assert c.post(f"/api/alerts/{alice}/ack", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert [a["id"] for a in c.get("/api/alerts?status=acknowledged").json()] == [alice]
    assert alice not in [a["id"] for a in c.get("/api/alerts?status=open").json()]
    assert c.get("/api/alerts?status=lost").status_code == 400


def test_writes_need_the_csrf_header_and_are_the_accounts(console: Console) -> None:
    c, csrf = signed_in(console, "dep")
    alice = console.alert["alice.p"]
    for path, body in (("ack", {}), ("note", {"text": "spoke to her"}), ("review", {})):
        assert c.post(f"/api/alerts/{alice}/{path}", json=body).status_code == 403
        wrong = {"X-CSRF-Token": csrf[:-2] + "xx"}
        assert c.post(f"/api/alerts/{alice}/{path}", json=body, headers=wrong).status_code == 403
    assert console.school.audit("alert.ack") == []
    ok = {"X-CSRF-Token": csrf}
    assert c.post(f"/api/alerts/{alice}/ack", headers=ok).json()["status"] == "acknowledged"
    r = c.post(f"/api/alerts/{alice}/note", json={"text": "spoke to her"}, headers=ok)
    assert r.status_code == 200
    assert c.post(f"/api/alerts/{alice}/note", json={"text": " "}, headers=ok).status_code == 400
    r = c.post(f"/api/alerts/{alice}/close", json={"outcome": "no_concern"}, headers=ok)
    assert r.json()["status"] == "closed"
    assert c.post(f"/api/alerts/{alice}/ack", headers=ok).status_code == 409
    actors = [
        (a["action"], a["actor"])
        for action in ("alert.ack", "alert.note", "alert.close")
        for a in console.school.audit(action)
    ]
    assert actors == [("alert.ack", "dep"), ("alert.note", "dep"), ("alert.close", "dep")]


def test_a_role_cannot_act_on_an_alert_it_may_not_see(console: Console) -> None:
    c, csrf = signed_in(console, "tech")
    r = c.post(f"/api/alerts/{console.alert['alice.p']}/ack", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    assert console.school.audit("alert.ack") == []


def test_second_review_by_a_different_account(console: Console) -> None:
    """Bob's alert: the headteacher acknowledges it (the first reviewer); she cannot sign
    the second review herself; the DSL's account does, under its own name."""
    bob = console.alert["bob.s"]
    head, head_csrf = signed_in(console, "helen.h")
    assert head.post(f"/api/alerts/{bob}/ack", headers={"X-CSRF-Token": head_csrf}).is_success
    r = head.post(f"/api/alerts/{bob}/review", headers={"X-CSRF-Token": head_csrf})
    assert r.status_code == 409
    assert "another account" in r.json()["error"]
    dsl, dsl_csrf = signed_in(console, "sam.dsl")
    r = dsl.post(f"/api/alerts/{bob}/review", headers={"X-CSRF-Token": dsl_csrf})
    assert r.status_code == 200, r.text
    assert r.json()["reviewer"] == "sam.dsl"
    [record] = console.school.audit("alert.review")
    assert record["actor"] == "sam.dsl"


def test_wrong_password_or_code_401_then_locked_429(console: Console) -> None:
    c = client(console)
    good = {"username": "dep", "password": PASSWORD, "totp": console.code("dep")}
    assert c.post("/api/session", json={**good, "password": "nope"}).status_code == 401
    wrong_code = f"{(int(good['totp']) + 1) % 1_000_000:06d}"
    assert c.post("/api/session", json={**good, "totp": wrong_code}).status_code == 401
    assert c.post("/api/session", json={"username": "dep"}).status_code == 400
    for _ in range(3):
        assert c.post("/api/session", json={**good, "password": "nope"}).status_code == 401
    assert c.post("/api/session", json=good).status_code == 429


def test_signing_out_ends_the_session(console: Console) -> None:
    c, _ = signed_in(console, "dep")
    assert c.delete("/api/session").status_code == 200
    assert c.get("/api/alerts").status_code == 401


def test_an_idle_session_expires(console: Console) -> None:
    c, _ = signed_in(console, "dep")
    console.school.clock.advance(timedelta(minutes=14))
    assert c.get("/api/alerts").status_code == 200
    console.school.clock.advance(timedelta(minutes=16))
    assert c.get("/api/alerts").status_code == 401


def test_the_session_cookie_and_the_security_headers(console: Console) -> None:
    c = client(console)
    r = c.post(
        "/api/session",
        json={"username": "dep", "password": PASSWORD, "totp": console.code("dep")},
    )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "default-src 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
