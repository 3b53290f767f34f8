"""``monitord classify``: how a domain, URL or text is classified, and what policy does with it.

One item: every match (list, version, entry, score), the total per category, the categories
left after allow lists, and for each the policy rule that applied, the severity and the
recipients. ``classify -`` reads one item a line and writes one JSON object a line, fast
enough to run a day of proxy traffic or a whole list through it (bench/classify_vs_squidguard.sh):
hosts are looked up a batch at a time in the compiled index, and only the lines that match
something are explained one by one.

Text classification (phrase lists, search terms) is another module's work: an item with a
space in it is ``kind: "text"``, and its result will go under a ``text`` key, absent for now.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Engine, select

from monitord.classify import Classification, Classifier, canonical_host, url_parts
from monitord.config import Recipients
from monitord.hostindex import ListInfo
from monitord.model import Decision, Match, Person, Severity
from monitord.policy import Policy
from monitord.store import table_of
from monitord.tables import PersonRow

# The host of a line, as squidGuard reads it: after an optional scheme and user, up to the
# first of / ? # : or a space. One match per line (every part may be empty).
_HOST = re.compile(
    r"^[ \t]*(?:[a-z][a-z0-9+.\-]*://)?(?:[^/?#@\s]*@)?(\[[^\]\s]*\]|[^/?#:\s]*)", re.MULTILINE
)
_SCHEME = re.compile(r"^[ \t]*[a-z][a-z0-9+.\-]*://", re.MULTILINE)
# A line with a space inside it, or with nothing but spaces: text, not a domain or URL.
_TEXT_LINE = re.compile(r"^[ \t]*(?:\S+[ \t]+\S|$)", re.MULTILINE)
# What a JSON string may hold without escaping (besides the newline between lines).
_UNSAFE = re.compile(r'["\\\x00-\x09\x0b-\x1f\x7f\u2028\u2029]')
_READ = 1 << 22


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to classify, as given and as understood."""

    given: str
    kind: str  # "domain", "url" or "text"
    host: str | None = None
    path: str | None = None  # with its query; None for a bare domain
    subject: str | None = None  # the URL without its scheme, for expressions


def parse_item(thing: str) -> Item:
    """A domain (``example.com``, ``example.com:443``), a URL (with or without a scheme) or
    text (anything with a space in it)."""
    s = thing.strip()
    if not s or any(c.isspace() for c in s):
        return Item(thing, "text")
    if "/" not in s:
        host = s
        if host.count(":") == 1:  # host:port, as a CONNECT line has it
            host = host.split(":", 1)[0]
        return Item(thing, "domain", canonical_host(host))
    url = s if "://" in s else "http://" + s
    path, subject = url_parts(url)
    found = _HOST.match(url.lower())
    host = canonical_host(found.group(1)) if found else ""
    if "://" not in s and subject is not None:
        subject = s.lower()
    return Item(thing, "url", host, path, subject)


def match_json(m: Match, info: ListInfo | None) -> dict[str, Any]:
    return {
        "category": m.category,
        "list": m.list_name,
        "version": info.version if info else None,
        "sha256": info.sha256[:12] if info and info.sha256 else None,
        "imported_at": info.imported_at if info else None,
        "entry": m.entry,
        "score": m.score,
        "allow": m.allow,
    }


def totals(matches: Iterable[Match]) -> dict[str, dict[str, int]]:
    """Per category: how many entries matched and their summed score (list entries score 0;
    phrase matches carry weights)."""
    out: dict[str, dict[str, int]] = {}
    for m in matches:
        t = out.setdefault(m.category, {"matches": 0, "score": 0})
        t["matches"] += 1
        t["score"] += m.score
    return out


class Explainer:
    """Classification plus policy for items, one at a time or as a stream."""

    def __init__(
        self,
        classifier: Classifier,
        policy: Policy,
        person: Person | None,
        at: datetime,
        recipients: Recipients | None = None,
    ) -> None:
        self.classifier = classifier
        self.policy = policy
        self.person = person
        self.at = at
        self.recipients = recipients
        index = classifier.index
        self._lists = {(i.name, i.category): i for i in index.lists}
        self._decisions: dict[str, dict[str, Any]] = {}

    def _info(self, m: Match) -> ListInfo | None:
        return self._lists.get((m.list_name, m.category))

    def decision(self, category: str) -> dict[str, Any]:
        """Policy for one category (the same for every item of a run: one person, one time)."""
        out = self._decisions.get(category)
        if out is None:
            d: Decision = self.policy.decide(category, self.person, None, self.at)
            addresses = {
                name: list(getattr(self.recipients, name, []) or [])
                for name in d.recipients
                if self.recipients is not None
            }
            out = self._decisions[category] = {
                "category": category,
                "severity": d.severity.value,
                "rule": d.rule,
                "recipients": list(d.recipients),
                "addresses": addresses,
                "exempt": d.exempt,
            }
        return out

    def result(self, item: Item, c: Classification) -> dict[str, Any]:
        """The JSON object for one item."""
        decisions = [self.decision(cat) for cat in c.categories]
        top = max((Severity(d["severity"]) for d in decisions), key=lambda s: s.rank, default=None)
        out: dict[str, Any] = {
            "item": item.given,
            "kind": item.kind,
            "host": item.host,
            "categories": list(c.categories),
            "matches": [match_json(m, self._info(m)) for m in c.matches],
            "allowed_by": [match_json(m, self._info(m)) for m in c.allowed_by],
            "totals": totals(c.matches),
            "decisions": decisions,
            "severity": top.value if top else Severity.NONE.value,
        }
        # Text classification goes here, under "text", when its engine is wired in.
        return out

    def explain(self, thing: str) -> dict[str, Any]:
        """Everything about one item, with the person and time it was judged for."""
        item = parse_item(thing)
        if item.kind == "text" or not item.host:
            c = Classification((), ())
        else:
            index = self.classifier.index
            c = self.classifier.judge(index.lookup(item.host, item.path, item.subject))
        out = self.result(item, c)
        out["path"] = item.path
        p = self.person
        out["person"] = (
            {"username": p.username, "role": p.role, "year_group": p.year_group} if p else None
        )
        out["at"] = self.at.isoformat()
        return out

    # --- batch ----------------------------------------------------------------------------

    def stream(self, source: IO[bytes], sink: IO[str]) -> tuple[int, int]:
        """``classify -``: one JSON line out per line in; returns (lines, lines matched)."""
        lines = matched = 0
        for text in _chunks(source):
            out, n_matched = self.batch(text)
            sink.write(out)
            lines += text.count("\n") + 1
            matched += n_matched
        return lines, matched

    def batch(self, text: str) -> tuple[str, int]:
        """JSON lines for the lines of ``text`` (no final newline); and how many matched."""
        given = text.split("\n")
        low = text.lower()
        found = _HOST.findall(low)
        if len(found) != len(given):  # cannot happen with the pattern above; stay correct
            found = [parse_item(g).host or "" for g in given]
        kinds = ["url" if "/" in g else "domain" if g else "text" for g in given]
        if " " in text or "\t" in text:
            counted = line_no = 0
            for m in _TEXT_LINE.finditer(text):
                line_no += text.count("\n", counted, m.start())
                counted = m.start()
                kinds[line_no] = "text"
                found[line_no] = ""
        hosts, odd_hosts = _canonical_hosts(found)
        index = self.classifier.index
        compiled = index.compiled
        hit_items, hit_starts, hit_rows = compiled.batch_hits(hosts)
        per_item: dict[int, list[tuple[str, int]]] = {}
        for i, start, row in zip(
            hit_items.tolist(), hit_starts.tolist(), hit_rows.tolist(), strict=True
        ):
            per_item.setdefault(i, []).append((hosts[i][start:], row))
        if compiled.expressions:
            subjects = _SCHEME.sub("", low)
            for i in compiled.expression_lines(subjects):
                if kinds[i] == "url":
                    per_item.setdefault(i, [])
        results: dict[int, str] = {}
        for i, hits in per_item.items():
            item = parse_item(given[i]) if kinds[i] == "url" else Item(given[i], kinds[i])
            item = Item(given[i], kinds[i], hosts[i], item.path, item.subject)
            c = self.classifier.judge(index.matches(hits, item.path, item.subject))
            if c.matches:
                results[i] = json.dumps(
                    self.result(item, c), ensure_ascii=False, separators=(",", ":")
                )
        safe = _UNSAFE.search(text) is None
        if safe and odd_hosts:
            safe = _UNSAFE.search("\n".join(hosts)) is None
        out: list[str] = []
        for i, (g, kind, host) in enumerate(zip(given, kinds, hosts, strict=True)):
            line = results.get(i)
            if line is None:
                if safe:
                    host_json = f'"{host}"' if kind != "text" else "null"
                    line = (
                        f'{{"item":"{g}","kind":"{kind}","host":{host_json},'
                        '"categories":[],"matches":[]}'
                    )
                else:
                    line = json.dumps(
                        {
                            "item": g,
                            "kind": kind,
                            "host": host if kind != "text" else None,
                            "categories": [],
                            "matches": [],
                        },
                        ensure_ascii=False,
                    )
            out.append(line)
        out.append("")
        return "\n".join(out), len(results)


def _canonical_hosts(found: list[str]) -> tuple[list[str], bool]:
    """canonical_host for many hosts already in lower case: only the rare ones that need it
    (a trailing dot, brackets, non-ASCII) go through it one by one; and whether any did."""
    joined = "\n".join(found) + "\n"
    if ".\n" in joined or "[" in joined or not joined.isascii():
        fixed = [
            canonical_host(h) if (h.endswith(".") or "[" in h or not h.isascii()) else h
            for h in found
        ]
        return fixed, True
    return found, False


def _chunks(source: IO[bytes]) -> Iterator[str]:
    """Whole lines, a few MB at a time, decoded (bad UTF-8 replaced), without the final
    newline; a CR before a newline is dropped."""
    rest = b""
    while True:
        data = source.read(_READ)
        if not data:
            break
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1 :]
        block = data[:cut]
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n")
            if block.endswith(b"\r"):
                block = block[:-1]
        yield block.decode("utf-8", "replace")
    if rest:
        yield rest.rstrip(b"\r").decode("utf-8", "replace")


def person_on_roster(engine: Engine, username: str) -> Person | None:
    """The roster's entry for a user name (active or not: a leaver's history still counts)."""
    t = table_of(PersonRow)
    with engine.connect() as conn:
        r = conn.execute(select(t).where(t.c.username == username)).first()
    if r is None:
        return None
    return Person(
        username=r.username,
        display_name=r.display_name,
        role=r.role,
        year_group=r.year_group,
        class_name=r.class_name,
        email=r.email,
    )


def render(result: dict[str, Any]) -> list[str]:
    """The explanation of ``explain`` for a person to read."""
    lines = [f"{result['item']}  ({result['kind']})"]
    if result["kind"] == "text":
        lines.append("  text: no text classification in this build; domains and URLs only")
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
    lines.append(f"  result: {result['severity']}")
    return lines
