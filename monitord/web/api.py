"""The console's JSON API (DESIGN.md, "Console"): sign in and out, the alerts the account
may see, one alert with its events, and case work recorded as the account."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitord.casework import cases
from monitord.store.database import audit, site_of
from monitord.web import casefile
from monitord.web.context import (
    CSRF_HEADER,
    Visit,
    address,
    clear_session_cookie,
    console,
    csrf_ok,
    set_session_cookie,
    visit,
)
from monitord.web.gate import Refused
from monitord.web.roles import About, may_see, sees_alerts, visible


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request) -> dict[str, Any] | None:
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


async def post_session(request: Request) -> Response:
    data = await _body(request)
    if data is None:
        return _error(400, 'expected a JSON object {"username", "password", "totp"}')
    fields = [data.get(k) for k in ("username", "password", "totp")]
    if not all(isinstance(f, str) and f for f in fields):
        return _error(400, "username, password and totp are each a non-empty string")
    username, password, totp = (str(f) for f in fields)
    c = console(request)
    try:
        session = await run_in_threadpool(
            c.accounts.sign_in, username, password, totp, address(request), c.clock.now()
        )
    except Refused as exc:
        return _error(429 if exc.locked else 401, str(exc))
    response = JSONResponse({"csrf": session.csrf, "role": session.account.role})
    set_session_cookie(response, c, session.token)
    return response


def delete_session(request: Request) -> Response:
    c = console(request)
    v = visit(request)
    if v is not None:
        c.accounts.sign_out(v.session.token, c.clock.now())
    response = JSONResponse({"signed_out": v is not None})
    clear_session_cookie(response, c)
    return response


def _reader(request: Request) -> Visit | Response:
    """The signed-in account if its role sees alerts, else the refusal (401, 403)."""
    v = visit(request)
    if v is None:
        return _error(401, "sign in first: POST /api/session")
    if not sees_alerts(v.viewer):
        return _error(403, f"the {v.viewer.role} role sees no alerts")
    return v


def _alert(request: Request, v: Visit) -> int | Response:
    """The alert the path names if the account may see it, else the refusal (404, 403)."""
    alert_id: int = request.path_params["alert_id"]
    alert = casefile.alert_or_none(console(request).engine, alert_id)
    if alert is None:
        return _error(404, f"no alert {alert_id}")
    if not may_see(v.viewer, About.of(alert)):
        return _error(403, f"alert {alert_id} is not one the {v.viewer.role} role may see")
    return alert_id


def list_alerts(request: Request) -> Response:
    v = _reader(request)
    if not isinstance(v, Visit):
        return v
    status = request.query_params.get("status")
    if status is not None and status not in cases.STATUSES:
        return _error(400, f"status is one of {', '.join(cases.STATUSES)}")
    c = console(request)
    alerts = visible(v.viewer, cases.list_alerts(c.engine, status))
    with c.engine.begin() as conn:
        detail = {"output": "api", "status": status, "alerts": len(alerts)}
        audit(
            conn, v.username, "alerts.list", f"site:{site_of(c.engine)}", detail, now=c.clock.now()
        )
    return JSONResponse(alerts)


def one_alert(request: Request) -> Response:
    v = _reader(request)
    if not isinstance(v, Visit):
        return v
    alert_id = _alert(request, v)
    if not isinstance(alert_id, int):
        return alert_id
    c = console(request)
    detail = cases.show_alert(c.engine, alert_id, v.username, c.clock.now())
    return JSONResponse({**detail.alert, "events": detail.events, "history": detail.history})


Action = Callable[[Request, Visit, int, dict[str, Any]], None]


def _write(action: Action) -> Callable[[Request], Awaitable[Response]]:
    """A case-work call: signed in, the CSRF header, an alert the account may see; the
    action is recorded as the account."""

    async def endpoint(request: Request) -> Response:
        data = await _body(request)
        return await run_in_threadpool(_act, request, data)

    def _act(request: Request, data: dict[str, Any] | None) -> Response:
        v = _reader(request)
        if not isinstance(v, Visit):
            return v
        if not csrf_ok(v, request.headers.get(CSRF_HEADER)):
            return _error(403, "missing or wrong X-CSRF-Token header")
        alert_id = _alert(request, v)
        if not isinstance(alert_id, int):
            return alert_id
        if data is None:
            return _error(400, "expected a JSON object")
        try:
            action(request, v, alert_id, data)
        except casefile.BadInput as exc:
            return _error(400, str(exc))
        except cases.CaseError as exc:
            return _error(409, str(exc))
        return JSONResponse(casefile.alert_or_none(console(request).engine, alert_id))

    return endpoint


def _ack(request: Request, v: Visit, alert_id: int, data: dict[str, Any]) -> None:
    c = console(request)
    cases.ack(c.engine, alert_id, v.username, c.clock.now())


def _note(request: Request, v: Visit, alert_id: int, data: dict[str, Any]) -> None:
    c = console(request)
    cases.note(c.engine, alert_id, v.username, casefile.text_of(data, "text"), c.clock.now())


def _close(request: Request, v: Visit, alert_id: int, data: dict[str, Any]) -> None:
    c = console(request)
    cases.close(c.engine, alert_id, v.username, casefile.text_of(data, "outcome"), c.clock.now())


def _review(request: Request, v: Visit, alert_id: int, data: dict[str, Any]) -> None:
    c = console(request)
    casefile.second_review(c.engine, alert_id, v.viewer, c.clock.now())


ROUTES = [
    Route("/api/session", post_session, methods=["POST"]),
    Route("/api/session", delete_session, methods=["DELETE"]),
    Route("/api/alerts", list_alerts, methods=["GET"]),
    Route("/api/alerts/{alert_id:int}", one_alert, methods=["GET"]),
    Route("/api/alerts/{alert_id:int}/ack", _write(_ack), methods=["POST"]),
    Route("/api/alerts/{alert_id:int}/note", _write(_note), methods=["POST"]),
    Route("/api/alerts/{alert_id:int}/close", _write(_close), methods=["POST"]),
    Route("/api/alerts/{alert_id:int}/review", _write(_review), methods=["POST"]),
]
