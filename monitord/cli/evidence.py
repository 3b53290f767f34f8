"""``evidence``: the audit trail checked whole, one alert's evidence bundle; and ``sar``,
everything held about one person."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from monitord.cli.context import Commands, Context, UserError, group
from monitord.cli.output import out


def cmd_evidence_verify(ctx: Context, args: argparse.Namespace) -> int:
    """The chain, every anchor (the file's and those given, from the digests) and each
    alert's state; exit 1 naming every problem."""
    from monitord.casework.trail import anchor_file, parse_anchor, read_anchors, verify_trail

    cfg = ctx.cfg
    given = [parse_anchor(a) for a in args.anchor or []]
    engine = ctx.engine
    path = anchor_file(cfg)
    anchors, unreadable = read_anchors(path)
    with engine.connect() as conn:
        verdict = verify_trail(conn, [*anchors, *given])
    if unreadable or not verdict.intact:
        raise UserError(*verdict.problems, *unreadable)
    where = f"{len(anchors)} in {path}" if anchors else f"none yet in {path}"
    if given:
        where += f", {len(given)} given"
    out.print(
        f"audit trail intact: {verdict.records} records verified; anchors: {where}; "
        f"{verdict.alerts} alerts match their last audit record",
        markup=False,
    )
    return 0


def _export_password(given: str | None, from_file: str | None) -> str | None:
    """``--password-file FILE`` (its first line), or ``--password`` alone: asked twice at the
    terminal. Never a password on the command line, which every user of the server can read
    in the process list."""
    if given:
        raise UserError(
            "a password on the command line is visible to every user of the server: use "
            "--password alone to be asked for it, or --password-file FILE"
        )
    if from_file is not None:
        try:
            lines = Path(from_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--password-file {from_file}: cannot read it: {exc}") from None
        if not lines or not lines[0]:
            raise UserError(f"--password-file {from_file}: the first line is empty")
        return lines[0]
    if given is None:
        return None
    if not sys.stdin.isatty():
        raise UserError("--password asks for the password at a terminal: use --password-file FILE")
    first = getpass.getpass("Password for the bundle: ")
    if getpass.getpass("Again: ") != first:
        raise UserError("the two passwords differ")
    return first


def cmd_evidence_export(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.casework.evidence import EvidenceError, export_bundle

    cfg, engine = ctx.cfg, ctx.engine
    password = _export_password(args.password, args.password_file)
    try:
        done = export_bundle(
            engine, cfg, args.id, Path(args.output), ctx.actor, ctx.now(), password
        )
    except EvidenceError as exc:
        raise UserError(str(exc)) from None
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


def cmd_sar(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.casework.rights import subject_access

    counts = subject_access(
        ctx.engine, args.username, Path(args.output), ctx.actor, args.reason, ctx.now()
    )
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    out.print(f"wrote {args.output}: {summary} (recorded in the audit trail)", markup=False)
    return 0


def register(commands: Commands) -> None:
    evidence = group(commands, "evidence", "the evidence trail: check it whole, export an alert's")
    s = evidence.add_parser("verify", help="the audit trail is whole: chain, anchors, alerts")
    s.add_argument(
        "--anchor",
        action="append",
        metavar="RECORD:SHA256",
        help="also check an anchor printed in a weekly digest (repeatable)",
    )
    s.set_defaults(func=cmd_evidence_verify)
    s = evidence.add_parser("export", help="the evidence bundle of one alert, as a zip")
    s.add_argument("id", type=int, help="the alert's number")
    s.add_argument("-o", "--output", required=True, metavar="FILE", help="the zip to write")
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

    s = commands.add_parser("sar", help="everything held about one person (subject access request)")
    s.add_argument("username", help="the person's user name")
    s.add_argument("-o", "--output", required=True, metavar="FILE", help="the zip to write")
    s.add_argument(
        "--reason",
        default="subject access request",
        help="kept in the audit trail (default: subject access request)",
    )
    s.set_defaults(func=cmd_sar)
