"""The change-control log of the filtering lists as a page, for the headteacher, the DSL
and deputies and the technician: what the lists hold now, then every change (import,
removal, disabling, enabling, update) with who made it, when, and the counts before and
after (``monitord.casework.listlog``)."""

from __future__ import annotations

from collections import Counter

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitord.casework.accounts import Role
from monitord.casework.listlog import list_log
from monitord.classify.listadmin import active_totals, list_states
from monitord.web.context import Visit, admitted, console, page_context

LIST_ROLES = frozenset({Role.DSL, Role.DEPUTY_DSL, Role.HEADTEACHER, Role.TECHNICIAN})
DONE = {
    "import": "imported",
    "remove": "removed",
    "disable": "disabled",
    "enable": "enabled",
    "update": "updated",
}


def lists_page(request: Request) -> Response:
    c = console(request)
    text = "The lists' change log is for the headteacher, the DSL and the technician."
    v = admitted(request, LIST_ROLES, text)
    if not isinstance(v, Visit):
        return v
    before = request.query_params.get("before", "")
    log = list_log(c.engine, int(before) if before.isdigit() else None)
    with c.engine.connect() as conn:
        totals = active_totals(conn)
        states = Counter(s.state for s in list_states(conn))
    older = f"/lists?before={log.before}" if log.before is not None else None
    return c.pages.page(
        "lists.html.j2",
        **page_context(v, log=log, totals=totals, states=states, done_words=DONE, older=older),
    )


ROUTES = [Route("/lists", lists_page, methods=["GET"])]
