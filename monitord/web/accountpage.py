"""The console's accounts as a page, for the technician and the DSL: each account's user
name, name, role, two-factor, whether it is disabled or locked out, and its last sign-in;
and the actions ``monitord users`` has for them, disable, enable and reset-2fa, as forms
with the session's CSRF token, recorded in the audit trail as the signed-in account. An
account may not disable itself; roles are changed on the command line only
(``monitord users set-role``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitord.casework.accounts import (
    ENROL_VALID,
    AccountError,
    Role,
    list_accounts,
    normal_username,
    reset_two_factor,
    set_disabled,
)
from monitord.casework.signin import standing
from monitord.web.context import (
    Console,
    Visit,
    admitted,
    admitted_form,
    console,
    page_context,
)

ACCOUNT_ROLES = frozenset({Role.TECHNICIAN, Role.DSL})
REFUSAL = "The accounts are for the technician and the DSL."


def _disable(c: Console, v: Visit, name: str) -> str:
    if normal_username(name) == v.username:
        raise AccountError("an account may not disable itself: ask another to do it")
    set_disabled(c.engine, name, v.username, c.clock.now())
    return f"{name} is disabled; its sessions have ended."


def _enable(c: Console, v: Visit, name: str) -> str:
    set_disabled(c.engine, name, v.username, c.clock.now(), disabled=False)
    return f"{name} may sign in again."


def _reset_2fa(c: Console, v: Visit, name: str) -> str:
    code = reset_two_factor(c.engine, name, v.username, c.clock.now())
    return (
        f"{name}: two-factor and recovery codes removed. One-time enrolment code (shown "
        f"once, valid {ENROL_VALID.days} days): {code}. At their next sign-in they give it "
        "with their user name, choose a password and scan the new QR code."
    )


ACTIONS: dict[str, Callable[[Console, Visit, str], str]] = {
    "disable": _disable,
    "enable": _enable,
    "reset-2fa": _reset_2fa,
}


def _page(c: Console, v: Visit, status: int = 200, **context: Any) -> Response:
    now = c.clock.now()
    accounts = [(a, standing(c.engine, a.username, now)) for a in list_accounts(c.engine)]
    return c.pages.page("accounts.html.j2", status, **page_context(v, accounts=accounts, **context))


def accounts(request: Request) -> Response:
    v = admitted(request, ACCOUNT_ROLES, REFUSAL)
    if not isinstance(v, Visit):
        return v
    return _page(console(request), v)


async def act(request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_act, request, form)


def _act(request: Request, form: FormData) -> Response:
    c = console(request)
    v = admitted_form(request, form, ACCOUNT_ROLES, REFUSAL)
    if not isinstance(v, Visit):
        return v
    action = ACTIONS.get(request.path_params["action"])
    if action is None:
        return _page(c, v, 404, error="No such action.")
    try:
        done = action(c, v, request.path_params["username"])
    except AccountError as exc:
        return _page(c, v, 409, error=str(exc))
    return _page(c, v, done=done)


ROUTES = [
    Route("/accounts", accounts, methods=["GET"]),
    Route("/accounts/{username:str}/{action:str}", act, methods=["POST"]),
]
