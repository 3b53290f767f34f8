"""Source health for the technician and the safeguarding staff: whether the daemon runs, each
source's last event and what it rejected, the mail waiting, the open alerts, the store;
what ``monitord status`` prints, as a page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitord.service.status import collect_status
from monitord.web.context import Visit, admitted, console, page_context

HEALTH_ROLES = frozenset({"dsl", "deputy_dsl", "headteacher", "technician"})


def health(request: Request) -> Response:
    c = console(request)
    text = "Source health is for the technician and the safeguarding staff."
    v = admitted(request, HEALTH_ROLES, text)
    if not isinstance(v, Visit):
        return v
    found = collect_status(c.cfg, c.engine, c.clock.now())
    return c.pages.page("health.html.j2", **page_context(v, health=found))


ROUTES = [Route("/health", health, methods=["GET"])]
