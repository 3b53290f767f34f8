"""The school's devices as a page, for the technician and the safeguarding staff: each
device of the inventory with its agent (enrolled or not, when it last reported) and when
the network last leased it an address; the unauthorised devices seen (their alerts not
closed); and the monitoring gaps, sources silent past their limit now and the gap alerts
not closed. Nothing about what a person did: whom a device is assigned to is shown only
to the roles allowed it (``roles.sees_assignment``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitord.identity.agents import AgentInfo, list_agents
from monitord.identity.inventory import last_leased, list_devices
from monitord.service.health import GAP, Silence, find_silences, watched_files
from monitord.service.supervise import health_path, read_health
from monitord.web import casefile
from monitord.web.context import Console, Visit, admitted, console, page_context
from monitord.web.roles import DEVICE_ROLES, sees_assignment

UNAUTHORISED = "unauthorised_device"


@dataclass(frozen=True, slots=True)
class DeviceLine:
    device_id: str
    hostname: str | None
    mac: str | None
    ip: str | None
    ownership: str
    location: str | None
    assigned_to: str | None  # None when the viewer may not see it, or it is unassigned
    agent: AgentInfo | None  # the device's agent that is not revoked
    leased_at: datetime | None


def device_lines(c: Console, v: Visit) -> list[DeviceLine]:
    listed = list_devices(c.engine)
    agents = {a.device_id: a for a in list_agents(c.engine) if a.revoked_at is None}
    leased = last_leased(c.engine, (d.entry.mac for d in listed))
    assigned = sees_assignment(v.viewer)
    return [
        DeviceLine(
            d.device_id,
            d.hostname,
            d.mac,
            d.ip,
            d.ownership,
            d.location,
            d.assigned_to if assigned else None,
            agents.get(d.device_id),
            leased.get(d.mac.lower()) if d.mac else None,
        )
        for d in (item.entry for item in listed)
    ]


def silences(c: Console) -> list[Silence]:
    """The file sources silent past their ``max_silence`` now (as the daemon checks them;
    a missing file counts from when the daemon started, or not at all if none runs)."""
    now = c.clock.now()
    daemon = read_health(health_path(c.cfg), now)
    text = daemon.get("started_at") if daemon.get("running") else None
    started = datetime.fromisoformat(text) if isinstance(text, str) else None
    return find_silences(watched_files(c.cfg), now, started or now)


def open_alerts(c: Console, v: Visit, category: str) -> list[dict[str, Any]]:
    box = casefile.inbox(c.engine, v.viewer, casefile.Filters(category=category), c.cfg.tz)
    return box.alerts


def devices(request: Request) -> Response:
    c = console(request)
    text = "The devices page is for the technician and the safeguarding staff."
    v = admitted(request, DEVICE_ROLES, text)
    if not isinstance(v, Visit):
        return v
    return c.pages.page(
        "devices.html.j2",
        **page_context(
            v,
            devices=device_lines(c, v),
            unauthorised=open_alerts(c, v, UNAUTHORISED),
            silent=silences(c),
            gaps=open_alerts(c, v, GAP),
            now=c.clock.now(),
        ),
    )


ROUTES = [Route("/devices", devices, methods=["GET"])]
