"""The ``monitord`` command line. Exit codes: 0 ok, 1 bad input or config, 2 usage."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlalchemy import Engine

from collectors.parsers.base import UnknownFormat, available_formats
from monitord.casework import cases
from monitord.casework.rights import RightsError
from monitord.core.clock import SystemClock
from monitord.core.terminal import console, json_printable, printable_text
from monitord.core.timeparse import parse_when
from monitord.identity.agents import AgentError
from monitord.identity.roster import ImportError_, import_devices, import_people
from monitord.service.initdir import InitError, init_dir
from monitord.settings.config import (
    FORMATS,
    Config,
    ConfigError,
    config_warnings,
    find_config,
    load_config,
)
from monitord.store.database import (
    ALL_SITES,
    SchemaError,
    audit,
    make_engine,
    open_store,
    site_of,
    upgrade,
)

# What pupils control reaches these (tables of alerts, searches): see monitord.core.terminal.
out = console()
err = console(stderr=True)


class Failure(Exception):
    """Bad input: each line is printed, and monitord exits 1."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


def actor() -> str:
    """Who a command's actions are recorded as: the login name of the real user id (root
    under sudo), never an environment variable."""
    from monitord.service.statefiles import login_name

    return login_name(os.getuid())


def _audit_read(engine: Engine, action: str, subject: str, detail: dict[str, Any]) -> None:
    """Record a read of personal data in bulk (who, what and how much)."""
    with engine.begin() as conn:
        audit(conn, actor(), action, subject, detail, now=SystemClock().now())


def _config(args: argparse.Namespace) -> Config:
    return load_config(find_config(args.config))


def _safe_document(text: str, is_json: bool) -> str:
    """JSON or CSV for the terminal (or a pipe): nothing in it a terminal acts on."""
    return json_printable(text) if is_json else printable_text(text)


def _print_json(value: Any) -> None:
    sys.stdout.write(json_printable(json.dumps(value, indent=2, ensure_ascii=False)) + "\n")


# --- commands ----------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    written = init_dir(Path(args.dir))
    for p in written:
        out.print(f"wrote {p}")
    cfg = load_config(written[0])
    open_store(cfg.database_url, site=cfg.site_id).dispose()
    out.print(f"created the store at {cfg.database_url}")
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from monitord.classify.policy import load_policy, policy_named_in

    path = find_config(args.config)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        # The policy file is checked all the same, so that one run names every problem.
        problems = list(exc.problems)
        try:
            load_policy(policy_named_in(path), ZoneInfo("UTC"))
        except ConfigError as more:
            problems += more.problems
        raise ConfigError(problems) from None
    load_policy(cfg.policy_file, cfg.tz)
    empty = [k for k in ("dsl", "headteacher") if not getattr(cfg.settings.recipients, k)]
    for k in empty:
        err.print(f"warning: recipients.{k} is empty: alerts for it will not be mailed")
    for line in config_warnings(cfg):
        err.print(line, markup=False)
    if cfg.settings.service.user:
        from monitord.core.private import OwnerError, lookup_owner

        try:
            lookup_owner(cfg.settings.service.user)
        except OwnerError as exc:
            err.print(f"warning: {exc}: commands run as root refuse until it exists", markup=False)
    out.print(f"{cfg.path}: ok ({len(cfg.settings.sources)} sources)")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    cfg = _config(args)
    engine = make_engine(cfg.database_url)
    before, after = upgrade(engine)
    out.print(f"database schema: {before or 'empty'} -> {after}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from monitord.service.app import ingest_files, open_app, parser_for

    cfg = _config(args)
    paths = [Path(p) for p in args.paths]
    missing = [f"{p}: file not found" for p in paths if not p.is_file()]
    if missing:
        raise Failure(*missing)
    if args.date_order and args.format != "windows-dns":
        raise Failure("--date-order applies only to --format windows-dns")
    parser = parser_for(args.format, args.date_order)
    app = open_app(cfg, SystemClock())
    result = ingest_files(app, paths, args.format, args.source or args.format, parser)
    summary = {
        "lines": result.lines,
        "events": result.events,
        "rejected": result.rejected,
        "skipped": result.skipped,
        "stored": result.stored,
        "duplicates": result.duplicates,
        "alerts_opened": result.alerts_opened,
        "alerts_updated": result.alerts_updated,
    }
    if args.json:
        _print_json(summary)
    else:
        out.print(
            f"{result.lines} lines: {result.events} events ({result.stored} new, "
            f"{result.duplicates} already stored), {result.skipped} without an event, "
            f"{result.rejected} rejected; alerts: {result.alerts_opened} opened, "
            f"{result.alerts_updated} updated (mail queued: monitord outbox flush)"
        )
    if result.lines and result.rejected == result.lines:
        # Nothing could be read: most often the wrong --format for these files.
        err.print(
            f"no line was read: all {result.lines} were rejected as {args.format} "
            "(is --format right? the reasons are stored with the rejected lines)",
            markup=False,
        )
        return 1
    return 0


SITE_HELP = "another school's site id in a store schools share, or all for every school"


def _site(args: argparse.Namespace, cfg: Config) -> str:
    """The school a view is of: ``--site ID``, every school with ``--site all``, or this
    one."""
    value: str | None = getattr(args, "site", None)
    return ALL_SITES if value == "all" else (value or cfg.site_id)


def cmd_alerts_list(args: argparse.Namespace) -> int:
    cfg = _config(args)
    engine = open_store(cfg.database_url, site=_site(args, cfg))
    since = parse_when(args.since, cfg.tz, SystemClock().now()) if args.since else None
    alerts = cases.list_alerts(engine, args.status, since)
    detail = {"output": "json" if args.json else "table", "status": args.status}
    detail |= {"since": since.isoformat() if since else None, "alerts": len(alerts)}
    _audit_read(engine, "alerts.list", f"site:{site_of(engine)}", detail)
    if args.json:
        _print_json(alerts)
        return 0
    table = Table("id", "severity", "category", "person", "year", "device", "indicator", "count")
    table.add_column("status")
    for a in alerts:
        table.add_row(
            str(a["id"]),
            a["severity"],
            a["category"],
            a["person"] or "-",
            a["year_group"] or "-",
            a["device"] or a["ip"] or "-",
            a["indicator"][:60],
            str(a["count"]),
            a["status"],
        )
    out.print(table)
    return 0


def cmd_alerts_show(args: argparse.Namespace) -> int:
    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    detail = cases.show_alert(engine, args.id, actor(), SystemClock().now())
    if args.json:
        _print_json({"alert": detail.alert, "events": detail.events, "history": detail.history})
        return 0
    a = detail.alert
    out.print(f"Alert {a['id']}: {a['severity']} {a['category']} ({a['status']})")
    for key in ("person", "role", "year_group", "device", "ip", "indicator", "first_seen"):
        out.print(f"  {key}: {a[key]}", markup=False)
    for key in ("last_seen", "count", "blocked", "sources", "recipients", "rule", "outcome"):
        out.print(f"  {key}: {a[key]}", markup=False)
    for key in ("assignee", "reviewer", "reviewed_at"):
        out.print(f"  {key}: {a[key]}", markup=False)
    out.print("Events")
    for ev in detail.events:
        out.print(f"  {ev['ts']} {ev['source']} offset {ev['offset']}", markup=False)
        out.print(f"    raw: {ev['raw']}", markup=False)
        out.print(f"    attribution: {ev['attribution']}", markup=False)
        if ev["filter_category"]:
            verdict = ev["filter_action"] or ("blocked" if ev["blocked"] else "allowed")
            out.print(f"    the filter: {verdict}, {ev['filter_category']}", markup=False)
        for m in ev["matches"]:
            out.print(f"    match: {m['category']} {m['entry']} ({m['list']})", markup=False)
    out.print("History")
    for h in detail.history:
        out.print(f"  {h['ts']} {h['actor']} {h['action']} {h['detail']}", markup=False)
    return 0


def _case(action: Callable[..., None], *extra: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        cfg = _config(args)
        engine = open_store(cfg.database_url, site=cfg.site_id)
        values = [getattr(args, name) for name in extra]
        action(engine, args.id, actor(), *values, SystemClock().now())
        out.print(f"alert {args.id}: {action.__name__} recorded")
        return 0

    return run


def cmd_lists_import(args: argparse.Namespace) -> int:
    from monitord.classify.lists import read_plain, read_ut1, store_list, unusable_summary

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    path = Path(args.path)
    now = SystemClock().now()
    if args.format == "e2guardian":
        return _import_phrase_lists(args, engine, cfg, path, now)
    if args.format == "ut1":
        contents, skipped = read_ut1(path, args.name or "ut1")
    elif args.format == "hosts":
        from monitord.classify.hostsfile import read_hosts

        if not args.category:
            raise Failure("lists import --format hosts needs --category")
        content, skipped = read_hosts(path, args.category, args.name or path.stem)
        contents = [content]
    else:
        if not args.category:
            raise Failure(f"lists import --format {args.format} needs --category")
        contents = [read_plain(path, args.format, args.category, args.name or path.stem)]
        skipped = []
    table = Table("list", "category", "domains", "urls", "sha256")
    for c in contents:
        store_list(engine, cfg.lists_dir, c, actor(), now)
        table.add_row(c.name, c.category, str(len(c.domains)), str(len(c.urls)), c.sha256[:12])
    out.print(table)
    for s in [*skipped, *(line for c in contents for line in unusable_summary(c))]:
        out.print(f"left out {s}", markup=False)
    _compile_lists(cfg, engine)
    return 0


def _import_phrase_lists(
    args: argparse.Namespace, engine: Engine, cfg: Config, path: Path, now: Any
) -> int:
    """e2guardian weighted and banned phrase lists, for the text of searches and typing; the
    daemon reads them when it starts."""
    from monitord.classify.e2guardian import import_e2guardian

    stored, skipped = import_e2guardian(
        engine,
        cfg.lists_dir,
        path,
        actor(),
        now,
        name=args.name or "e2guardian",
        category=args.category,
    )
    table = Table("list", "category", "rules", "sha256")
    for plist, _version in stored:
        table.add_row(plist.name, plist.category, str(len(plist.rules)), plist.sha256[:12])
    out.print(table)
    for s in skipped:
        out.print(f"left out {s}", markup=False)
    return 0


def _compile_lists(cfg: Config, engine: Engine) -> None:
    """Compile every active list into the index file the daemon maps at start-up."""
    from monitord.classify.lists import STARTER_LISTS, compile_index, has_no_imported

    index_file, index = compile_index(engine, cfg.lists_dir, STARTER_LISTS)
    names = len(index.compiled)
    if index_file is None:
        why = "the starter lists only" if has_no_imported(engine) else "not writable"
        out.print(f"compiled {names:,} names in memory ({cfg.lists_dir}: {why})", markup=False)
    else:
        size = index_file.stat().st_size / 1e6
        out.print(f"compiled {names:,} names into {index_file} ({size:.1f} MB)", markup=False)


def cmd_classify(args: argparse.Namespace) -> int:
    """Explain one domain, URL or text; ``-``: one JSON line per stdin line."""
    from monitord.classify.content import text_explainer
    from monitord.classify.e2guardian import load_phrase_lists
    from monitord.classify.engine import Classifier
    from monitord.classify.explain import Explainer, person_on_roster, render, school_filter
    from monitord.classify.lists import STARTER_LISTS, load_index
    from monitord.classify.phrases import DEFAULT_PHRASES, load_engine
    from monitord.classify.policy import load_policy

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    policy = load_policy(cfg.policy_file, cfg.tz)
    now = SystemClock().now()
    at = parse_when(args.at, cfg.tz, now) if args.at else now
    person = None
    if args.user:
        person = person_on_roster(engine, args.user)
        if person is None:
            raise Failure(
                f"--user {args.user}: no one with that user name on the roster "
                "(monitord people import CSV)"
            )
    classifier = Classifier(load_index(engine, STARTER_LISTS, cfg.lists_dir))
    rcpt = cfg.settings.recipients

    def addresses(lists: tuple[str, ...]) -> list[str]:
        return [a for name in lists for a in getattr(rcpt, name, [])]

    phrases = load_engine(DEFAULT_PHRASES, load_phrase_lists(engine))
    text = text_explainer(phrases, policy, person, at, addresses)
    explainer = Explainer(classifier, policy, person, at, rcpt, text=text)
    if args.thing == "-":
        explainer.stream(sys.stdin.buffer, sys.stdout)
        sys.stdout.flush()
        return 0
    result = explainer.explain(args.thing)
    result["filter"] = school_filter(engine, result.get("host"))
    if args.json:
        _print_json(result)
    else:
        for line in render(result):
            out.print(line, markup=False)
    return 0


def cmd_lists_show(args: argparse.Namespace) -> int:
    from monitord.classify.listadmin import REMOVED, list_states

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    table = Table("list", "category", "state", "domains", "urls", "expressions", "imported", "by")
    with engine.connect() as conn:
        for s in list_states(conn):
            if s.state == REMOVED and not args.all:
                continue
            c = s.counts
            table.add_row(
                s.name,
                s.category,
                s.state,
                f"{c.domains:,}",
                f"{c.urls:,}",
                f"{c.expressions:,}",
                str(s.changed_at)[:19],
                s.changed_by,
            )
    out.print(table)
    return 0


def cmd_lists_change(args: argparse.Namespace) -> int:
    """``lists remove|disable|enable NAME``: audited, mailed to the headteacher."""
    from alerting.listmail import change_mailer
    from monitord.classify.listadmin import change_lists

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    action = args.lists_command
    change, mailed = change_lists(
        engine, args.name, action, actor(), SystemClock().now(), change_mailer(cfg)
    )
    for c in change.lists:
        out.print(f"{c.name} ({c.category}): {action}d", markup=False)
    for note in change.notes:
        out.print(note, markup=False)
    b, a = change.before, change.after
    out.print(
        f"active lists {b.lists:,} -> {a.lists:,}, domains {b.domains:,} -> {a.domains:,}, "
        f"URLs {b.urls:,} -> {a.urls:,}, expressions {b.expressions:,} -> {a.expressions:,}"
    )
    _report_mail(mailed)
    _compile_lists(cfg, engine)
    out.print("a running monitord picks the change up within a minute, without a restart")
    return 0


def cmd_lists_update(args: argparse.Namespace) -> int:
    """``lists update [--source NAME]``: fetch, check and swap in the configured sources."""
    from alerting.listmail import change_mailer
    from monitord.classify.lists import STARTER_LISTS
    from monitord.classify.listupdate import run_update

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    result = run_update(
        engine,
        cfg,
        actor(),
        SystemClock().now(),
        mail=change_mailer(cfg),
        only=args.source,
        starter_dir=STARTER_LISTS,
    )
    for s in result.sources:
        (out if s.ok else err).print(
            f"{s.name}: {s.message}" if s.ok else f"{s.name}: refused: {s.message}", markup=False
        )
    if result.change is not None:
        b, a = result.change.before, result.change.after
        out.print(
            f"active lists {b.lists:,} -> {a.lists:,}, domains {b.domains:,} -> "
            f"{a.domains:,}, URLs {b.urls:,} -> {a.urls:,}, expressions {b.expressions:,} -> "
            f"{a.expressions:,}"
        )
        _report_mail(list(result.mailed))
        if result.index is not None:
            out.print(f"compiled index {result.index}", markup=False)
    return 1 if result.failed else 0


def _report_mail(mailed: list[str]) -> None:
    if mailed:
        out.print(
            f"change-control mail to {', '.join(mailed)} queued (sent by the daemon, or "
            "monitord outbox flush)",
            markup=False,
        )
    else:
        err.print(
            "recipients.headteacher is empty in the config: the change is audited but nobody "
            "was mailed, and the school's policy wants a second person to see it"
        )


def _roster(kind: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        cfg = _config(args)
        engine = open_store(cfg.database_url, site=cfg.site_id)
        now = SystemClock().now()
        if kind == "people":  # the export's column names come from [roster]
            r = import_people(engine, Path(args.csv), actor(), now, cfg.settings.roster)
        else:
            r = import_devices(engine, Path(args.csv), actor(), now)
        out.print(
            f"{kind}: {r.added} added, {r.updated} updated, {r.unchanged} unchanged, "
            f"{r.retired} no longer listed (kept, marked inactive)"
        )
        return 0

    return run


def _visit_day(args: argparse.Namespace, cfg: Config) -> Any:
    now = SystemClock().now()
    if not args.date:
        return now.astimezone(cfg.tz).date()
    return parse_when(args.date, cfg.tz, now).astimezone(cfg.tz).date()


def cmd_supply_checkin(args: argparse.Namespace) -> int:
    from monitord.identity.supply import checkin

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    day = _visit_day(args, cfg)
    v = checkin(engine, args.login, args.name, args.class_name, day, actor(), SystemClock().now())
    out.print(
        f"{v.login} is {v.name} (covering {v.class_name}) on {v.day:%A %d %B %Y}: "
        "what that login does that day is attributed to them",
        markup=False,
    )
    return 0


def cmd_supply_import(args: argparse.Namespace) -> int:
    from monitord.identity.supply import import_visits

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    n = import_visits(engine, Path(args.csv), actor(), SystemClock().now(), cfg.tz)
    out.print(f"supply: {n} visit(s) recorded")
    return 0


def cmd_outbox_flush(args: argparse.Namespace) -> int:
    import asyncio

    from alerting.delivery import EmailNotifier, deliver_due

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    clock = SystemClock()
    result = asyncio.run(deliver_due(engine, cfg, clock, EmailNotifier(cfg), include_batched=True))
    out.print(f"sent {result.sent}, retrying {result.retrying}, failed {result.failed}")
    for w in result.where:
        out.print(f"  {w}", markup=False)
    return 0 if not result.failed else 1


def cmd_evidence_verify(args: argparse.Namespace) -> int:
    """The chain, every anchor (the file's and those given, from the digests) and each
    alert's state; exit 1 naming every problem."""
    from monitord.casework.trail import anchor_file, parse_anchor, read_anchors, verify_trail

    cfg = _config(args)
    given = [parse_anchor(a) for a in args.anchor or []]
    engine = open_store(cfg.database_url, site=cfg.site_id)
    path = anchor_file(cfg)
    anchors, unreadable = read_anchors(path)
    with engine.connect() as conn:
        verdict = verify_trail(conn, [*anchors, *given])
    if unreadable or not verdict.intact:
        raise Failure(*verdict.problems, *unreadable)
    where = f"{len(anchors)} in {path}" if anchors else f"none yet in {path}"
    if given:
        where += f", {len(given)} given"
    out.print(
        f"audit trail intact: {verdict.records} records verified; anchors: {where}; "
        f"{verdict.alerts} alerts match their last audit record",
        markup=False,
    )
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    from monitord.service.sources import passed_over_text, source_states

    cfg = _config(args)
    states = source_states(cfg, open_store(cfg.database_url, site=cfg.site_id))
    if args.json:
        _print_json([s.as_json() for s in states])
        return 0
    table = Table("source", "format", "position", "lag", "lines", "events", "rejected")
    table.add_column("last event")
    table.add_column("file written")
    table.add_column("passed over")
    for s in states:
        table.add_row(
            s.name,
            s.format,
            "-" if s.position is None else f"{s.position:,}",
            "-" if s.lag_bytes is None else f"{s.lag_bytes:,} B",
            f"{s.lines:,}",
            f"{s.events:,}",
            f"{s.rejected:,}",
            s.last_event_at or "-",
            s.last_written_at
            or ("-" if s.path.startswith(("udp:", "tcp:", "tls:")) else "missing"),
            passed_over_text(s),
        )
    out.print(table)
    return 0


def cmd_check_filtering(args: argparse.Namespace) -> int:
    """Look names of each category up through the school's filter; record the check."""
    from monitord.casework import filtercheck
    from monitord.casework.dnsquery import parse_server
    from monitord.classify.lists import STARTER_LISTS, sample_names

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    resolver = args.resolver
    if resolver is None and args.proxy is None:
        resolver = filtercheck.system_resolver()
        if resolver is None:
            raise Failure("no --resolver given and none in /etc/resolv.conf")
    try:
        server = parse_server(resolver) if resolver else None
    except ValueError as exc:
        raise Failure(f"--resolver: {exc}") from None
    if args.proxy and not re.match(r"^https?://[^/\s]+/?$", args.proxy):
        raise Failure(f"--proxy: expected http://HOST:PORT, got {args.proxy!r}")
    probes = filtercheck.probes(sample_names(engine, STARTER_LISTS, max(1, args.per_category)))
    report = filtercheck.run_check(
        probes,
        resolver=server,
        proxy=args.proxy,
        by=actor(),
        now=SystemClock().now(),
    )
    filtercheck.record(engine, report)
    if args.json:
        _print_json(report.as_json())
    else:
        for line in filtercheck.render(report):
            out.print(line, markup=False)
    return 0 if report.usable else 1


def cmd_status(args: argparse.Namespace) -> int:
    """Sources, mail waiting, open alerts, the last digest and retention run, the store."""
    from monitord.service.status import collect_status, render

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    status = collect_status(cfg, engine, SystemClock().now())
    if args.json:
        _print_json(status)
        return 0
    for line in render(status):
        out.print(line, markup=False)
    return 0


def cmd_retention_run(args: argparse.Namespace) -> int:
    """Remove what has been kept long enough now (the daemon does it daily); audited."""
    from monitord.store.retention import run_retention

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    result = run_retention(engine, cfg, SystemClock().now(), actor(), dry_run=args.dry_run)
    if args.json:
        _print_json(result.as_json())
        return 0
    verb = "would remove" if args.dry_run else "removed"
    table = Table("kind", verb, "older than")
    cutoffs = result.cutoffs
    kept_by = {
        "alerts": "alerts",
        "alert_events": "alerts",
        "outbox": "alerts",
        "rejected": "rejected",
    }
    for kind, n in result.removed.items():
        table.add_row(
            kind, f"{n:,}", cutoffs[kept_by.get(kind, "audit" if kind == "audit" else "events")]
        )
    out.print(table)
    if not args.dry_run:
        out.print(
            f"{result.transactions} transaction(s), the longest "
            f"{result.longest_transaction * 1000:.0f} ms (recorded in the audit trail)"
        )
    return 0


def cmd_agents(args: argparse.Namespace) -> int:
    from monitord.identity.agents import add_agent, list_agents, revoke_agent

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    now = SystemClock().now()
    if args.agents_command == "add":
        token = add_agent(engine, args.name, actor(), now, args.device)
        out.print(
            f"agent {args.name} added for device {args.device}. Its token, shown this once "
            "(put it in the agent's configuration):",
            markup=False,
        )
        sys.stdout.write(token + "\n")
    elif args.agents_command == "revoke":
        revoke_agent(engine, args.name, actor(), now)
        out.print(f"agent {args.name}: token revoked", markup=False)
    else:
        table = Table("agent", "device", "added", "by", "revoked", "last seen")
        for a in list_agents(engine):
            table.add_row(
                a.name,
                a.device_id or "none: enrol again with --device",
                str(a.created_at)[:19],
                a.created_by,
                str(a.revoked_at)[:19] if a.revoked_at else "-",
                str(a.last_seen_at)[:19] if a.last_seen_at else "never",
            )
        out.print(table)
    return 0


def cmd_alerts_escalate(args: argparse.Namespace) -> int:
    from alerting.manager import AlertManager

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    clock = SystemClock()
    who = actor()
    manager = AlertManager(cfg, clock, actor=who)

    def mail(conn: Any, alert_id: int, before: str) -> None:
        manager.mail_escalation(conn, alert_id, before, who, args.reason)

    before, after = cases.escalate(
        engine, args.id, who, args.severity, args.reason, clock.now(), mail
    )
    out.print(
        f"alert {args.id}: escalated from {before} to {after}; its mail is queued for the "
        "daemon (or monitord outbox flush)"
    )
    return 0


def cmd_silence_add(args: argparse.Namespace) -> int:
    from monitord.casework.silences import SilenceError, add_silence
    from monitord.core.timeparse import parse_duration

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    try:
        s = add_silence(
            engine,
            person=args.person,
            device=args.device,
            category=args.category,
            duration=parse_duration(args.duration),
            reason=args.reason,
            actor=actor(),
            now=SystemClock().now(),
        )
    except SilenceError as exc:
        raise Failure(str(exc)) from None
    who = f"person {s.person}" if s.person else f"device {s.device}"
    what = s.category or "every category"
    until = s.expires_at.astimezone(cfg.tz).strftime("%a %d %b %H:%M")
    out.print(
        f"silence {s.id}: alerts about {who} in {what} are recorded but not mailed until "
        f"{until} (critical alerts are always mailed)",
        markup=False,
    )
    return 0


def cmd_silence_list(args: argparse.Namespace) -> int:
    from monitord.casework.silences import list_silences

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    now = SystemClock().now()
    found = list_silences(engine, now, every=args.all)
    if args.json:
        _print_json([s.as_json(now) for s in found])
        return 0
    table = Table("id", "person", "device", "category", "until", "by", "reason")
    table.add_column("state")
    for s in found:
        ends = s.expired_at or s.expires_at
        table.add_row(
            str(s.id),
            s.person or "-",
            s.device or "-",
            s.category or "all",
            ends.astimezone(cfg.tz).strftime("%Y-%m-%d %H:%M"),
            s.created_by,
            s.reason,
            "in force"
            if s.active(now)
            else f"ended by {s.expired_by}"
            if s.expired_by
            else "expired",
        )
    out.print(table)
    return 0


def cmd_silence_expire(args: argparse.Namespace) -> int:
    from monitord.casework.silences import SilenceError, expire_silence

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    try:
        expire_silence(engine, args.id, actor(), SystemClock().now())
    except SilenceError as exc:
        raise Failure(str(exc)) from None
    out.print(f"silence {args.id} ended: alerts it covered are mailed again")
    return 0


def _export_password(given: str | None, from_file: str | None) -> str | None:
    """``--password-file FILE`` (its first line), or ``--password`` alone: asked twice at the
    terminal. Never a password on the command line, which every user of the server can read
    in the process list."""
    if given:
        raise Failure(
            "a password on the command line is visible to every user of the server: use "
            "--password alone to be asked for it, or --password-file FILE"
        )
    if from_file is not None:
        try:
            lines = Path(from_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise Failure(f"--password-file {from_file}: cannot read it: {exc}") from None
        if not lines or not lines[0]:
            raise Failure(f"--password-file {from_file}: the first line is empty")
        return lines[0]
    if given is None:
        return None
    if not sys.stdin.isatty():
        raise Failure("--password asks for the password at a terminal: use --password-file FILE")
    first = getpass.getpass("Password for the bundle: ")
    if getpass.getpass("Again: ") != first:
        raise Failure("the two passwords differ")
    return first


def cmd_evidence_export(args: argparse.Namespace) -> int:
    from monitord.casework.evidence import EvidenceError, export_bundle

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    password = _export_password(args.password, args.password_file)
    try:
        done = export_bundle(
            engine, cfg, args.id, Path(args.output), actor(), SystemClock().now(), password
        )
    except EvidenceError as exc:
        raise Failure(str(exc)) from None
    how = (
        "AES-256 encrypted"
        if done.encrypted
        else "not encrypted: use --password for anyone outside school"
    )
    out.print(
        f"{done.path}: alert {args.id}, {done.events} raw line(s), {done.files} files ({how})",
        markup=False,
    )
    out.print(f"sha256 {done.sha256} (recorded in the audit trail)", markup=False)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from monitord.casework.rights import backup

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=cfg.site_id)
    size = backup(engine, Path(args.output))
    with engine.begin() as conn:
        detail = {"bytes": size}
        audit(conn, actor(), "store.backup", str(Path(args.output).resolve()), detail)
    out.print(f"backed up the store to {args.output} ({size:,} bytes)", markup=False)
    return 0


def cmd_sar(args: argparse.Namespace) -> int:
    from monitord.casework.rights import subject_access

    cfg = _config(args)
    counts = subject_access(
        open_store(cfg.database_url, site=cfg.site_id),
        args.username,
        Path(args.output),
        actor(),
        args.reason,
        SystemClock().now(),
    )
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    out.print(f"wrote {args.output}: {summary} (recorded in the audit trail)", markup=False)
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    """The weekly digest: printed as text, written as files (--out) or mailed (--send)."""
    import asyncio

    from alerting.delivery import EmailNotifier, deliver_due
    from alerting.reports.digest import (
        DigestError,
        Week,
        collect,
        queue_digest,
        recipients_for,
        render,
        write_preview,
    )
    from monitord.classify.policy import load_policy

    cfg = _config(args)
    site = _site(args, cfg)
    if args.send and site != cfg.site_id:
        raise Failure("--send mails this school's digest: see another site's with --out")
    engine = open_store(cfg.database_url, site=site)
    policy = load_policy(cfg.policy_file, cfg.tz)
    clock = SystemClock()
    now = clock.now()
    week = Week.parse(args.week, cfg.tz) if args.week else Week.last_completed(now, cfg.tz)
    if args.send:
        try:
            queued = queue_digest(engine, cfg, policy, week, now, actor(), named=args.named)
        except DigestError as exc:
            raise Failure(str(exc)) from None
        asyncio.run(deliver_due(engine, cfg, clock, EmailNotifier(cfg)))
        status, error = _outbox_status(engine, queued.outbox_id)
        to = ", ".join(queued.recipients)
        if status == "sent":
            out.print(f"digest {week.label} sent to {to}", markup=False)
        else:
            out.print(
                f"digest {week.label} queued for {to} as outbox message {queued.outbox_id} "
                f"({status}: {error or 'waiting its turn'}); the daemon retries it",
                markup=False,
            )
        return 0
    rendered = render(collect(engine, cfg, policy, week, now, named=args.named))
    if args.named:  # the DSL's copy names people: who read it is recorded
        detail = {"edition": "named", "output": "files" if args.out else "text", "site": site}
        _audit_read(engine, "digest.read", f"digest:{week.label}", detail)
    if args.out:
        for path in write_preview(rendered, Path(args.out)):
            out.print(f"wrote {path}", markup=False)
        who = ", ".join(recipients_for(cfg, args.named)) or "nobody configured"
        out.print(f"(--send mails it to {who})", markup=False)
        return 0
    sys.stdout.write(printable_text(rendered.text))
    return 0


def _outbox_status(engine: Engine, outbox_id: int) -> tuple[str, str | None]:
    from sqlalchemy import select

    from monitord.store.database import mine, table_of
    from monitord.store.tables import OutboxRow

    t = table_of(OutboxRow)
    with engine.connect() as conn:
        query = select(t.c.status, t.c.last_error).where(
            mine(conn, t.c.site_id), t.c.id == outbox_id
        )
        row = conn.execute(query).one()
    return str(row.status), row.last_error


def cmd_report(args: argparse.Namespace) -> int:
    """The governors' report for a span of dates: HTML with its charts, and a PDF."""
    from alerting.reports.report import ReportError, collect_report, parse_day, write_report

    cfg = _config(args)
    engine = open_store(cfg.database_url, site=_site(args, cfg))
    try:
        first, last = parse_day(args.start, "--from"), parse_day(args.end, "--to")
        report = collect_report(engine, cfg, first, last, SystemClock().now())
    except ReportError as exc:
        raise Failure(str(exc)) from None
    for path in write_report(report, Path(args.out)):
        out.print(f"wrote {path}", markup=False)
    return 0


def _when(value: str | None, option: str, cfg: Config, *, end_of_day: bool = False) -> Any:
    """A time option; with ``end_of_day`` a bare date (or today, yesterday) means the end of
    that day, so that ``--since 2026-11-19 --until 2026-11-19`` is the whole day."""
    if value is None:
        return None
    try:
        when = parse_when(value, cfg.tz, SystemClock().now())
    except ValueError as exc:
        raise Failure(f"{option}: {exc}") from None
    bare = re.fullmatch(r"today|yesterday|\d{4}-\d{2}-\d{2}", value.strip().lower())
    if end_of_day and bare:
        from monitord.casework.timeline import day_span

        return day_span(when.astimezone(cfg.tz).date(), cfg.tz)[1]
    return when


def _output(args: argparse.Namespace) -> str:
    return "json" if args.json else "csv" if args.csv else "table"


def _cell(value: str | None, width: int | None = None) -> Any:
    from rich.text import Text

    from monitord.casework.search import printable

    return Text(printable(value, width))


def cmd_search(args: argparse.Namespace) -> int:
    """Events that meet every filter given; audited with the operator and the reason."""
    from monitord.casework.search import (
        Query,
        csv_text,
        json_text,
        local_time,
        parse_domain,
        search,
    )

    cfg = _config(args)
    query = Query(
        user=args.user,
        ip=args.ip,
        device=args.device,
        domain=parse_domain(args.domain) if args.domain is not None else None,
        category=args.category,
        text=args.text,
        since=_when(args.since, "--since", cfg),
        until=_when(args.until, "--until", cfg, end_of_day=True),
        limit=args.limit,
        context=args.context,
    )
    engine = open_store(cfg.database_url, site=_site(args, cfg))
    result = search(
        engine,
        query,
        actor(),
        args.reason,
        SystemClock().now(),
        require_reason=cfg.settings.search.require_reason,
        output=_output(args),
    )
    note = (
        f"more events matched: these are the newest {query.limit:,} "
        "(narrow the search or raise --limit)"
        if result.more
        else ""
    )
    if args.json or args.csv:
        text = json_text if args.json else csv_text
        sys.stdout.write(_safe_document(text(result.events, cfg.tz), args.json))
        if note:
            err.print(note, markup=False)
        return 0
    table = Table()
    for name in ("time", "person", "year", "device", "source", "category"):
        table.add_column(name, no_wrap=name == "time")
    table.add_column("indicator", overflow="fold", min_width=24)
    if query.context:
        table.add_column("")
    group = None
    for ev in result.events:
        if query.context and group is not None and ev.group != group:
            table.add_section()
        group = ev.group
        row = [
            _cell(local_time(ev.ts, cfg.tz)),
            _cell(ev.person),
            _cell(ev.year_group),
            _cell(ev.device or ev.ip),
            _cell(ev.source),
            _cell(ev.category),
            _cell(ev.indicator, 80),
        ]
        if query.context:
            row.append(_cell("<- match" if ev.match else ""))
        table.add_row(*row)
    out.print(table)
    out.print(f"{result.hits:,} matching event(s)" + (f"; {note}" if note else ""), markup=False)
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    """One person's or device's day, every source in time order; audited like a search."""
    from monitord.casework.search import csv_text, json_text
    from monitord.casework.timeline import render, timeline

    cfg = _config(args)
    if args.user is None and args.device is None:
        raise Failure("timeline needs --user U or --device D")
    day = _when(args.date, "--date", cfg).astimezone(cfg.tz).date()
    engine = open_store(cfg.database_url, site=_site(args, cfg))
    events = timeline(
        engine,
        day,
        cfg.tz,
        actor(),
        args.reason,
        SystemClock().now(),
        user=args.user,
        device=args.device,
        require_reason=cfg.settings.search.require_reason,
        output=_output(args),
    )
    if args.json or args.csv:
        text = json_text if args.json else csv_text
        sys.stdout.write(_safe_document(text(events, cfg.tz), args.json))
        return 0
    who = " on ".join(x for x in (args.user, args.device) if x)
    flagged = sum(1 for ev in events if ev.flagged)
    out.print(
        f"{who}, {day:%A %d %B %Y}: {len(events):,} event(s), {flagged:,} flagged (!)",
        markup=False,
    )
    lines = render(events, cfg.tz, by_user=args.user is not None)
    sys.stdout.write(printable_text("\n".join(lines) + "\n"))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from monitord.service.daemon import run_daemon

    return run_daemon(_config(args), args.log_format)


def cmd_demo(args: argparse.Namespace) -> int:
    from monitord.service.demo import run_demo

    return run_demo(Path(args.dir))


# --- the parser --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="monitord", description=__doc__)
    p.add_argument(
        "--config",
        help="config file (default: $MONITORD_CONFIG, "
        "./config/monitord.toml, /etc/monitord/monitord.toml)",
    )
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="the daemon's log lines on stderr: text (journald) or one JSON object each",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init", help="write a working config and its folders into DIR")
    s.add_argument("dir")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("run", help="the daemon: follow the configured sources")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("sources", help="each source's position, lag, events and rejects")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_sources)

    s = sub.add_parser(
        "check-filtering", help="test the school's filter per category and record the check"
    )
    s.add_argument(
        "--resolver", metavar="ADDR", help="the school's resolver (default: this host's)"
    )
    s.add_argument(
        "--proxy", metavar="URL", help="the school's web proxy, e.g. http://10.0.0.2:3128"
    )
    s.add_argument("--per-category", type=int, default=3, metavar="N", help="names per category")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_check_filtering)

    s = sub.add_parser(
        "status", help="sources, mail waiting, open alerts, last digest and retention, the store"
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    grp = sub.add_parser(
        "retention", help="remove what has been kept long enough ([retention])"
    ).add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    s = grp.add_parser("run", help="run retention now (the daemon runs it daily)")
    s.add_argument("--dry-run", action="store_true", help="count what would go; remove nothing")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_retention_run)

    agents = sub.add_parser("agents", help="endpoint agents that push reports").add_subparsers(
        dest="agents_command", required=True, metavar="ACTION"
    )
    for action in ("add", "revoke"):
        s = agents.add_parser(action)
        s.add_argument("name")
        if action == "add":
            s.add_argument(
                "--device",
                required=True,
                help="the device (from the devices file) the agent runs on and reports for",
            )
        s.set_defaults(func=cmd_agents)
    agents.add_parser("list").set_defaults(func=cmd_agents)

    s = sub.add_parser("backup", help="a consistent copy of the store, while it runs")
    s.add_argument("-o", "--output", required=True)
    s.set_defaults(func=cmd_backup)

    s = sub.add_parser("sar", help="everything held about one person (subject access request)")
    s.add_argument("username")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--reason", default="subject access request")
    s.set_defaults(func=cmd_sar)

    s = sub.add_parser("demo", help="a realistic school day through the whole pipeline")
    s.add_argument("--dir", default="var/demo")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("ingest", help="one-shot backfill of plain or .gz log files")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument("--format", required=True, choices=FORMATS, metavar="FMT")
    s.add_argument("--source", help="source name (default: the format)")
    s.add_argument(
        "--date-order",
        choices=("mdy", "dmy", "ymd"),
        help="windows-dns: the server's date order (default: month/day)",
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_ingest)

    alerts = sub.add_parser("alerts", help="case work").add_subparsers(
        dest="alerts_command", required=True, metavar="ACTION"
    )
    s = alerts.add_parser("list")
    s.add_argument("--site", metavar="ID", help=SITE_HELP)
    s.add_argument("--status", choices=cases.STATUSES)
    s.add_argument("--since")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_alerts_list)
    s = alerts.add_parser("show")
    s.add_argument("id", type=int)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_alerts_show)
    s = alerts.add_parser("ack")
    s.add_argument("id", type=int)
    s.set_defaults(func=_case(cases.ack))
    s = alerts.add_parser("note")
    s.add_argument("id", type=int)
    s.add_argument("text")
    s.set_defaults(func=_case(cases.note, "text"))
    s = alerts.add_parser("close")
    s.add_argument("id", type=int)
    s.add_argument("--outcome", required=True, choices=cases.OUTCOMES)
    s.set_defaults(func=_case(cases.close, "outcome"))
    s = alerts.add_parser("assign", help="give the alert to the person who handles it")
    s.add_argument("id", type=int)
    s.add_argument("user")
    s.set_defaults(func=_case(cases.assign, "user"))
    s = alerts.add_parser("review", help="a second senior person's sign-off")
    s.add_argument("id", type=int)
    s.add_argument("--reviewer", required=True, metavar="NAME")
    s.set_defaults(func=_case(cases.review, "reviewer"))
    s = alerts.add_parser("escalate", help="raise the alert's severity and mail it again")
    s.add_argument("id", type=int)
    s.add_argument("--severity", required=True, choices=cases.ESCALATIONS)
    s.add_argument("--reason", required=True)
    s.set_defaults(func=cmd_alerts_escalate)

    silence = sub.add_parser(
        "silence", help="hold back the mail of alerts about a person or device for a while"
    ).add_subparsers(dest="silence_command", required=True, metavar="ACTION")
    s = silence.add_parser("add")
    who = s.add_mutually_exclusive_group(required=True)
    who.add_argument("--person", metavar="USER")
    who.add_argument("--device", metavar="DEVICE")
    s.add_argument("--category")
    s.add_argument("--for", dest="duration", required=True, metavar="DURATION")
    s.add_argument("--reason", required=True)
    s.set_defaults(func=cmd_silence_add)
    s = silence.add_parser("list")
    s.add_argument("--all", action="store_true", help="expired and ended silences too")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_silence_list)
    s = silence.add_parser("expire")
    s.add_argument("id", type=int)
    s.set_defaults(func=cmd_silence_expire)

    lists = sub.add_parser("lists", help="category lists").add_subparsers(
        dest="lists_command", required=True, metavar="ACTION"
    )
    s = lists.add_parser("import")
    s.add_argument("path")
    s.add_argument(
        "--format", required=True, choices=("ut1", "domains", "urls", "hosts", "e2guardian")
    )
    s.add_argument("--category")
    s.add_argument("--name")
    s.set_defaults(func=cmd_lists_import)
    s = lists.add_parser("show", help="every list, its state and what it holds")
    s.add_argument("--all", action="store_true", help="removed lists too")
    s.set_defaults(func=cmd_lists_show)
    for action, text in (
        ("remove", "stop using a list and delete its stored copy (import it again to undo)"),
        ("disable", "stop using a list, keeping it to enable again"),
        ("enable", "use a disabled list again"),
    ):
        s = lists.add_parser(action, help=text)
        s.add_argument("name", help="a list's name, or a group of lists such as ut1")
        s.set_defaults(func=cmd_lists_change)
    s = lists.add_parser("update", help="fetch the [[list_updates.sources]] and swap them in")
    s.add_argument("--source", help="only the source of this name")
    s.set_defaults(func=cmd_lists_update)

    s = sub.add_parser(
        "classify", help="how a domain, URL or text is classified and what policy does with it"
    )
    s.add_argument("thing", metavar="THING", help="a domain, URL or text; - reads stdin")
    s.add_argument("--user", help="judge it for this person on the roster")
    s.add_argument("--at", help="judge it at this time (default: now)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_classify)

    for kind in ("people", "devices"):
        sp = sub.add_parser(kind, help=f"{kind} from CSV").add_subparsers(
            dest=f"{kind}_command", required=True, metavar="ACTION"
        )
        s = sp.add_parser("import")
        s.add_argument("csv")
        s.set_defaults(func=_roster(kind))

    grp = sub.add_parser("config", help="configuration").add_subparsers(
        dest="config_command", required=True, metavar="ACTION"
    )
    grp.add_parser("check").set_defaults(func=cmd_config_check)

    grp = sub.add_parser("db", help="the store's schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    grp.add_parser("upgrade").set_defaults(func=cmd_db_upgrade)

    grp = sub.add_parser(
        "supply", help="supply and student teachers on shared logins"
    ).add_subparsers(dest="supply_command", required=True, metavar="ACTION")
    s = grp.add_parser("checkin", help="who is using a shared supply login today")
    s.add_argument("login", help="the shared login, e.g. Supply1")
    s.add_argument("--name", required=True, help="the supply or student teacher's name")
    s.add_argument("--class", dest="class_name", required=True, help="the class they cover")
    s.add_argument("--date", help="the day (default today), e.g. 2026-11-19")
    s.set_defaults(func=cmd_supply_checkin)
    s = grp.add_parser("import", help="visits from CSV: login,name,class,date")
    s.add_argument("csv")
    s.set_defaults(func=cmd_supply_import)

    grp = sub.add_parser("outbox", help="queued mail").add_subparsers(
        dest="outbox_command", required=True, metavar="ACTION"
    )
    grp.add_parser("flush").set_defaults(func=cmd_outbox_flush)

    grp = sub.add_parser("evidence", help="the evidence trail").add_subparsers(
        dest="evidence_command", required=True, metavar="ACTION"
    )
    s = grp.add_parser("verify", help="the audit trail is whole: chain, anchors, alerts")
    s.add_argument(
        "--anchor",
        action="append",
        metavar="RECORD:SHA256",
        help="also check an anchor printed in a weekly digest (repeatable)",
    )
    s.set_defaults(func=cmd_evidence_verify)
    s = grp.add_parser("export", help="the evidence bundle of one alert, as a zip")
    s.add_argument("id", type=int)
    s.add_argument("-o", "--output", required=True, metavar="FILE")
    s.add_argument(
        "--password",
        nargs="?",
        const="",
        help="AES-encrypt the zip with a password asked for at the terminal",
    )
    s.add_argument(
        "--password-file",
        metavar="FILE",
        help="AES-encrypt the zip with the password on the first line of FILE",
    )
    s.set_defaults(func=cmd_evidence_export)

    s = sub.add_parser("digest", help="the weekly digest for the Online Safety Group")
    s.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the last full week)")
    how = s.add_mutually_exclusive_group()
    how.add_argument(
        "--send",
        action="store_true",
        help="mail it to recipients.online_safety_group (recipients.dsl with --named)",
    )
    how.add_argument("--out", metavar="DIR", help="write its HTML, text and charts into DIR")
    s.add_argument("--named", action="store_true", help="the DSL's own copy, with names")
    s.add_argument("--site", metavar="ID", help=SITE_HELP)

    s.set_defaults(func=cmd_digest)

    s = sub.add_parser("report", help="the governors' report for a period (HTML and PDF)")
    s.add_argument("--from", dest="start", required=True, metavar="DATE")
    s.add_argument("--to", dest="end", required=True, metavar="DATE")
    s.add_argument("--out", required=True, metavar="DIR")
    s.add_argument("--site", metavar="ID", help=SITE_HELP)
    s.set_defaults(func=cmd_report)

    reason_help = "why you are looking (kept in the audit trail; required unless [search] "
    reason_help += "require_reason = false)"
    s = sub.add_parser("search", help="ad-hoc search of the stored events (audited)")
    s.add_argument("--user", metavar="U", help="the person's user name")
    s.add_argument("--ip", metavar="IP", help="the client address")
    s.add_argument("--device", metavar="D", help="the device id (or its host name)")
    s.add_argument(
        "--domain", metavar="D", help="a name, or *.example.com for it and every name under it"
    )
    s.add_argument("--category", metavar="C", help="the category an event was flagged with")
    s.add_argument(
        "--text", metavar="T", help="a substring of the URL, search term or typed text (any case)"
    )
    s.add_argument("--since", metavar="T", help="e.g. 2026-11-19, today 10:00, yesterday, 2h")
    s.add_argument("--until", metavar="T", help="a date alone means the end of that day")
    s.add_argument(
        "--limit", type=int, default=100, metavar="N", help="the newest N matches (default 100)"
    )
    s.add_argument(
        "--context",
        type=int,
        default=0,
        metavar="N",
        help="also the N events before and after each match from the same device",
    )
    s.add_argument("--reason", help=reason_help)
    s.add_argument("--site", metavar="ID", help=SITE_HELP)
    fmt = s.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("timeline", help="one person's or device's whole day (audited)")
    s.add_argument("--user", metavar="U")
    s.add_argument("--device", metavar="D")
    s.add_argument("--date", default="today", metavar="D", help="the day (default today)")
    s.add_argument("--reason", help=reason_help)
    s.add_argument("--site", metavar="ID", help=SITE_HELP)
    fmt = s.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    s.set_defaults(func=cmd_timeline)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # What monitord writes holds personal data: nothing it creates is for other users,
    # whatever umask the shell (or sudo) passed on. systemd's unit says the same.
    umask = os.umask(0o077)
    try:
        return _run(args)
    finally:
        os.umask(umask)


# Commands that work on no store of the config's: they leave nothing to anchor or hand over.
_NO_STATE = frozenset({"cmd_init", "cmd_demo", "cmd_config_check"})


def _prepare(args: argparse.Namespace) -> tuple[Config, Any, list[Path]] | None:
    """Before a command: refuse to run as root where that would leave the service files it
    cannot open (OwnerError, with the fix); note the state folders not made yet."""
    from monitord.service.statefiles import missing_folders, owner_for

    if getattr(args.func, "__name__", "") in _NO_STATE:
        return None
    try:
        cfg = _config(args)
    except ConfigError:
        return None  # the command itself says what is wrong
    return cfg, owner_for(cfg), missing_folders(cfg)


def _finish(args: argparse.Namespace, prepared: tuple[Config, Any, list[Path]]) -> None:
    """After a command that succeeded: the audit trail's anchor, and root's files handed to
    the service user."""
    from monitord.service.statefiles import finish

    cfg, owner, made = prepared
    words = [str(args.command)]
    words += [str(v) for k, v in vars(args).items() if k.endswith("_command") and v]
    why = "monitord " + " ".join(words)
    for line in finish(cfg, owner, why, SystemClock().now(), made):
        err.print(line, markup=False)


def _run(args: argparse.Namespace) -> int:
    try:
        prepared = _prepare(args)
        code: int = args.func(args)
        if code == 0 and prepared is not None:
            _finish(args, prepared)
        return code
    except ConfigError as exc:
        for line in exc.problems:
            err.print(line, markup=False)
        return 1
    except ImportError_ as exc:
        for line in exc.problems:
            err.print(line, markup=False)
        return 1
    except Failure as exc:
        for line in exc.lines:
            err.print(line, markup=False)
        return 1
    except _one_line_errors() as exc:
        err.print(str(exc), markup=False)
        return 1
    except KeyboardInterrupt:
        return 130


def _one_line_errors() -> tuple[type[Exception], ...]:
    """The errors printed as their message alone. Evaluated only when a command fails, so
    that the modules only some commands use (the lists, with numpy) are imported by those."""
    from monitord.classify.lists import ListError
    from monitord.core.private import OwnerError

    return (
        SchemaError,
        OwnerError,
        ListError,
        InitError,
        UnknownFormat,
        cases.CaseError,
        AgentError,
        RightsError,
        ValueError,
    )


__all__ = ["available_formats", "main"]
