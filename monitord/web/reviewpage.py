"""The annual filtering and monitoring review as a page: when the next is due, the form to
record one (the DSL, deputies, headteacher and technician; CSRF-checked) and every review
recorded, for those and the chair and governors (``monitord.casework.reviews``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from monitord.casework.accounts import list_accounts
from monitord.casework.reviews import (
    CHECKS,
    READ_ROLES,
    NewReview,
    ReviewError,
    list_reviews,
    may_record,
    next_due,
    parse_day,
    record_review,
)
from monitord.web.context import (
    Visit,
    admitted,
    admitted_form,
    console,
    message,
    page_context,
)

REFUSED = (
    "The filtering and monitoring review is for the safeguarding leads, the headteacher, "
    "the technician and the governors."
)


def _page(request: Request, v: Visit, status: int = 200, **form: Any) -> Response:
    c = console(request)
    today = c.clock.now().astimezone(c.cfg.tz).date()
    reviews = list_reviews(c.engine)
    due = next_due(reviews)
    accounts = (
        [a for a in list_accounts(c.engine) if a.active] if may_record(v.viewer.account) else []
    )
    given = {
        "date": today.isoformat(),
        "next": _a_year_on(today).isoformat(),
        "reviewers": [v.username],
        "checked": [],
        "notes": "",
        "changed": "",
        **form,
    }
    return c.pages.page(
        "reviews.html.j2",
        status,
        **page_context(
            v,
            reviews=reviews,
            due=due,
            overdue=due is None or due < today,
            today=today,
            checks=CHECKS,
            accounts=accounts,
            given=given,
            done="Review recorded." if request.query_params.get("done") else None,
            error=form.get("error"),
        ),
    )


def reviews_page(request: Request) -> Response:
    v = admitted(request, READ_ROLES, REFUSED)
    if not isinstance(v, Visit):
        return v
    return _page(request, v)


async def record(request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_record, request, form)


def _record(request: Request, form: FormData) -> Response:
    v = admitted_form(request, form, READ_ROLES, REFUSED, "recorded")
    if not isinstance(v, Visit):
        return v
    if not may_record(v.viewer.account):
        text = f"The {v.viewer.role} role may read the reviews but not record one."
        return message(request, v, text, 403)
    c = console(request)
    given = {k: str(form.get(k, "")) for k in ("date", "next", "notes", "changed")}
    ticked = {k: [str(x) for x in form.getlist(k)] for k in ("reviewer", "checked")}
    now = c.clock.now()
    try:
        review = NewReview(
            parse_day(given["date"], "date"),
            tuple(ticked["reviewer"]),
            tuple(ticked["checked"]),
            given["notes"],
            given["changed"],
            parse_day(given["next"], "next review"),
        )
        record_review(c.engine, review, v.viewer.account, now, now.astimezone(c.cfg.tz).date())
    except ReviewError as exc:
        again: dict[str, Any] = {
            **given,
            "reviewers": ticked["reviewer"],
            "checked": ticked["checked"],
        }
        return _page(request, v, 400, error=str(exc), **again)
    return RedirectResponse("/reviews?done=1", status_code=303)


def _a_year_on(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


ROUTES = [
    Route("/reviews", reviews_page, methods=["GET"]),
    Route("/reviews", record, methods=["POST"]),
]
