"""The first sign-in of an account added without a password: its enrolment code, the QR
code drawn on the server, a password and a code from the app; recovery codes once; then an
ordinary sign-in."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from starlette.testclient import TestClient

from monitord.casework.accounts import add_account
from tests.monitord.web.school import Console
from tests.monitord.web.test_pages import token

NEW_PASSWORD = "a long new password"


def test_enrolment_then_sign_in(console: Console) -> None:
    clock = console.school.clock
    made = add_account(
        console.school.app.engine, "new.dsl", "deputy_dsl", "test", clock.now(), full_name="N"
    )
    assert made.enrolment_code is not None
    c = TestClient(console.app, base_url="http://127.0.0.1", follow_redirects=False)
    form = c.get("/enrol")
    r = c.post(
        "/enrol", data={"csrf": token(form.text), "username": "new.dsl", "code": "wrong-code"}
    )
    assert r.status_code == 401
    r = c.post(
        "/enrol",
        data={"csrf": token(r.text), "username": "new.dsl", "code": made.enrolment_code},
    )
    assert r.status_code == 200
    assert '<svg width="' in r.text
    assert "<script" not in r.text
    found = re.search(r"type the key: <code>([A-Z2-7]+)</code>", r.text)
    assert found is not None
    totp = pyotp.TOTP(found.group(1))
    fields = {
        "csrf": token(r.text),
        "step": "finish",
        "username": "new.dsl",
        "code": made.enrolment_code,
        "password": NEW_PASSWORD,
        "totp": totp.at(clock.now()),
    }
    mismatch = c.post("/enrol", data={**fields, "again": "something else"})
    assert mismatch.status_code == 400
    # The page scanned again holds a new secret: the code must be the new one's.
    found = re.search(r"type the key: <code>([A-Z2-7]+)</code>", mismatch.text)
    assert found is not None
    totp = pyotp.TOTP(found.group(1))
    fields |= {"csrf": token(mismatch.text), "totp": totp.at(clock.now())}
    done = c.post("/enrol", data={**fields, "again": NEW_PASSWORD})
    assert done.status_code == 200
    assert len(re.findall(r"<li><code>[a-z0-9-]+</code></li>", done.text)) == 10
    clock.advance(timedelta(seconds=30))  # a code is taken once: the next step's
    form = c.get("/signin")
    r = c.post(
        "/signin",
        data={
            "csrf": token(form.text),
            "username": "new.dsl",
            "password": NEW_PASSWORD,
            "totp": totp.at(clock.now()),
        },
    )
    assert (r.status_code, r.headers["location"]) == (303, "/")
    assert c.get("/").headers["location"] == "/alerts"
    assert c.get("/alerts").status_code == 200
