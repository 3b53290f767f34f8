"""One alert as ``alerts show`` prints it for a person: times in the school's time zone,
names beside user names, lists and flags in words, and the history's details as text
rather than JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitord.casework.cases import OUTCOME_TEXT, AlertDetail
from monitord.core.categories import NAMES

# What the history leaves out: the case state each record carries (shown by the alert
# itself) and the ids of events (shown under Events).
_HIDDEN = frozenset({"state", "events"})


def local(value: str | None, tz: ZoneInfo, form: str = "%a %d %b %Y %H:%M:%S %Z") -> str:
    """An RFC 3339 time from the store as the school's clock showed it."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone(tz).strftime(form)


def _words(value: Any, tz: ZoneInfo) -> str:
    if value is None or value == [] or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_words(v, tz) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k} {_words(v, tz)}" for k, v in value.items())
    text = str(value)
    if len(text) >= 20 and text[4:5] == "-" and text[10:11] == "T":
        return local(text, tz)
    return text


def _who(alert: dict[str, Any], names: dict[str, str]) -> str:
    person = alert["person"]
    if not person:
        return "not known"
    who = f"{names[person]} ({person})" if person in names else person
    about = [alert["role"] or "role not known"]
    if alert["year_group"]:
        about.append(f"year {alert['year_group']}")
    return f"{who}, {', '.join(about)}"


def alert_lines(detail: AlertDetail, tz: ZoneInfo, names: dict[str, str]) -> list[str]:
    """The alert, its events and what was done about it, as lines."""
    a: dict[str, Any] = detail.alert
    category = (
        f"{a['category']} ({NAMES[a['category']]})" if a["category"] in NAMES else a["category"]
    )
    first, last = local(a["first_seen"], tz), local(a["last_seen"], tz)
    seen = first if first == last else f"{first} to {last}"
    if first != last and first[:15] == last[:15]:  # the same day: its date once
        seen = f"{first.rsplit(' ', 1)[0]} to {last[16:]}"
    times = "once" if a["count"] == 1 else f"{a['count']} times"
    outcome = OUTCOME_TEXT.get(a["outcome"], a["outcome"]) if a["outcome"] else "-"
    reviewed = "-"
    if a["reviewer"]:
        reviewed = f"{a['reviewer']}, {local(a['reviewed_at'], tz)}"
    rows = [
        ("person", _who(a, names)),
        ("device", f"{a['device'] or 'not known'}" + (f" at {a['ip']}" if a["ip"] else "")),
        ("indicator", a["indicator"]),
        ("seen", f"{seen}, {times}"),
        ("blocked", "yes, by the school's filter" if a["blocked"] else "no"),
        ("sources", _words(a["sources"], tz)),
        ("mailed to", _words(a["recipients"], tz)),
        ("rule", a["rule"] or "-"),
        ("assigned to", a["assignee"] or "-"),
        ("reviewed by", reviewed),
        ("outcome", outcome),
        ("opened", local(a["created_at"], tz)),
    ]
    lines = [f"Alert {a['id']}: {a['severity']} {category}, {a['status']}"]
    lines += [f"  {key + ':':<13}{value}" for key, value in rows]
    lines.append("Events")
    for ev in detail.events:
        lines.append(f"  {local(ev['ts'], tz)}  {ev['source']} ({ev['format']})")
        lines.append(f"    raw: {ev['raw']}")
        lines.append(f"    who: {ev['attribution']}")
        if ev["filter_category"]:
            verdict = ev["filter_action"] or ("blocked" if ev["blocked"] else "allowed")
            lines.append(f"    the filter: {verdict}, {ev['filter_category']}")
        for m in ev["matches"]:
            lines.append(f"    match: {m['category']} {m['entry']} (list {m['list']})")
    lines.append("History")
    for h in detail.history:
        given = h["detail"] if isinstance(h["detail"], dict) else {"detail": h["detail"]}
        shown = {k: v for k, v in given.items() if k not in _HIDDEN}
        what = f": {_words(shown, tz)}" if shown else ""
        lines.append(f"  {local(h['ts'], tz)}  {h['actor']}  {h['action']}{what}")
    return lines
