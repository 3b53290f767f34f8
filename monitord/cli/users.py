"""``users``: the staff's accounts; and ``--as USERNAME`` on case work.

Account administration is done on the server, by whoever may run monitord there, and is
recorded under that login (the real user id's, never an environment variable). Case work
with ``--as`` is recorded under the account named, once its TOTP code (asked for, or
``--totp``) is right; the lock-out rules of the console apply.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from monitord.casework.accounts import (
    ENROL_VALID,
    Account,
    Role,
    add_account,
    get_account,
    list_accounts,
    may_act_on,
    reset_two_factor,
    set_disabled,
    set_role,
)
from monitord.casework.signin import Outcome, confirm_code
from monitord.cli.context import Commands, Context, UserError, group, json_option
from monitord.cli.output import err, out, print_json


def encrypt_totp_secrets(ctx: Context) -> None:
    """Encrypt the TOTP secrets still kept plain (from before they were encrypted), and
    say so: ``db upgrade`` and every ``users`` command do it."""
    from monitord.casework.totpkey import seal_plain

    names = seal_plain(ctx.engine, ctx.totp_key, ctx.actor, ctx.now())
    if names:
        err.print(
            f"encrypted the two-factor secrets of {len(names)} account(s) with the key in "
            f"{ctx.totp_key.path}: keep a copy of that file apart from the store's backups",
            markup=False,
        )


def _password(path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--password-file {path}: cannot read: {exc}") from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise UserError(f"--password-file {path}: the password is its first line; it is empty")
    return lines[0]


def _enrolment_text(name: str, code: str) -> list[str]:
    days = ENROL_VALID.days
    return [
        f"One-time enrolment code for {name} (shown once, valid {days} days): {code}",
        "At the first sign-in to the console they give it with their user name, then choose "
        "a password and scan the two-factor QR code.",
    ]


def cmd_add(ctx: Context, args: argparse.Namespace) -> int:
    password = _password(args.password_file) if args.password_file else None
    encrypt_totp_secrets(ctx)
    made = add_account(
        ctx.engine,
        args.username,
        args.role,
        ctx.actor,
        ctx.now(),
        full_name=args.name or "",
        email=args.email or "",
        password=password,
        school=ctx.cfg.settings.school.name,
        key=ctx.totp_key,
    )
    a = made.account
    if args.json:
        value: dict[str, Any] = {"username": a.username, "role": a.role.value}
        value["totp_uri"] = made.totp_uri
        if made.enrolment_code is not None:
            value["enrolment_code"] = made.enrolment_code
        print_json(value)
        return 0
    out.print(f"account {a.username} ({a.role.value}) added", markup=False)
    if made.enrolment_code is not None:
        for line in _enrolment_text(a.username, made.enrolment_code):
            out.print(line, markup=False)
        return 0
    import segno

    out.print("Scan this into an authenticator app (or enter the URI):", markup=False)
    segno.make(made.totp_uri or "", error="m").terminal(compact=True)
    out.print(made.totp_uri or "", markup=False, soft_wrap=True)
    out.print("Recovery codes, each usable once in place of a code (shown once):")
    for code in made.recovery_codes:
        out.print(f"  {code}", markup=False)
    return 0


def _account_json(a: Account) -> dict[str, Any]:
    return {
        "username": a.username,
        "role": a.role.value,
        "name": a.full_name,
        "email": a.email,
        "state": a.state,
        "disabled": a.disabled,
        "two_factor": a.two_factor,
        "created_at": a.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": a.updated_at.isoformat().replace("+00:00", "Z"),
    }


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    from rich.table import Table

    encrypt_totp_secrets(ctx)
    accounts = list_accounts(ctx.engine)
    if args.json:
        print_json([_account_json(a) for a in accounts])
        return 0
    table = Table("user name", "role", "name", "state", "two-factor", "since")
    for a in accounts:
        state = "disabled" if a.disabled else a.state
        since = a.created_at.date().isoformat()
        table.add_row(
            a.username, a.role.value, a.full_name, state, "yes" if a.two_factor else "no", since
        )
    out.print(table)
    return 0


def cmd_disable(ctx: Context, args: argparse.Namespace) -> int:
    encrypt_totp_secrets(ctx)
    enable = args.users_command == "enable"
    set_disabled(ctx.engine, args.username, ctx.actor, ctx.now(), disabled=not enable)
    done = "enabled" if enable else "disabled; its sessions have ended"
    out.print(f"account {args.username} {done}", markup=False)
    return 0


def cmd_set_role(ctx: Context, args: argparse.Namespace) -> int:
    encrypt_totp_secrets(ctx)
    code = set_role(ctx.engine, args.username, args.role, ctx.actor, ctx.now())
    out.print(f"account {args.username} is now {args.role}; its sessions have ended", markup=False)
    if code is not None:
        out.print(
            f"The role {args.role} needs two-factor sign-in, which the account has not set up."
        )
        for line in _enrolment_text(args.username, code):
            out.print(line, markup=False)
    return 0


def cmd_reset_2fa(ctx: Context, args: argparse.Namespace) -> int:
    encrypt_totp_secrets(ctx)
    code = reset_two_factor(ctx.engine, args.username, ctx.actor, ctx.now())
    out.print(f"account {args.username}: two-factor and recovery codes removed", markup=False)
    for line in _enrolment_text(args.username, code):
        out.print(line, markup=False)
    return 0


def register(commands: Commands) -> None:
    users = group(commands, "users", "the staff's accounts for the console and case work")
    s = users.add_parser("add", help="a new account (an enrolment code, or --password-file)")
    s.add_argument("username", help="the user name, e.g. the school login (j.smith)")
    roles = [r.value for r in Role]
    s.add_argument("--role", required=True, choices=roles, help="what the account may see and do")
    s.add_argument("--name", help="the person's full name")
    s.add_argument("--email", help="the person's address")
    s.add_argument(
        "--password-file",
        metavar="F",
        help="set the password (the file's first line) at once, rather than an enrolment code",
    )
    json_option(s, "the account and its TOTP URI")
    s.set_defaults(func=cmd_add)
    s = users.add_parser("list", help="every account, its role and state")
    json_option(s, "the accounts")
    s.set_defaults(func=cmd_list)
    for action, text in (
        ("disable", "the account can no longer sign in; its sessions end"),
        ("enable", "a disabled account may sign in again"),
    ):
        s = users.add_parser(action, help=text)
        s.add_argument("username", help="the account's user name")
        s.set_defaults(func=cmd_disable)
    s = users.add_parser("set-role", help="change an account's role (its sessions end)")
    s.add_argument("username", help="the account's user name")
    s.add_argument("role", choices=roles, help="the new role")
    s.set_defaults(func=cmd_set_role)
    s = users.add_parser("reset-2fa", help="for a lost phone: enrol again with a new code")
    s.add_argument("username", help="the account's user name")
    s.set_defaults(func=cmd_reset_2fa)


# --- case work as an account -------------------------------------------------------------


def add_as(parser: argparse.ArgumentParser) -> None:
    """``--as USERNAME [--totp CODE]`` on a case-work command."""
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="USERNAME",
        help="act as this account (its TOTP code is asked for): recorded under its name",
    )
    parser.add_argument("--totp", metavar="CODE", help="the account's TOTP or recovery code")


def case_actor(ctx: Context, args: argparse.Namespace) -> str:
    """Who a case-work command is recorded as: the account named with ``--as`` once its
    code is right and its role may act on the alert, else the operator's login."""
    engine = ctx.engine
    command = getattr(args, "alerts_command", "")
    if not args.as_user:
        if args.totp:
            raise UserError("--totp goes with --as USERNAME")
        if command == "review" and not args.reviewer:
            raise UserError(
                "alerts review needs --as USERNAME (the second reviewer's account), or "
                "--reviewer NAME"
            )
        return ctx.actor
    # What can be refused without the code first, so that no code is spent on it.
    named = getattr(args, "reviewer", None)
    if command == "review" and named and named.strip().lower() != args.as_user.strip().lower():
        raise UserError(
            "with --as, the second reviewer is the account itself: leave out --reviewer"
        )
    if command == "assign":
        _assignee(engine, args.user, args.id)
    account = signed_as(ctx, args.as_user, args.totp)
    if not may_act_on(engine, account, args.id):
        raise UserError(
            f"--as {account.username}: a {account.role.value} account may not act on "
            f"alert {args.id}"
        )
    if command == "review":
        args.reviewer = None  # the account signs as itself
    return account.username


def signed_as(ctx: Context, username: str, code: str | None) -> Account:
    """The account ``--as USERNAME`` names, once its TOTP (or recovery) code is right: asked
    for on the terminal unless given. The console's lock-out applies (address ``cli:LOGIN``)."""
    if code is None:
        code = getpass.getpass(f"TOTP code for {username}: ")
    address = f"cli:{ctx.actor}"
    result = confirm_code(ctx.engine, username, code, address, ctx.now(), key=ctx.totp_key)
    if result.outcome is Outcome.LOCKED:
        minutes = -(-result.retry_after // 60)
        raise UserError(
            f"--as {username}: locked after repeated failures; try again in {minutes} min"
        )
    if result.account is None:
        raise UserError(
            f"--as {username}: refused: no such account that can sign in, or the code "
            "is wrong (or was used already: wait for the next one)"
        )
    if result.recovery_codes_left is not None:
        out.print(f"recovery code used: {result.recovery_codes_left} left", markup=False)
    return result.account


def _assignee(engine: Any, user: str, alert_id: int) -> None:
    """With --as, an alert is assigned to an account that may act on it."""
    account = get_account(engine, user)
    if account is None or not account.active:
        raise UserError(f"assign: {user} is not an account that can sign in (monitord users list)")
    if not may_act_on(engine, account, alert_id):
        raise UserError(f"assign: a {account.role.value} account may not handle alert {alert_id}")
