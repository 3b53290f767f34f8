"""``monitord classify``: how a domain, URL or text is classified, and what policy does with it.

One item: every match (list, version, entry, score), the total per category, the categories
left after allow lists, and for each the policy rule that applied, the severity and the
recipients. ``classify -`` reads one item a line and writes one JSON object a line, fast
enough to run a day of proxy traffic or a whole list through it (bench/classify_vs_squidguard.sh):
hosts are looked up a batch at a time in the compiled index, and only the lines that match
something are explained one by one.

Text (an item with a space in it, ``kind: "text"``) is judged by the text engine given as
``text`` (monitord.classify.content.text_explainer): its categories, policy and severity are
the item's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import numpy as np

from monitord.classify.engine import Classification, Classifier, canonical_host, url_parts
from monitord.classify.hostindex import ListInfo, UrlEntry
from monitord.classify.policy import Policy
from monitord.core.categories import ALLOW
from monitord.core.model import Decision, Match, Person, Severity
from monitord.settings.sections import Recipients

# The host of a line, as squidGuard reads it: after an optional scheme and user, up to the
# first of / ? # : or a space. One match per line (every part may be empty).
_HOST = re.compile(
    r"^[ \t]*(?:[a-z][a-z0-9+.\-]*://)?(?:[^/?#@\s]*@)?(\[[^\]\s]*\]|[^/?#:\s]*)", re.MULTILINE
)
# The same for a whole block of lines, each match running on to its line's end (so that
# findall need not try every later character of the line as a line start); without the user
# part where no line has an "@", which cannot match then.
_HOSTS = re.compile(_HOST.pattern + r"[^\n]*", re.MULTILINE)
_HOSTS_NO_USER = re.compile(_HOSTS.pattern.replace(r"(?:[^/?#@\s]*@)?", "", 1), re.MULTILINE)
_SCHEME = re.compile(r"^[ \t]*[a-z][a-z0-9+.\-]*://", re.MULTILINE)
# A line with a space inside it, or with nothing but spaces: text, not a domain or URL.
_TEXT_LINE = re.compile(r"^[ \t]*(?:\S+[ \t]+\S|$)", re.MULTILINE)
# What a JSON string may hold without escaping (besides the newline between lines).
_UNSAFE = re.compile(r'["\\\x00-\x09\x0b-\x1f\x7f\u2028\u2029]')
_SPACE = re.compile(r"\s")
_RANK = {s.value: s.rank for s in Severity}
# Stands for a match's entry in a kept answer (a character no entry has).
_SLOT = "\ue000"
_NONE = Severity.NONE.value
_READ = 1 << 20


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
    if not s or _SPACE.search(s):
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
        text: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        self.classifier = classifier
        self.policy = policy
        self.person = person
        self.at = at
        self.recipients = recipients
        # Text classification (phrase lists, search terms) plugs in here: a function from
        # the item to a JSON-able explanation, given under "text" for items of kind text.
        self.text = text
        index = classifier.index
        self._lists = {(i.name, i.category): i for i in index.lists}
        self._decisions: dict[str, dict[str, Any]] = {}
        self._tails: dict[Any, str] = {}
        self._prefixes: dict[tuple[str, str], str] = {}
        self._allows: frozenset[int] | None = None
        self._templates: dict[tuple[int, ...], str] = {}
        self._decision_strings: dict[str, str] = {}
        self._singles: dict[int, list[str]] = {}

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
        if item.kind == "text" and self.text is not None:
            text = out["text"] = self.text(item.given)
            if isinstance(text.get("categories"), list) and isinstance(text.get("decisions"), list):
                # What the text says decides a text item: its categories, policy and severity.
                out["categories"] = text["categories"]
                out["decisions"] = text["decisions"]
                out["support_seeking"] = bool(text.get("support_seeking"))
                ranks = [Severity(d["severity"]) for d in text["decisions"]]
                top = max(ranks, key=lambda s: s.rank, default=None)
                out["severity"] = top.value if top else Severity.NONE.value
        return out

    def tail(self, c: Classification) -> str:
        """``result`` as JSON without its first three keys (item, kind, host) and its opening
        brace, written from kept pieces: the batch path's answer for a matched line."""
        decisions = [self._decision_json(cat) for cat in c.categories]
        severity = max(
            (self.decision(cat)["severity"] for cat in c.categories),
            key=_RANK.__getitem__,
            default=_NONE,
        )
        sums: dict[str, list[int]] = {}
        for m in c.matches:
            t = sums.setdefault(m.category, [0, 0])
            t[0] += 1
            t[1] += m.score
        totals = ",".join(
            f'"{cat}":{{"matches":{n},"score":{sc}}}' for cat, (n, sc) in sums.items()
        )
        cats = ",".join(f'"{cat}"' for cat in c.categories)
        return (
            f'"categories":[{cats}],"matches":[{",".join(map(self._match_json, c.matches))}],'
            f'"allowed_by":[{",".join(map(self._match_json, c.allowed_by))}],'
            f'"totals":{{{totals}}},"decisions":[{",".join(decisions)}],"severity":"{severity}"}}'
        )

    def _matched(
        self,
        i: int,
        kind: str,
        hits: list[tuple[str, int]],
        kids: list[int],
        given: list[str],
        expression_set: set[int],
        quote: Callable[[str], str],
    ) -> str:
        """``tail`` for line ``i`` of a batch, given its hits (entry, row) and their kinds;
        empty when nothing matched."""
        index = self.classifier.index
        compiled = index.compiled
        kind_table = compiled.kind_table
        urls: tuple[tuple[UrlEntry, ...], ...] = ()
        exprs: tuple[tuple[str, int], ...] = ()
        if kind == "url" and (i in expression_set or any(kind_table[k][1] for k in kids)):
            # URL entries or expressions: the path decides which. (expression_lines found
            # every line an expression matches; no other line need try them.)
            path, subject = url_parts(_with_scheme(given[i]))
            if path is not None:
                urls = index.url_hits(hits, path)
            if i in expression_set and subject is not None:
                exprs = tuple(compiled.expression_matches(subject))
        if not urls and not exprs:
            return self._domain_tail(hits, kids, quote)
        # The answer depends on the hits, URL entries and expressions alone: kept.
        key = (tuple(hits), urls, exprs)
        tail = self._tails.get(key)
        if tail is None:
            c = self.classifier.judge(index.assemble(hits, urls, exprs))
            tail = self.tail(c) if c.matches else ""
            if len(self._tails) > 100_000:
                self._tails.clear()
            self._tails[key] = tail
        return tail

    def _single_pieces(self, kid: int, row: int) -> list[str]:
        """``_domain_tail``'s template for one hit of kind ``kid`` (``row`` one such name),
        cut where the name goes (every slot holds the same name); empty when there is no
        template (an allow list among its lists, or no match)."""
        table = self.classifier.index.compiled.kind_table
        if any(lid in self._allow_lists() for lid in table[kid][0]):
            return []
        marked = self._judged_tail([(_SLOT, row)])
        return marked.split(f'"{_SLOT}"') if marked else []

    def _domain_tail(
        self, hits: list[tuple[str, int]], kids: list[int], quote: Callable[[str], str]
    ) -> str:
        """``tail`` for hits on domain entries only. Without an allow list among the hits'
        lists the answer depends on the lists alone, so it is kept as a template with a slot
        for each match's entry; with one, the entries' lengths decide, and it is judged
        afresh. Either way the judgement is the pipeline's own (``Classifier.judge``)."""
        table = self.classifier.index.compiled.kind_table
        key = tuple(kids)
        template = self._templates.get(key)
        if template is None:
            template = ""
            allows = self._allow_lists()
            if not any(lid in allows for k in kids for lid in table[k][0]):
                marked = self._judged_tail([(_SLOT, row) for _, row in hits])
                template = marked.replace("%", "%%").replace(f'"{_SLOT}"', "%s")
            if len(self._templates) > 100_000:
                self._templates.clear()
            self._templates[key] = template
        if not template:
            return self._judged_tail(hits)
        slots = [quote(e) for (e, _), k in zip(hits, kids, strict=True) for _ in table[k][0]]
        return template % tuple(slots)

    def _allow_lists(self) -> frozenset[int]:
        """The ids of the allow lists in the index."""
        if self._allows is None:
            lists = self.classifier.index.compiled.lists
            self._allows = frozenset(i for i, info in enumerate(lists) if info.category == ALLOW)
        return self._allows

    def _judged_tail(self, hits: list[tuple[str, int]]) -> str:
        """``tail`` for domain hits as the pipeline judges them; empty for no match."""
        c = self.classifier.judge(self.classifier.index.assemble(hits))
        return self.tail(c) if c.matches else ""

    def _match_json(self, m: Match) -> str:
        key = (m.list_name, m.category)
        prefix = self._prefixes.get(key)
        if prefix is None:
            whole = match_json(Match(m.category, m.list_name, ""), self._info(m))
            head = {k: whole[k] for k in ("category", "list", "version", "sha256", "imported_at")}
            prefix = self._prefixes[key] = _dumps(head)[:-1] + ',"entry":'
        entry = m.entry if _UNSAFE.search(m.entry) is None else None
        quoted = f'"{entry}"' if entry is not None else _dumps(m.entry)
        allow = "true" if m.allow else "false"
        return f'{prefix}{quoted},"score":{m.score},"allow":{allow}}}'

    def _decision_json(self, category: str) -> str:
        out = self._decision_strings.get(category)
        if out is None:
            out = self._decision_strings[category] = _dumps(self.decision(category))
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
        found = (_HOSTS if "@" in low else _HOSTS_NO_USER).findall(low)
        if len(found) != len(given):  # cannot happen with the pattern above; stay correct
            found = [parse_item(g).host or "" for g in given]
        kinds = ["url" if "/" in g else "domain" for g in given]
        texts: list[int] = []
        if " " in text or "\t" in text or "\n\n" in text or not given[0] or not given[-1]:
            counted = line_no = 0
            for m in _TEXT_LINE.finditer(text):
                line_no += text.count("\n", counted, m.start())
                counted = m.start()
                texts.append(line_no)
        for i in texts:
            kinds[i] = "text"
            found[i] = ""
        hosts, odd_hosts = _canonical_hosts(found)
        index = self.classifier.index
        compiled = index.compiled
        hit_items, hit_starts, hit_rows = compiled.batch_hits(hosts)
        expression_set: set[int] = set()
        if compiled.expressions:
            subjects = _without_schemes(low)
            expression_set = {i for i in compiled.expression_lines(subjects) if kinds[i] == "url"}
        safe = _UNSAFE.search(text) is None
        if safe and odd_hosts:
            safe = _UNSAFE.search("\n".join(hosts)) is None
        quote = _quote if safe else _dumps
        results: dict[int, str] = {}
        items = hit_items.tolist()
        starts = hit_starts.tolist()
        rows = hit_rows.tolist()
        kids = compiled.kinds[hit_rows].tolist()
        kind_table = compiled.kind_table
        singles = self._singles
        # Hits come in item order; an item's hits are items[j:k].
        cuts = [*(np.flatnonzero(hit_items[1:] != hit_items[:-1]) + 1).tolist(), len(items)]
        j = 0
        for k in cuts if items else ():
            i = items[j]
            kind = kinds[i]
            if k == j + 1:
                # One listed name, the most common hit: when its lists hold no URL entries
                # and no allow list, the answer is the kept template with that name in it.
                kid = kids[j]
                if kind == "domain" or not (kind_table[kid][1] or i in expression_set):
                    pieces = singles.get(kid)
                    if pieces is None:
                        pieces = singles[kid] = self._single_pieces(kid, rows[j])
                    if pieces:
                        host = hosts[i]
                        tail = quote(host[starts[j] :]).join(pieces)
                        results[i] = (
                            f'{{"item":{quote(given[i])},"kind":"{kind}",'
                            f'"host":{quote(host)},{tail}'
                        )
                        j = k
                        continue
            host = hosts[i]
            line = self._matched(
                i,
                kind,
                [(host[start:], row) for start, row in zip(starts[j:k], rows[j:k], strict=True)],
                kids[j:k],
                given,
                expression_set,
                quote,
            )
            if line:
                item_json, host_json = quote(given[i]), quote(host)
                results[i] = f'{{"item":{item_json},"kind":"{kind}","host":{host_json},{line}'
            j = k
        for i in expression_set.difference(items) if expression_set else ():
            line = self._matched(i, kinds[i], [], [], given, expression_set, quote)
            if line:
                item_json, host_json = quote(given[i]), quote(hosts[i])
                results[i] = f'{{"item":{item_json},"kind":"{kinds[i]}","host":{host_json},{line}'
        # Everything else matched nothing: one line each, from a template when no line of the
        # block needs escaping.
        if safe:
            out = [
                f'{{"item":"{g}","kind":"{k}","host":"{h}","categories":[],"matches":[]}}'
                for g, k, h in zip(given, kinds, hosts, strict=True)
            ]
        else:
            out = [
                _dumps({"item": g, "kind": k, "host": h, "categories": [], "matches": []})
                for g, k, h in zip(given, kinds, hosts, strict=True)
            ]
        for i in texts:
            if self.text is not None:
                out[i] = _dumps(self.result(Item(given[i], "text"), Classification((), ())))
            elif i not in results:
                out[i] = _dumps(
                    {
                        "item": given[i],
                        "kind": "text",
                        "host": None,
                        "categories": [],
                        "matches": [],
                    }
                )
        for i, line in results.items():
            out[i] = line
        out.append("")
        return "\n".join(out), len(results)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _without_schemes(low: str) -> str:
    """Each line without its ``scheme://``: str.replace for http and https, the regex only
    when another scheme (or a space before one) may start a line."""
    out = ("\n" + low).replace("\nhttps://", "\n").replace("\nhttp://", "\n")[1:]
    at = out.find("://")
    while at >= 0:  # the first "://" of each line that still has one
        start = out.rfind("\n", 0, at) + 1
        if "/" not in out[start:at] and "?" not in out[start:at]:
            return _SCHEME.sub("", low)  # a line still starts with a scheme
        end = out.find("\n", at)
        if end < 0:
            break
        at = out.find("://", end + 1)
    return out


def _quote(value: str) -> str:
    """A JSON string for text already known to need no escaping."""
    return f'"{value}"'


def _with_scheme(line: str) -> str:
    s = line.strip()
    return s if "://" in s else "http://" + s


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
    """Whole lines, read a MiB (``_READ``) at a time, decoded (bad UTF-8 replaced), without
    the final newline; a CR before a newline is dropped."""
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
