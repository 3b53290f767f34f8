"""The console's pages: sign-in, the inbox, an alert and its actions. Server-rendered,
no script; every form carries the session's CSRF token (the sign-in form a token of its
own, kept in a cookie beside it)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from alerting.manager import AlertManager
from monitord.casework import cases
from monitord.casework.evidence import EvidenceError, export_bundle
from monitord.core.categories import CATEGORIES
from monitord.identity.roster import YEAR_GROUPS
from monitord.web import casefile
from monitord.web.alertpage import alert_page
from monitord.web.context import (
    CSRF_FIELD,
    FORM_COOKIE,
    Console,
    Visit,
    address,
    admitted_form,
    clear_session_cookie,
    console,
    csrf_ok,
    form_page,
    form_token_ok,
    message,
    page_context,
    set_session_cookie,
    to_signin,
    visit,
)
from monitord.web.gate import Refused
from monitord.web.render import age
from monitord.web.roles import About, may_see, sees_alerts

DONE = {
    "ack": "Acknowledged.",
    "note": "Note added.",
    "assign": "Assigned.",
    "review": "Second review signed.",
    "escalate": "Escalated: the update mail is queued.",
    "close": "Closed.",
    "reopen": "Reopened.",
    "bulk": "Acknowledged the selected alerts.",
}


def _local(target: str | None) -> str:
    """Where to go after signing in: a path on this console only."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def signin_form(request: Request, status: int = 200, error: str | None = None) -> Response:
    why = request.query_params.get("why")
    return form_page(
        request,
        "signin.html.j2",
        status,
        next=_local(request.query_params.get("next")),
        error=error,
        notice="Your session ended: sign in again." if why == "expired" else None,
    )


async def signin(request: Request) -> Response:
    if request.method == "GET":
        return signin_form(request)
    form = await request.form()
    c = console(request)
    if not form_token_ok(request, form.get(CSRF_FIELD, "")):
        return signin_form(request, 403, "The form had expired: please try again.")
    username, password, code = (
        str(form.get(k, "")).strip() for k in ("username", "password", "totp")
    )
    try:
        session = await run_in_threadpool(
            c.accounts.sign_in, username, password, code, address(request), c.clock.now()
        )
    except Refused as exc:
        return signin_form(request, 429 if exc.locked else 401, str(exc))
    response = RedirectResponse(_local(str(form.get("next", ""))), status_code=303)
    set_session_cookie(response, c, session.token)
    response.delete_cookie(FORM_COOKIE, path="/")
    return response


async def signout(request: Request) -> Response:
    form = await request.form()
    c = console(request)
    v = await run_in_threadpool(visit, request)
    if v is not None and csrf_ok(v, str(form.get(CSRF_FIELD, ""))):
        c.accounts.sign_out(v.session.token, c.clock.now())
    response = RedirectResponse("/signin", status_code=303)
    clear_session_cookie(response, c)
    return response


def home(request: Request) -> Response:
    """The inbox, or the digests for a role that sees no alerts."""
    v = visit(request)
    if v is None:
        return to_signin(request)
    return RedirectResponse("/alerts" if sees_alerts(v.viewer) else "/digests", status_code=303)


def _no_alerts(request: Request, v: Visit) -> Response:
    return message(request, v, f"The {v.viewer.role} role sees no alerts.")


def inbox(request: Request) -> Response:
    c = console(request)
    v = visit(request)
    if v is None:
        return to_signin(request)
    if not sees_alerts(v.viewer):
        return _no_alerts(request, v)
    try:
        filters = casefile.Filters.parse(request.query_params)
        error = None
    except casefile.BadInput as exc:
        filters, error = casefile.Filters(), str(exc)
    number = request.query_params.get("page", "1")
    box = casefile.inbox(
        c.engine, v.viewer, filters, c.cfg.tz, int(number) if number.isdigit() else 1
    )
    alerts = box.alerts
    now = c.clock.now()
    return c.pages.page(
        "inbox.html.j2",
        400 if error else 200,
        **page_context(
            v,
            alerts=alerts,
            box=box,
            pages={
                n: f"/alerts?{request.url.include_query_params(page=n).query}"
                for n in (box.page - 1, box.page + 1)
                if 1 <= n <= box.pages
            },
            filters=filters,
            error=error,
            done=DONE.get(request.query_params.get("done", "")),
            ages={a["id"]: age(a["created_at"], now) for a in alerts},
            people=casefile.people(c.engine, {a["person"] for a in alerts if a["person"]}),
            technical={a["id"] for a in alerts if casefile.technical(a)},
            statuses=cases.STATUSES,
            severities=list(casefile.SEVERITY_RANK),
            categories=CATEGORIES,
            year_groups=YEAR_GROUPS,
        ),
    )


def _alert_response(
    request: Request, v: Visit, alert_id: int, status: int = 200, error: str | None = None
) -> Response:
    c = console(request)
    alert = casefile.alert_or_none(c.engine, alert_id)
    if alert is None:
        return message(request, v, f"No alert {alert_id}.", 404, "No such alert")
    if not may_see(v.viewer, About.of(alert)):
        text = f"Alert {alert_id} is not one the {v.viewer.role} role may see."
        return message(request, v, text, 403)
    page = alert_page(c.engine, alert_id, v.viewer, c.cfg.tz, c.clock.now())
    return c.pages.page(
        "alert.html.j2",
        status,
        **page_context(
            v,
            a=page.alert,
            page=page,
            error=error,
            done=DONE.get(request.query_params.get("done", "")),
            age=age(page.alert["created_at"], c.clock.now()),
            escalations=list(cases.ESCALATIONS),
        ),
    )


def show(request: Request) -> Response:
    v = visit(request)
    if v is None:
        return to_signin(request)
    return _alert_response(request, v, request.path_params["alert_id"])


def _field(form: FormData, name: str) -> str:
    return str(form.get(name, ""))


def _escalate(c: Console, v: Visit, alert_id: int, form: FormData) -> None:
    manager = AlertManager(c.cfg, c.clock, actor=v.username)

    def mail(conn: Any, alert: int, before: str) -> None:
        manager.mail_escalation(conn, alert, before, v.username, _field(form, "reason"))

    cases.escalate(
        c.engine,
        alert_id,
        v.username,
        _field(form, "severity"),
        _field(form, "reason"),
        c.clock.now(),
        mail,
    )


ACTIONS: dict[str, Callable[[Console, Visit, int, FormData], None]] = {
    "ack": lambda c, v, i, f: cases.ack(c.engine, i, v.username, c.clock.now()),
    "note": lambda c, v, i, f: cases.note(
        c.engine, i, v.username, _field(f, "text"), c.clock.now()
    ),
    "assign": lambda c, v, i, f: casefile.assign(
        c.engine, i, v.viewer, _field(f, "assignee"), c.clock.now()
    ),
    "review": lambda c, v, i, f: casefile.second_review(c.engine, i, v.viewer, c.clock.now()),
    "escalate": _escalate,
    "close": lambda c, v, i, f: cases.close(
        c.engine, i, v.username, _field(f, "outcome"), c.clock.now()
    ),
    "reopen": lambda c, v, i, f: cases.reopen(
        c.engine, i, v.username, _field(f, "reason"), c.clock.now()
    ),
}


async def act(request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_act, request, form)


def _allowed(request: Request, form: FormData) -> Visit | Response:
    """The visit, or the response that refuses the request: signed out, a wrong CSRF
    token, a role that sees no alerts."""
    v = admitted_form(request, form, None)
    if isinstance(v, Visit) and not sees_alerts(v.viewer):
        return _no_alerts(request, v)
    return v


def _act(request: Request, form: FormData) -> Response:
    c = console(request)
    v = _allowed(request, form)
    if not isinstance(v, Visit):
        return v
    alert_id, action = request.path_params["alert_id"], request.path_params["action"]
    if action not in ACTIONS or not casefile.seen(c.engine, v.viewer, alert_id):
        return _alert_response(request, v, alert_id, 404)
    try:
        ACTIONS[action](c, v, alert_id, form)
    except cases.CaseError as exc:
        return _alert_response(request, v, alert_id, 409, str(exc))
    return RedirectResponse(f"/alerts/{alert_id}?done={action}", status_code=303)


async def bulk_ack(request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_bulk_ack, request, form)


def _bulk_ack(request: Request, form: FormData) -> Response:
    """Acknowledge the ticked technical alerts (unauthorised devices, monitoring gaps) at
    once; an alert about a person is never acknowledged in bulk."""
    c = console(request)
    v = _allowed(request, form)
    if not isinstance(v, Visit):
        return v
    ids = [int(str(x)) for x in form.getlist("alert") if str(x).isdigit()]
    for alert_id in ids:
        alert = casefile.alert_or_none(c.engine, alert_id)
        if alert is None or not casefile.technical(alert):
            continue
        if may_see(v.viewer, About.of(alert)) and alert["status"] == "open":
            cases.ack(c.engine, alert_id, v.username, c.clock.now())
    return RedirectResponse("/alerts?done=bulk", status_code=303)


async def export(request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_export, request, form)


def _export(request: Request, form: FormData) -> Response:
    """The evidence bundle, encrypted with the password given, as a download."""
    c = console(request)
    v = _allowed(request, form)
    if not isinstance(v, Visit):
        return v
    alert_id = request.path_params["alert_id"]
    if not casefile.seen(c.engine, v.viewer, alert_id):
        return _alert_response(request, v, alert_id, 404)
    name = f"monitord-alert-{alert_id}-evidence.zip"
    with tempfile.TemporaryDirectory(prefix="monitord-export-") as folder:
        out = Path(folder) / name
        try:
            export_bundle(
                c.engine, c.cfg, alert_id, out, v.username, c.clock.now(), _field(form, "password")
            )
        except EvidenceError as exc:
            return _alert_response(request, v, alert_id, 400, str(exc))
        data = out.read_bytes()
    return Response(
        data,
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/signin", signin, methods=["GET", "POST"]),
    Route("/signout", signout, methods=["POST"]),
    Route("/alerts", inbox, methods=["GET"]),
    Route("/alerts/ack", bulk_ack, methods=["POST"]),
    Route("/alerts/{alert_id:int}", show, methods=["GET"]),
    Route("/alerts/{alert_id:int}/export", export, methods=["POST"]),
    Route("/alerts/{alert_id:int}/{action:str}", act, methods=["POST"]),
]
