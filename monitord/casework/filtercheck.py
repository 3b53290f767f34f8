"""``monitord check-filtering``: does the school's filter block what its policy says it should?

The DfE's filtering standard asks schools to check their filtering regularly and keep a
record of each check. This looks up a few names of each category, taken from the lists
monitord has loaded (and the test names filter vendors publish for the purpose), through the
school's resolver (DNS) and/or its web proxy (HTTP), and says per category whether the filter
blocked them. A name counts as blocked when the resolver answers NXDOMAIN, or an address no
site has (0.0.0.0, ::, loopback) or a block page's (``sinkholes``); through the
proxy when it answers 403 or 451 itself (Squid's ERR_ACCESS_DENIED, e2guardian's denial).

A control name that any filter allows is looked up first: if it does not resolve (or fetch),
the check says so and judges nothing, rather than calling every category blocked.

Each check is recorded in the audit trail (``filtering.check``: when, by whom, what was
tested and the result), which the weekly digest lists for the annual review.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from monitord.casework.dnsquery import Answer, DnsError, ask
from monitord.store.database import audit

# Names filter vendors publish for testing that their filter blocks a category.
WELL_KNOWN = {
    "malware": (
        ("internetbadguys.com", "Cisco Umbrella's phishing test"),
        ("examplemalwaredomain.com", "Cisco Umbrella's malware test"),
    ),
}
CONTROL = "www.gov.uk"  # any school's filter lets this through
# Block pages' addresses, beside 0.0.0.0/:: and loopback: Cisco Umbrella's.
SINKHOLES = tuple(f"146.112.61.{n}" for n in range(104, 111))
TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Probe:
    category: str
    name: str
    source: str  # the list the name comes from, or the vendor's test


@dataclass(frozen=True, slots=True)
class Outcome:
    category: str
    name: str
    source: str
    via: str  # "dns" or "proxy"
    verdict: str  # "blocked", "allowed" or "error"
    detail: str  # the answer: NXDOMAIN, 0.0.0.0, 403, an address, the error


@dataclass(frozen=True, slots=True)
class CategoryResult:
    category: str
    tested: int
    blocked: int
    allowed: int
    errors: int

    @property
    def verdict(self) -> str:
        if self.blocked == self.tested:
            return "blocked"
        if self.allowed == 0:
            return "unknown" if self.blocked == 0 else "blocked where it could be tested"
        return "not blocked" if self.blocked == 0 else "partly blocked"


@dataclass(frozen=True, slots=True)
class Report:
    at: datetime
    by: str
    resolver: str | None
    proxy: str | None
    control: list[Outcome]
    outcomes: list[Outcome]

    @property
    def usable(self) -> bool:
        """The control name went through: the verdicts mean something."""
        return bool(self.control) and all(o.verdict == "allowed" for o in self.control)

    def categories(self) -> list[CategoryResult]:
        out: dict[str, list[Outcome]] = {}
        for o in self.outcomes:
            out.setdefault(o.category, []).append(o)
        return [
            CategoryResult(
                c,
                len(os),
                sum(o.verdict == "blocked" for o in os),
                sum(o.verdict == "allowed" for o in os),
                sum(o.verdict == "error" for o in os),
            )
            for c, os in sorted(out.items())
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "by": self.by,
            "resolver": self.resolver,
            "proxy": self.proxy,
            "usable": self.usable,
            "control": [asdict(o) for o in self.control],
            "categories": [{**asdict(c), "verdict": c.verdict} for c in self.categories()],
            "tested": [asdict(o) for o in self.outcomes],
        }


def probes(sampled: dict[str, list[tuple[str, str]]]) -> list[Probe]:
    """The names to test: those sampled from the lists, and the vendors' test names."""
    out = [Probe(c, name, src) for c, names in sorted(sampled.items()) for name, src in names]
    for category, names in WELL_KNOWN.items():
        out += [Probe(category, name, why) for name, why in names]
    return out


def dns_verdict(answer: Answer, sinkholes: Iterable[str] = SINKHOLES) -> tuple[str, str]:
    """(verdict, detail) for the resolver's answer to a name."""
    if answer.rcode == "NXDOMAIN":
        return "blocked", answer.rcode
    if answer.rcode == "REFUSED":  # a resolver that will not serve us, as often as a filter
        return "error", "REFUSED (the resolver would not answer)"
    if answer.rcode != "NOERROR":
        return "error", answer.rcode
    if not answer.addresses:
        return "blocked", "no address (NODATA)"
    holes = set(sinkholes)
    for address in answer.addresses:
        ip = ipaddress.ip_address(address)
        if ip.is_unspecified or ip.is_loopback or address in holes:
            return "blocked", address
    return "allowed", ", ".join(answer.addresses[:3])


def check_dns(server: tuple[str, int], probe: Probe, asker: Callable[..., Answer] = ask) -> Outcome:
    try:
        verdict, detail = dns_verdict(asker(server, probe.name, timeout=TIMEOUT))
    except DnsError as exc:
        verdict, detail = "error", str(exc)
    return Outcome(probe.category, probe.name, probe.source, "dns", verdict, detail)


def check_proxy(proxy: str, probe: Probe) -> Outcome:
    """Ask the proxy for ``http://NAME/``: its own 403 or 451 is a block."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": proxy, "https": proxy}),
        _NoRedirect(),
    )
    request = urllib.request.Request(f"http://{probe.name}/", method="GET")
    request.add_header("User-Agent", "monitord check-filtering")
    verdict, detail = "error", ""
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            verdict, detail = "allowed", str(response.status)
    except urllib.error.HTTPError as exc:
        squid = exc.headers.get("X-Squid-Error", "") if exc.headers else ""
        if exc.code in (403, 451) or squid.startswith("ERR_ACCESS_DENIED"):
            verdict, detail = "blocked", f"{exc.code} {squid}".strip()
        elif exc.code == 407:
            verdict, detail = "error", "407: the proxy wants a user name"
        elif exc.code < 500 and not squid:  # the site's own answer: the proxy let it through
            verdict, detail = "allowed", str(exc.code)
        else:  # the proxy could not fetch it (ERR_DNS_FAIL...): nothing to judge
            verdict, detail = "error", f"{exc.code} {squid}".strip()
        exc.close()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        verdict, detail = "error", f"cannot reach the proxy: {reason}"
    return Outcome(probe.category, probe.name, probe.source, "proxy", verdict, detail)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is the proxy letting the request through: not followed off the network."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def run_check(
    probe_list: list[Probe],
    *,
    resolver: tuple[str, int] | None,
    proxy: str | None,
    by: str,
    now: datetime,
    control: str = CONTROL,
) -> Report:
    """Test every probe through the resolver and the proxy (whichever are given)."""
    checks: list[Callable[[Probe], Outcome]] = []
    if resolver is not None:
        checks.append(lambda p: check_dns(resolver, p))
    if proxy is not None:
        checks.append(lambda p: check_proxy(proxy, p))
    controls = [check(Probe("control", control, "control")) for check in checks]
    outcomes = [check(p) for p in probe_list for check in checks]
    where = None if resolver is None else f"{resolver[0]}:{resolver[1]}"
    return Report(now, by, where, proxy, controls, outcomes)


def record(engine: Engine, report: Report) -> None:
    """The check in the audit trail, with every name tested and the result."""
    detail = report.as_json()
    subject = " ".join(s for s in (report.resolver and f"dns:{report.resolver}", report.proxy) if s)
    with engine.begin() as conn:
        audit(conn, report.by, "filtering.check", subject, detail, now=report.at)


def summary_line(detail: dict[str, Any]) -> str:
    """One line for the digest's change-control log from a check's audit detail."""
    if not detail.get("usable"):
        return "filtering check could not run (the control name did not go through)"
    cats = detail.get("categories") or []
    blocked = [c["category"] for c in cats if c.get("verdict") == "blocked"]
    open_ = [c["category"] for c in cats if c.get("verdict") in ("not blocked", "partly blocked")]
    line = f"filtering check: {len(blocked)} of {len(cats)} categories blocked"
    if open_:
        line += "; NOT blocked: " + ", ".join(sorted(open_))
    return line


def dumps(report: Report) -> str:
    return json.dumps(report.as_json(), indent=2, ensure_ascii=False)


def system_resolver(path: str = "/etc/resolv.conf") -> str | None:
    """The first ``nameserver`` this machine uses."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    return parts[1]
    except OSError:
        return None
    return None


def render(report: Report) -> list[str]:
    """The check as plain lines for a terminal."""
    via = " and ".join(
        s
        for s in (
            report.resolver and f"resolver {report.resolver}",
            report.proxy and f"proxy {report.proxy}",
        )
        if s
    )
    lines = [f"filtering check through {via}, by {report.by}"]
    if not report.usable:
        for o in report.control:
            lines.append(f"  control {o.name} ({o.via}): {o.verdict}, {o.detail}")
        lines.append("  the control name did not go through: nothing can be judged")
        return lines
    by_category: dict[str, list[Outcome]] = {}
    for o in report.outcomes:
        by_category.setdefault(o.category, []).append(o)
    for c in report.categories():
        names = ", ".join(
            f"{o.name} {o.verdict} ({o.via} {o.detail})" for o in by_category[c.category]
        )
        lines.append(f"  {c.category}: {c.verdict.upper()} - {names}")
    return lines
