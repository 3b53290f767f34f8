"""A person's or a device's day and a search of the logs, for the DSL and deputies only.
Each asks why (the reason is kept in the audit trail with the account's name), and is a
POST with the session's CSRF token: looking is an act on the record too."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitord.casework.query import Query, SearchError, parse_domain
from monitord.casework.search import search
from monitord.casework.timeline import timeline
from monitord.core.categories import CATEGORIES
from monitord.web.context import (
    Console,
    Visit,
    admitted_form,
    console,
    page_context,
)

LOOKUP_ROLES = frozenset({"dsl", "deputy_dsl"})
RESULTS = 500


def _field(form: FormData | None, name: str) -> str | None:
    value = str(form.get(name, "")).strip() if form is not None else ""
    return value or None


def _day(value: str | None, today: date) -> date:
    if value is None:
        return today
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SearchError("the date is written YYYY-MM-DD") from None


def _run(c: Console, v: Visit, kind: str, form: FormData) -> dict[str, Any]:
    """The day's events or the search's hits, audited; SearchError for bad input."""
    reason = _field(form, "reason")
    now = c.clock.now()
    user = (_field(form, "user") or "").lower() or None
    if user is not None and user in v.viewer.people:
        raise SearchError("nobody looks at their own record here: ask another DSL")
    if kind == "timeline":
        day = _day(_field(form, "date"), now.astimezone(c.cfg.tz).date())
        events = timeline(
            c.engine,
            day,
            c.cfg.tz,
            v.username,
            reason,
            now,
            user=user,
            device=_field(form, "device"),
            output="web",
        )
        return {"events": events, "more": False}
    domain = _field(form, "domain")
    since = _field(form, "since")
    until = _field(form, "until")
    tz = c.cfg.tz
    query = Query(
        user=user,
        ip=_field(form, "ip"),
        device=_field(form, "device"),
        domain=parse_domain(domain) if domain else None,
        category=_field(form, "category"),
        text=_field(form, "text"),
        since=datetime.combine(_day(since, now.date()), time(0), tzinfo=tz) if since else None,
        until=datetime.combine(_day(until, now.date()) + timedelta(days=1), time(0), tzinfo=tz)
        if until
        else None,
        limit=RESULTS,
    )
    result = search(c.engine, query, v.username, reason, now, output="web")
    return {"events": result.events, "more": result.more}


async def lookup(request: Request) -> Response:
    form = await request.form() if request.method == "POST" else None
    return await run_in_threadpool(_lookup, request, form)


def _lookup(request: Request, form: FormData | None) -> Response:
    c = console(request)
    refusal = "Timelines and search are for the DSL and deputies."
    v = admitted_form(request, form, LOOKUP_ROLES, refusal, "looked up")
    if not isinstance(v, Visit):
        return v
    kind = request.url.path.strip("/")
    context: dict[str, Any] = {"kind": kind, "asked": form or {}, "categories": CATEGORIES}
    status = 200
    if form is not None:
        try:
            context |= _run(c, v, kind, form)
        except SearchError as exc:
            context["error"], status = str(exc), 400
    return c.pages.page("lookup.html.j2", status, **page_context(v, **context))


ROUTES = [
    Route("/timeline", lookup, methods=["GET", "POST"]),
    Route("/search", lookup, methods=["GET", "POST"]),
]
