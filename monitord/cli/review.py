"""``review``: the school's annual review of its filtering and monitoring (the DfE standard),
as the console's review page records it: ``review add`` as a named account (``--as``, with
its code), ``review list`` for every review recorded and when the next is due."""

from __future__ import annotations

import argparse
from typing import Any

from monitord.casework.reviews import (
    CHECKS,
    NewReview,
    Review,
    ReviewError,
    check_review,
    list_reviews,
    next_due,
    parse_day,
    record_review,
)
from monitord.cli.context import Commands, Context, UserError, group, json_option
from monitord.cli.output import out, print_json
from monitord.cli.users import signed_as


def cmd_add(ctx: Context, args: argparse.Namespace) -> int:
    if not args.as_user:
        raise UserError("review add needs --as USERNAME: a review is recorded by a named account")
    now = ctx.now()
    try:
        given = NewReview(
            parse_day(args.date, "--date"),
            tuple(args.reviewer),
            tuple(args.checked or ()),
            args.notes or "",
            args.changed,
            parse_day(args.next, "--next"),
        )
        check_review(given, now.astimezone(ctx.cfg.tz).date())
    except ReviewError as exc:
        raise UserError(f"review add: {exc}") from None
    account = signed_as(ctx, args.as_user, args.totp)
    try:
        review_id = record_review(
            ctx.engine, given, account, now, now.astimezone(ctx.cfg.tz).date()
        )
    except ReviewError as exc:
        raise UserError(f"review add: {exc}") from None
    if args.json:
        print_json({"id": review_id})
    else:
        out.print(
            f"review {review_id} recorded by {account.username}; next by {given.next_review}",
            markup=False,
        )
    return 0


def _json(r: Review) -> dict[str, Any]:
    return {
        "id": r.id,
        "reviewed_on": r.reviewed_on.isoformat(),
        "reviewers": [
            {"username": p.username, "name": p.name, "role": p.role} for p in r.reviewers
        ],
        "checked": list(r.checked),
        "notes": r.notes,
        "changed": r.changed,
        "next_review": r.next_review.isoformat(),
        "recorded_by": r.recorded_by,
        "recorded_at": r.recorded_at.isoformat().replace("+00:00", "Z"),
    }


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    reviews = list_reviews(ctx.engine)
    if args.json:
        print_json([_json(r) for r in reviews])
        return 0
    due = next_due(reviews)
    today = ctx.now().astimezone(ctx.cfg.tz).date()
    if due is None:
        out.print("No review recorded yet: the DfE standard asks for one at least every year.")
    else:
        late = " (overdue)" if due < today else ""
        out.print(f"Next review due by {due.isoformat()}{late}.", markup=False)
    for r in reviews:
        names = ", ".join(f"{p.name or p.username} ({p.role})" for p in r.reviewers)
        out.print(f"\n#{r.id} {r.reviewed_on.isoformat()}, by {names}", markup=False)
        out.print(
            f"  checked: {', '.join(r.checked) or '-'}{'; ' + r.notes if r.notes else ''}",
            markup=False,
            soft_wrap=True,
        )
        out.print(f"  changed: {r.changed}", markup=False, soft_wrap=True)
        out.print(
            f"  next by {r.next_review.isoformat()}; recorded by {r.recorded_by}", markup=False
        )
    return 0


def register(commands: Commands) -> None:
    review = group(commands, "review", "the annual filtering and monitoring review (DfE standard)")
    s = review.add_parser("add", help="record a review, as a named account")
    s.add_argument("--as", dest="as_user", metavar="USERNAME", help="the account recording it")
    s.add_argument("--totp", metavar="CODE", help="the account's TOTP or recovery code")
    s.add_argument("--date", required=True, help="the day of the review, YYYY-MM-DD")
    s.add_argument(
        "--reviewer",
        action="append",
        required=True,
        metavar="USERNAME",
        help="a reviewer's account (at least two: --reviewer A --reviewer B)",
    )
    s.add_argument(
        "--checked",
        action="append",
        choices=list(CHECKS),
        metavar="POINT",
        help=f"a point of the standard checked (repeat): {', '.join(CHECKS)}",
    )
    s.add_argument("--notes", help="what else was checked, in words")
    s.add_argument("--changed", required=True, help='what was changed (or "nothing", and why)')
    s.add_argument("--next", required=True, help="the next review's day, within a year")
    json_option(s, "the review's id")
    s.set_defaults(func=cmd_add)
    s = review.add_parser("list", help="every review recorded, and when the next is due")
    json_option(s, "the reviews")
    s.set_defaults(func=cmd_list)
