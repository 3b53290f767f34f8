"""What every console handler shares: the signed-in account found from the session cookie
(none without one, or with one that opens nothing), CSRF tokens compared in constant time
(a session's for pages and the API, a cookie's for the forms before sign-in), the session
cookie's flags, the way back to the page after sign-in, and refusal by role."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from monitord.web.context import (
    COOKIE,
    FORM_COOKIE,
    Console,
    Visit,
    address,
    admitted,
    admitted_form,
    clear_session_cookie,
    csrf_ok,
    form_token_ok,
    page_context,
    set_session_cookie,
    to_signin,
    visit,
)
from monitord.web.gate import SignedIn
from tests.monitord.web.school import PASSWORD
from tests.monitord.web.school import Console as School


def request(school: School, path: str = "/alerts", query: str = "", **cookies: str) -> Request:
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": query.encode(),
            "headers": [(b"cookie", cookie.encode())] if cookie else [],
            "client": ("192.0.2.7", 50000),
            "server": ("127.0.0.1", 8080),
            "scheme": "http",
            "app": school.app,
        }
    )


def signed_in(school: School, username: str) -> SignedIn:
    c: Console = school.app.state.console
    now = school.school.clock.now()
    return c.accounts.sign_in(username, PASSWORD, school.code(username), "192.0.2.7", now)


def test_the_visit_is_the_cookies_session_or_none(console: School) -> None:
    assert visit(request(console)) is None
    assert visit(request(console, **{COOKIE: "forged"})) is None
    s = signed_in(console, "sam.dsl")
    v = visit(request(console, **{COOKIE: s.token}))
    assert v is not None
    assert v.username == "sam.dsl"
    assert v.session.csrf == s.csrf
    assert v.viewer.people == frozenset({"sam.dsl", "someone"})  # the roster person too
    console.school.clock.advance(timedelta(minutes=16))  # left idle
    assert visit(request(console, **{COOKIE: s.token})) is None


def test_csrf_tokens_must_match_exactly(console: School) -> None:
    s = signed_in(console, "dep")
    v = visit(request(console, **{COOKIE: s.token}))
    assert isinstance(v, Visit)
    assert csrf_ok(v, s.csrf)
    for wrong in (None, "", s.csrf[:-1], s.csrf + "x", s.csrf.upper(), s.token):
        assert not csrf_ok(v, wrong), wrong
    ctx = page_context(v, extra=1)
    assert (ctx["viewer"], ctx["csrf"], ctx["extra"]) == (v.viewer, s.csrf, 1)


def test_a_form_before_sign_in_carries_its_cookies_token(console: School) -> None:
    assert form_token_ok(request(console, **{FORM_COOKIE: "abc123"}), "abc123")
    assert not form_token_ok(request(console, **{FORM_COOKIE: "abc123"}), "abc124")
    assert not form_token_ok(request(console, **{FORM_COOKIE: "abc123"}), None)
    assert not form_token_ok(request(console), "")  # no cookie: nothing matches, not even ""


def cookie_of(response: Response) -> str:
    [line] = response.headers.getlist("set-cookie")
    return line


def test_the_session_cookie_is_httponly_strict_and_secure_under_https(console: School) -> None:
    c: Console = console.app.state.console
    plain = Response()
    set_session_cookie(plain, c, "tok")
    line = cookie_of(plain)
    assert line.startswith(f"{COOKIE}=tok;")
    for flag in ("HttpOnly", "Path=/", "SameSite=strict", "Max-Age=28800"):
        assert flag in line, line
    assert "Secure" not in line  # plain HTTP on loopback behind a proxy
    secure = Response()
    set_session_cookie(secure, dataclasses.replace(c, secure=True), "tok")
    assert "Secure" in cookie_of(secure)
    gone = Response()
    clear_session_cookie(gone, c)
    assert "Max-Age=0" in cookie_of(gone)


def test_to_sign_in_and_back_to_the_page(console: School) -> None:
    r = to_signin(request(console, "/alerts/5", "status=all&x=1"))
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=/alerts/5%3Fstatus%3Dall%26x%3D1"
    # A cookie that opens nothing any more: the session ended, and the page says so.
    ended = to_signin(request(console, "/alerts", **{COOKIE: "old"}))
    assert ended.headers["location"] == "/signin?next=/alerts&why=expired"
    assert address(request(console)) == "192.0.2.7"


def test_admitted_by_role_or_refused(console: School) -> None:
    refusal = "Only the safeguarding staff search the logs."
    signed_out = admitted(request(console), {"dsl"}, refusal)
    assert isinstance(signed_out, Response)
    assert signed_out.status_code == 303
    tech = signed_in(console, "tech")
    refused = admitted(request(console, **{COOKIE: tech.token}), {"dsl", "deputy_dsl"}, refusal)
    assert isinstance(refused, Response)
    assert refused.status_code == 403
    assert refusal in bytes(refused.body).decode()
    dsl = signed_in(console, "sam.dsl")
    let_in = admitted(request(console, **{COOKIE: dsl.token}), {"dsl", "deputy_dsl"}, refusal)
    assert isinstance(let_in, Visit)
    assert let_in.username == "sam.dsl"


def test_a_form_is_admitted_with_the_sessions_token_or_refused(console: School) -> None:
    """Signed out: to sign in; a role not listed: its refusal, before any token is read;
    a wrong or missing token: "Refused", saying what was not done; no form (a GET): no
    token needed; no roles given: any signed-in account."""
    roles, refusal = {"dsl", "technician"}, "The accounts are for the technician."
    signed_out = admitted_form(request(console), FormData(), roles, refusal)
    assert isinstance(signed_out, Response)
    assert signed_out.status_code == 303
    gov = signed_in(console, "gov")
    as_gov = request(console, **{COOKIE: gov.token})
    refused = admitted_form(as_gov, FormData({"csrf": gov.csrf}), roles, refusal)
    assert isinstance(refused, Response)
    assert refused.status_code == 403
    assert refusal in bytes(refused.body).decode()
    assert isinstance(admitted_form(as_gov, FormData({"csrf": gov.csrf}), None), Visit)
    tech = signed_in(console, "tech")
    as_tech = request(console, **{COOKIE: tech.token})
    for form, done in ((FormData(), "changed"), (FormData({"csrf": gov.csrf}), "recorded")):
        no_token = admitted_form(as_tech, form, roles, refusal, done)
        assert isinstance(no_token, Response)
        assert no_token.status_code == 403
        page = bytes(no_token.body).decode()
        assert "<title>Refused" in page
        assert f"security token was missing or wrong: nothing was {done}." in page
    let_in = admitted_form(as_tech, FormData({"csrf": tech.csrf}), roles, refusal)
    assert isinstance(let_in, Visit)
    assert let_in.username == "tech"
    assert isinstance(admitted_form(as_tech, None, roles, refusal), Visit)
