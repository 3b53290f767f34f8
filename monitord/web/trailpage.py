"""The audit trail as a page: who did what when, filtered by account, kind of action and
dates, a page at a time, for the DSL, deputies and headteacher (the technician: the technical
records). What each reader sees is ``monitord.casework.trailview``'s rule. On request the
page checks the hash chain and its anchors (``monitord evidence verify``) and says so at the
top. Each reading is itself recorded."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitord.casework.accounts import list_accounts
from monitord.casework.trail import anchor_file, read_anchors, verify_trail
from monitord.casework.trailview import (
    KINDS,
    PAGE,
    TRAIL_ROLES,
    TrailError,
    TrailFilter,
    read_trail,
)
from monitord.store.database import audit
from monitord.web.context import Console, Visit, admitted, console, page_context
from monitord.web.render import ACTIONS

# What a record says, in words (the action's own name for the rest).
WORDS = {
    **{
        k: v.removesuffix(" it") + " the alert" if v.endswith(" it") else v
        for k, v in ACTIONS.items()
    },
    "account.sign_in": "signed in",
    "account.sign_in_failed": "failed to sign in",
    "account.locked": "locked out after failed sign-ins",
    "account.sign_out": "signed out",
    "account.session_end": "session ended",
    "account.enrol": "enrolled (password and two-factor set)",
    "account.enrol_failed": "failed to enrol",
    "account.add": "added an account",
    "account.role": "changed a role",
    "account.disable": "disabled an account",
    "account.enable": "enabled an account",
    "account.reset_2fa": "reset two-factor",
    "account.recovery_codes": "made new recovery codes",
    "search": "searched the logs",
    "timeline": "looked at a day",
    "alerts.list": "listed alerts",
    "audit.read": "read the audit trail",
    "alert.export": "exported an evidence bundle",
    "sar.export": "exported a subject access request",
    "store.backup": "backed up the store",
    "list.import": "imported a list",
    "list.remove": "removed lists",
    "list.disable": "disabled lists",
    "list.enable": "enabled lists",
    "list.update": "updated lists",
    "review.add": "recorded the annual review",
    "filtering.check": "checked the filtering",
}
# Detail keys not shown (the alert's case state is in the evidence bundle).
HIDDEN = frozenset({"state"})
SHOWN = 6


def summary(detail: dict[str, Any] | None) -> list[tuple[str, str]]:
    """A record's detail as a few short lines: the reason first."""
    if detail is None:
        return []
    keys = sorted(
        (k for k, v in detail.items() if k not in HIDDEN and v not in (None, "", [], {})),
        key=lambda k: (k != "reason", k),
    )
    out = []
    for key in keys[:SHOWN]:
        value = detail[key]
        text = value if isinstance(value, str) else _short(value)
        out.append((key.replace("_", " "), text[:120] + ("…" if len(text) > 120 else "")))
    return out


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_short(v)}" for k, v in value.items() if v not in (None, ""))
    if isinstance(value, list):
        return ", ".join(_short(v) for v in value)
    return str(value)


def _verdict(c: Console) -> dict[str, Any]:
    anchors, problems = read_anchors(anchor_file(c.cfg))
    with c.engine.connect() as conn:
        found = verify_trail(conn, anchors)
    return {
        "intact": found.intact and not problems,
        "records": found.records,
        "anchors": found.anchors,
        "problems": [*problems, *found.problems],
    }


def trail_page(request: Request) -> Response:
    c = console(request)
    text = "The audit trail is for the safeguarding leads, the headteacher and the technician."
    v = admitted(request, TRAIL_ROLES, text)
    if not isinstance(v, Visit):
        return v
    given = request.query_params
    try:
        f, error = TrailFilter.parse(given), None
    except TrailError as exc:
        f, error = TrailFilter(), str(exc)
    before = given.get("before", "")
    found = read_trail(
        c.engine,
        v.viewer.account,
        v.viewer.people,
        f,
        c.cfg.tz,
        int(before) if before.isdigit() else None,
        size=PAGE,
    )
    verdict = _verdict(c) if given.get("verify") == "1" else None
    with c.engine.begin() as conn:
        detail: dict[str, Any] = {"filters": f.asked(), "shown": len(found.entries)}
        if verdict is not None:
            detail["verified"] = verdict["intact"]
        audit(conn, v.username, "audit.read", "audit", detail, now=c.clock.now())
    older = None
    if found.before is not None:
        older = f"/audit?{request.url.include_query_params(before=found.before).query}"
        older = older.replace("verify=1&", "").replace("&verify=1", "")
    return c.pages.page(
        "audit.html.j2",
        400 if error else 200,
        **page_context(
            v,
            entries=found.entries,
            summaries={e.id: summary(e.detail) for e in found.entries},
            words=WORDS,
            f=f,
            kinds=list(KINDS),
            accounts=[a.username for a in list_accounts(c.engine)],
            older=older,
            verdict=verdict,
            error=error,
            verify=f"/audit?{request.url.remove_query_params('before').include_query_params(verify=1).query}",
        ),
    )


ROUTES = [Route("/audit", trail_page, methods=["GET"])]
