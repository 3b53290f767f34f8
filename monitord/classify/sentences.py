"""An explanation written for a person: what matched, on which list or phrase, what policy
does with it and why, as sentences rather than JSON."""

from __future__ import annotations

import json
from typing import Any


def render(result: dict[str, Any]) -> list[str]:
    """The explanation of ``explain`` for a person to read."""
    lines = [f"{result['item']}  ({result['kind']})"]
    if result["kind"] == "text":
        if "text" not in result:
            lines.append("  text: no text classification in this build; domains and URLs only")
        elif "judgement" in result["text"]:
            lines.extend(_render_text(result))
        else:
            lines.append(f"  text: {json.dumps(result['text'], ensure_ascii=False)}")
        return lines
    where = f"host {result['host']}"
    if result.get("path"):
        where += f", path {result['path']}"
    lines.append(f"  {where}")
    if not result["matches"]:
        lines.append("  not listed: no domain entry, URL entry or expression matches")
    for m in result["matches"]:
        version = f"version {m['version']}" if m["version"] is not None else "shipped with monitord"
        digest = f", sha256 {m['sha256']}" if m["sha256"] else ""
        when = f", imported {m['imported_at'][:19]}" if m["imported_at"] else ""
        role = "allows" if m["allow"] else m["category"]
        lines.append(
            f"  match: {role}  list {m['list']} ({version}{digest}{when})  "
            f"entry {m['entry']}  score {m['score']}"
        )
    for cat, t in result["totals"].items():
        lines.append(f"  total: {cat}: {t['matches']} match(es), score {t['score']}")
    if result["allowed_by"] and result["matches"]:
        kept = ", ".join(result["categories"]) or "nothing"
        lines.append(f"  after allow lists: {kept}")
    who = result.get("person")
    whom = f"{who['username']} ({who['role']})" if who else "no one known (pupil column)"
    for d in result["decisions"]:
        to = ", ".join(d["recipients"]) or "no one"
        addresses = [a for names in d["addresses"].values() for a in names]
        if addresses:
            to += f" ({', '.join(addresses)})"
        lines.append(
            f"  policy: {d['category']} for {whom} at {result['at'][:16]}: "
            f"{d['severity']} by {d['rule']}; to {to}"
        )
    seen = result.get("filter")
    if seen:
        verdict = seen["action"] or ("blocked" if seen["blocked"] else "allowed")
        lines.append(
            f"  the school's filter ({seen['format']}, {seen['at'][:16]}): "
            f"{seen['category']}, {verdict}"
        )
    lines.append(f"  result: {result['severity']}")
    return lines


def _render_text(result: dict[str, Any]) -> list[str]:
    """A text's judgement as sentences: language, context, each category's frames, signals,
    phrases and limit, the phrase lists' hits, and what policy does."""
    text = result["text"]
    lines = [f"  {s}" for s in text["judgement"]["sentences"]]
    for h in text["hits"]:
        lines.append(
            f'  Phrase list {h["list"]}: "{h["phrase"]}" counts {h["weight"]} for '
            f"{h['category']} ({h['kind']})."
        )
    who = result.get("person")
    whom = (
        f"{who['username']} ({who['role']})" if who else "someone not on the roster (pupil column)"
    )
    for d in text["decisions"]:
        to = ", ".join(d["recipients"]) or "no one"
        if d["addresses"]:
            to += f" ({', '.join(d['addresses'])})"
        lines.append(
            f"  Policy: {d['category']} for {whom} is {d['severity']} by {d['rule']}; "
            f"it goes to {to}."
        )
    help_note = " (a pupil looking for help)" if text.get("support_seeking") else ""
    lines.append(f"  result: {result['severity']}{help_note}")
    return lines
