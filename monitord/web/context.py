"""What every request handler shares: the console's state, who is signed in, CSRF checks,
the session cookie."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitord.core.clock import Clock
from monitord.settings.config import Config
from monitord.web.gate import Gate, SignedIn, Viewer, viewer_of
from monitord.web.render import Pages

COOKIE = "monitord_session"
# The token of the forms shown before there is a session (sign-in, enrolment).
FORM_COOKIE = "monitord_form"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"


@dataclass(frozen=True, slots=True)
class Console:
    """The console's dependencies, given to the app when it is made."""

    cfg: Config
    engine: Engine
    clock: Clock
    accounts: Gate
    secure: bool  # served over HTTPS (directly or behind a proxy): cookies are Secure
    pages: Pages


@dataclass(frozen=True, slots=True)
class Visit:
    """A request from a signed-in account."""

    session: SignedIn
    viewer: Viewer

    @property
    def username(self) -> str:
        return self.viewer.username


def console(request: Request) -> Console:
    state: Console = request.app.state.console
    return state


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def visit(request: Request) -> Visit | None:
    """The signed-in account behind the request's cookie, or None (no cookie, a session
    ended or expired)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    c = console(request)
    session = c.accounts.session(token, c.clock.now())
    if session is None:
        return None
    return Visit(session, viewer_of(c.engine, session.account))


def csrf_ok(v: Visit, given: object) -> bool:
    return bool(given) and hmac.compare_digest(v.session.csrf.encode(), str(given).encode())


def set_session_cookie(response: Response, c: Console, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(c.cfg.settings.web.session_max.total_seconds()),
        path="/",
        secure=c.secure,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, c: Console) -> None:
    response.delete_cookie(COOKIE, path="/", secure=c.secure, httponly=True, samesite="strict")


def to_signin(request: Request) -> Response:
    """To the sign-in page, and back here after it; saying so when a session has ended."""
    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    why = "&why=expired" if request.cookies.get(COOKIE) else ""
    return RedirectResponse(f"/signin?next={target}{why}", status_code=303)


def page_context(v: Visit, **context: Any) -> dict[str, Any]:
    """What every signed-in page's template is given."""
    return {"viewer": v.viewer, "csrf": v.session.csrf, **context}


def form_page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """A page whose form is sent before there is a session (sign-in, enrolment): its CSRF
    token is a new random one, kept in a cookie beside it (``form_token_ok``)."""
    c = console(request)
    token = secrets.token_urlsafe(32)
    response = c.pages.page(template, status, csrf=token, **context)
    response.set_cookie(
        FORM_COOKIE, token, max_age=900, path="/", secure=c.secure, httponly=True,
        samesite="strict",
    )  # fmt: skip
    return response


def form_token_ok(request: Request, given: object) -> bool:
    kept = request.cookies.get(FORM_COOKIE, "")
    return bool(kept) and hmac.compare_digest(str(given).encode(), kept.encode())


def message(
    request: Request, v: Visit, text: str, status: int = 403, title: str = "Not for this role"
) -> Response:
    """A page that says one thing: why a request was refused."""
    page = console(request).pages.page
    return page("message.html.j2", status, **page_context(v, title=title, text=text))


def admitted(request: Request, roles: Collection[str], refusal: str) -> Visit | Response:
    """The visit of a signed-in account whose role is one of ``roles``; otherwise the
    response: to sign in, or the page saying ``refusal`` (403)."""
    v = visit(request)
    if v is None:
        return to_signin(request)
    if v.viewer.role not in roles:
        return message(request, v, refusal, 403)
    return v


def admitted_form(
    request: Request,
    form: FormData | None,
    roles: Collection[str] | None,
    refusal: str = "",
    done: str = "changed",
) -> Visit | Response:
    """``admitted`` (any signed-in account when ``roles`` is None), and a ``form`` sent
    with the session's CSRF token; otherwise the response: to sign in, the page saying
    ``refusal``, or "Refused" (403), nothing ``done``. A request without a form (a GET,
    which changes nothing) needs no token."""
    v = visit(request) if roles is None else admitted(request, roles, refusal)
    if v is None:
        return to_signin(request)
    if isinstance(v, Visit) and form is not None and not csrf_ok(v, form.get(CSRF_FIELD)):
        text = f"The form's security token was missing or wrong: nothing was {done}."
        return message(request, v, text, 403, "Refused")
    return v
