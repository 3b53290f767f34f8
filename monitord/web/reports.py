"""The anonymous pages: the weekly digests the Online Safety Group was sent (the DSL and
deputies also their own named copy) and the governors' report for any span of dates, with
its charts in the page and its PDF. Nothing on them names anyone except the named digest."""

from __future__ import annotations

import email
from datetime import date
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from markupsafe import Markup
from sqlalchemy import Engine, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alerting.reports.charts import inline_svg
from alerting.reports.report import (
    CHART_TITLES,
    Report,
    ReportError,
    collect_report,
    key_figures,
    parse_day,
    report_charts,
    report_pdf,
)
from monitord.casework.accounts import Role
from monitord.store.database import mine, table_of
from monitord.store.tables import DigestRow, OutboxRow
from monitord.web.context import Console, Visit, console, message, page_context, to_signin, visit

ANONYMOUS_ROLES = frozenset(
    {Role.DSL, Role.DEPUTY_DSL, Role.HEADTEACHER, Role.CHAIR, Role.OSG, Role.GOVERNOR}
)
NAMED_ROLES = frozenset({Role.DSL, Role.DEPUTY_DSL})
SHOWN = 26  # weeks of digests listed
# The report's charts are drawn this many inches wide for the page: scaled to a phone's
# width, their lettering is then about as large as the page's small print.
CHART_WIDTH = 4.2


def _refused(request: Request, v: Visit, what: str) -> Response:
    return message(request, v, f"The {what} is not for the {v.viewer.role} role.")


def digest_texts(engine: Engine, editions: set[str]) -> list[dict[str, Any]]:
    """The digests queued, newest first, each with the plain text of its mail."""
    dt, ot = table_of(DigestRow), table_of(OutboxRow)
    with engine.connect() as conn:
        rows = conn.execute(
            select(dt.c.week, dt.c.edition, dt.c.queued_at, ot.c.message)
            .join(ot, ot.c.id == dt.c.outbox_id)
            .where(mine(conn, dt.c.site_id), dt.c.edition.in_(sorted(editions)))
            .order_by(dt.c.week.desc(), dt.c.edition)
            .limit(SHOWN * len(editions))
        ).all()
    found = []
    for week, edition, queued_at, mail in rows:
        msg = email.message_from_bytes(bytes(mail), policy=default_policy)
        body = msg.get_body(("plain",)) if isinstance(msg, EmailMessage) else None
        text = body.get_content() if isinstance(body, EmailMessage) else ""
        found.append({"week": week, "edition": edition, "queued_at": queued_at, "text": text})
    return found


def digests(request: Request) -> Response:
    c = console(request)
    v = visit(request)
    if v is None:
        return to_signin(request)
    if v.viewer.role not in ANONYMOUS_ROLES:
        return _refused(request, v, "weekly digest")
    editions = {"group", "named"} if v.viewer.role in NAMED_ROLES else {"group"}
    found = digest_texts(c.engine, editions)
    week = request.query_params.get("week") or (found[0]["week"] if found else None)
    return c.pages.page(
        "digests.html.j2",
        **page_context(v, digests=found, week=week, weeks=sorted({d["week"] for d in found})),
    )


def _span(c: Console, request: Request) -> tuple[date, date]:
    """The report's dates: ``from`` and ``to``, else this school year (from 1 September)."""
    today = c.clock.now().astimezone(c.cfg.tz).date()
    start = date(today.year if today.month >= 9 else today.year - 1, 9, 1)
    given = request.query_params
    first = parse_day(given["from"], "from") if given.get("from") else start
    last = parse_day(given["to"], "to") if given.get("to") else today
    if last < first:
        raise ReportError("to comes before from")
    return first, last


def report_svgs(r: Report) -> dict[str, Markup]:
    """The report's charts as SVG to sit in the page itself: no second request, nothing
    from another origin, no inline style for the Content-Security-Policy to refuse."""
    return {
        name: Markup(inline_svg(svg, f"chart-{name}", CHART_TITLES[name]))
        for name, svg in report_charts(r, fmt="svg", width=CHART_WIDTH).items()
    }


def report(request: Request) -> Response:
    c = console(request)
    v = visit(request)
    if v is None:
        return to_signin(request)
    if v.viewer.role not in ANONYMOUS_ROLES:
        return _refused(request, v, "governors' report")
    try:
        first, last = _span(c, request)
    except ReportError as exc:
        return message(request, v, str(exc), 400, "Report")
    r = collect_report(c.engine, c.cfg, first, last, c.clock.now())
    if request.url.path.endswith(".pdf"):
        name = f"governors-report-{first}-{last}.pdf"
        return Response(
            report_pdf(r),
            media_type="application/pdf",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )
    return c.pages.page(
        "report.html.j2",
        **page_context(v, r=r, figures=key_figures(r), charts=report_svgs(r)),
    )


ROUTES = [
    Route("/digests", digests, methods=["GET"]),
    Route("/report", report, methods=["GET"]),
    Route("/report.pdf", report, methods=["GET"]),
]
