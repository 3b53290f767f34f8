"""What an agent may report: only for the device it was enrolled for, and only about a recent
past (``[agents] max_backfill``, 7 days by default) and not more than five minutes ahead.

The endpoint applies these rules to every report a token sends (403 for another device,
422 for a time out of range, nothing kept). The spool reader applies them through
:class:`SpoolGuard`, whose sessions reject a report as a bad line (stored in ``rejected``
with the reason): the spool is trusted as far as its folder's permissions go, so a report
there is taken as coming from the agent its ``agent_id`` names, and

- a report naming an enrolled agent must be for that agent's device;
- a report naming an agent that was revoked is refused;
- a report naming no enrolled agent is refused when ``[agents] spool_enrolled_only`` is set,
  and otherwise taken, unless it is for a device that has an enrolled agent of its own (that
  device's reports come only from its agent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collectors.httpserve import ThrottledLog
from collectors.parsers.agent import PARSER as AGENT
from collectors.parsers.agent import parse_line
from collectors.parsers.base import Needs, ParseContext, Parser, Session
from monitord.core.model import Event, Parsed, reject
from monitord.identity.agents import Enrolment, host_label

log = logging.getLogger("monitord.identity.agents")
MAX_AHEAD = timedelta(minutes=5)


def device_refusal(ev: Event, enrolment: Enrolment) -> str | None:
    """Why an enrolled agent may not make this report about its device, or None."""
    agent = enrolment.agent
    if enrolment.revoked:
        return f"agent {agent!r} was revoked"
    if enrolment.device_id is None:
        return (
            f"agent {agent!r} is bound to no device (enrolled before agents were): enrol it "
            f"again with `monitord agents add {agent} --device DEVICE_ID`"
        )
    device = enrolment.device_id
    if not enrolment.known:
        return f"agent {agent!r}'s device {device!r} is not in the devices file"
    if ev.hostname is None or host_label(ev.hostname) not in enrolment.names:
        names = " or ".join(sorted(enrolment.names))
        return (
            f"hostname {str(ev.hostname)[:64]!r} is not agent {agent!r}'s device {device!r} "
            f"({names})"
        )
    if ev.client_mac is not None and ev.client_mac != enrolment.mac:
        theirs = enrolment.mac or "none in the devices file"
        return f"mac {ev.client_mac} is not agent {agent!r}'s device {device!r} ({theirs})"
    return None


def time_refusal(ts: datetime, now: datetime, max_backfill: timedelta) -> str | None:
    """Why a report's time is out of the range taken, or None."""
    if ts > now + MAX_AHEAD:
        return f"ts {ts.isoformat()} is more than 5 minutes ahead of the server's clock"
    if ts < now - max_backfill:
        return (
            f"ts {ts.isoformat()} is older than [agents] max_backfill "
            f"({max_backfill.days} days) allows"
        )
    return None


class Enrolled:
    """The school's agents, and which device each active one is bound to."""

    def __init__(self, agents: dict[str, Enrolment]) -> None:
        self.agents = agents
        self.by_host: dict[str, Enrolment] = {}
        self.by_mac: dict[str, Enrolment] = {}
        for e in agents.values():
            if e.revoked or e.device_id is None:
                continue
            for name in e.names:
                self.by_host[name] = e
            if e.mac:
                self.by_mac[e.mac] = e

    def owner(self, ev: Event) -> Enrolment | None:
        """The active enrolled agent of the device this report is about, if it has one."""
        found = self.by_host.get(host_label(ev.hostname)) if ev.hostname else None
        if found is None and ev.client_mac is not None:
            found = self.by_mac.get(ev.client_mac)
        return found


class _GuardedSession:
    def __init__(
        self,
        enrolled: Enrolled,
        now: datetime,
        max_backfill: timedelta,
        enrolled_only: bool,
        throttle: ThrottledLog,
    ) -> None:
        self.throttle = throttle
        self.enrolled = enrolled
        self.now = now
        self.max_backfill = max_backfill
        self.enrolled_only = enrolled_only

    def refusal(self, ev: Event) -> str | None:
        agent = ev.agent or ""
        enrolment = self.enrolled.agents.get(agent)
        if enrolment is not None:
            reason = device_refusal(ev, enrolment)
        elif self.enrolled_only:
            reason = f"agent {agent[:64]!r} is not enrolled ([agents] spool_enrolled_only)"
        else:
            owner = self.enrolled.owner(ev)
            reason = (
                None
                if owner is None
                else f"device {owner.device_id!r} has its own agent {owner.agent!r}; "
                f"a report for it from agent {agent[:64]!r} is refused"
            )
        if reason is not None:
            self.throttle.log(logging.WARNING, "spool-refused", "spool: report refused: %s", reason)
            return reason
        return time_refusal(ev.ts, self.now, self.max_backfill)

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        parsed = parse_line(line, ctx)
        for ev in parsed.events:
            reason = self.refusal(ev)
            if reason is not None:
                return reject(f"agent report refused: {reason}")
        return parsed


@dataclass(frozen=True, slots=True)
class SpoolGuard:
    """The ``agent`` format as the spool reader reads it: each file's session knows the
    agents enrolled when it began and the time it began."""

    load: Callable[[], dict[str, Enrolment]]
    now: Callable[[], datetime]
    max_backfill: timedelta
    enrolled_only: bool = False
    # A spool full of forged reports makes a few lines a minute, not one a report.
    throttle: ThrottledLog = field(default_factory=lambda: ThrottledLog(log))
    fmt: str = "agent"
    header_prefix: str | None = None
    snapshot: bool = False
    needs: Needs = AGENT.needs

    def configured(self, options: Mapping[str, str]) -> Parser:
        return self

    def session(self) -> Session:
        return _GuardedSession(
            Enrolled(self.load()), self.now(), self.max_backfill, self.enrolled_only, self.throttle
        )
