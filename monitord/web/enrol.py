"""The first sign-in of a new account (``monitord users add`` without a password): the user
name and the one-time enrolment code, then the QR code of the account's new TOTP secret to
scan, a password to choose and a code from the app to confirm it; the recovery codes are
shown once at the end. The accounts core checks and records each step."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitord.casework.accounts import AccountError
from monitord.casework.signin import Outcome, begin_enrolment, finish_enrolment
from monitord.casework.totpkey import TotpKeyError
from monitord.web.context import CSRF_FIELD, address, console, form_page, form_token_ok
from monitord.web.gate import NO_KEY, log

REFUSED = "That user name and enrolment code do not go together (or the code has expired)."


def _locked(wait: int) -> str:
    return f"Locked after repeated failures: try again in {max(1, -(-wait // 60))} min."


def _scan(request: Request, username: str, code: str, error: str | None, status: int) -> Response:
    """Step two: a new secret to scan, and the form that sets the password with a code."""
    c = console(request)
    school = c.cfg.settings.school.name
    try:
        begun = begin_enrolment(
            c.engine, username, code, address(request), c.clock.now(), key=c.accounts.key,
            school=school,
        )  # fmt: skip
    except TotpKeyError as exc:
        log.error("%s", exc)
        return form_page(request, "enrol.html.j2", 503, step="code", error=NO_KEY)
    if begun.outcome is not Outcome.OK:
        wait = begun.retry_after
        return form_page(request, "enrol.html.j2", 429 if wait else 401, step="code",
                         error=_locked(wait) if wait else REFUSED)  # fmt: skip
    secret = parse_qs(urlsplit(begun.totp_uri).query).get("secret", [""])[0]
    return form_page(
        request,
        "enrol.html.j2",
        status,
        step="scan",
        username=username,
        code=code,
        qr=Markup(begun.qr_svg),  # drawn by segno from our own URI: markup, not content
        secret=secret,
        required=begun.two_factor_required,
        error=error,
    )


def _step(request: Request, form: FormData | None) -> Response:
    if form is None:
        return form_page(request, "enrol.html.j2", step="code")
    if not form_token_ok(request, form.get(CSRF_FIELD, "")):
        return form_page(
            request, "enrol.html.j2", 403, step="code", error="The form had expired: start again."
        )
    username, code = (str(form.get(k, "")).strip() for k in ("username", "code"))
    if form.get("step") != "finish":
        return _scan(request, username, code, None, 200)
    password, again = str(form.get("password", "")), str(form.get("again", ""))
    if password != again:
        return _scan(request, username, code, "The two passwords differ: scan again.", 400)
    c = console(request)
    try:
        done = finish_enrolment(
            c.engine, username, code, password, str(form.get("totp", "")).strip(),
            address(request), c.clock.now(), key=c.accounts.key,
        )  # fmt: skip
    except TotpKeyError as exc:
        log.error("%s", exc)
        return form_page(request, "enrol.html.j2", 503, step="code", error=NO_KEY)
    except AccountError as exc:
        return _scan(request, username, code, f"{exc}: scan again.", 400)
    if done.outcome is Outcome.LOCKED:
        return form_page(
            request, "enrol.html.j2", 429, step="code", error=_locked(done.retry_after)
        )
    if done.outcome is not Outcome.OK:
        return _scan(request, username, code, "That code was not right: scan this new one.", 401)
    return c.pages.page("enrol.html.j2", step="done", codes=done.recovery_codes)


async def enrol(request: Request) -> Response:
    form = await request.form() if request.method == "POST" else None
    return await run_in_threadpool(_step, request, form)


ROUTES = [Route("/enrol", enrol, methods=["GET", "POST"])]
