"""What to look at first: the few lines at the top of a digest, most pressing first."""

from __future__ import annotations

from alerting.reports.digest.model import CONCERN, LEVELS, Attention, Digest


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def what_to_look_at(d: Digest) -> list[Attention]:
    """The few things the group should look at first, most pressing first."""
    out: list[Attention] = []
    crit = d.by_severity.get("critical").this
    if crit:
        out.append(
            Attention(
                "urgent",
                f"{crit} critical alert{'s' if crit != 1 else ''} this week (illegal content "
                "or a child at risk): check that each has been referred and reviewed.",
                "open",
            )
        )
    stale = [a for a in d.open_alerts if a.stale]
    if stale:
        ids = ", ".join(f"#{a.id}" for a in stale[:8]) + (" and more" if len(stale) > 8 else "")
        worst = max(stale, key=lambda a: a.age)
        out.append(
            Attention(
                "urgent" if any(a.severity in ("critical", "high") for a in stale) else "check",
                f"{len(stale)} open alert{'s' if len(stale) != 1 else ''} past the time to act "
                f"({ids}); the oldest, #{worst.id} ({worst.severity} {worst.category}), has "
                f"been open {worst.age_text}.",
                "open",
            )
        )
    for row in d.by_category.rows:
        if row.key in CONCERN and row.this > row.last:
            out.append(
                Attention(
                    "urgent" if row.key in ("child_abuse", "terrorist_content") else "check",
                    f"{row.label}: {row.this} alert{'s' if row.this != 1 else ''} this week "
                    f"against {row.last} last week.",
                    "compare",
                )
            )
    for row in d.by_category.rows:
        if row.key not in CONCERN and row.this >= 3 and row.this >= 2 * max(row.last, 1):
            out.append(
                Attention(
                    "check",
                    f"{row.label} alerts rose to {row.this} from {row.last} last week.",
                    "compare",
                )
            )
    for s in d.sources:
        if s.gaps:
            out.append(
                Attention(
                    "check",
                    f"Source {s.name} went quiet {_times(len(s.gaps))} this week: nothing it "
                    "should have seen was checked then.",
                    "sources",
                )
            )
        elif s.quiet_days:
            out.append(
                Attention(
                    "check",
                    f"Source {s.name} recorded nothing on {', '.join(s.quiet_days)} (school days).",
                    "sources",
                )
            )
        if s.rejected:
            out.append(
                Attention(
                    "note",
                    f"Source {s.name}: {s.rejected:,} line{'s' if s.rejected != 1 else ''} "
                    "could not be read (has the log format changed?).",
                    "sources",
                )
            )
    if d.devices:
        n = len(d.devices)
        out.append(
            Attention(
                "check",
                f"{n} unauthorised device{'s' if n != 1 else ''} joined the network "
                f"({sum(x.leases for x in d.devices)} lease{'s' if n != 1 else ''}).",
                "devices",
            )
        )
    if d.changes:
        out.append(
            Attention(
                "note",
                f"{len(d.changes)} list or policy change{'s' if len(d.changes) != 1 else ''}: "
                "check that each was expected.",
                "changes",
            )
        )
    if not out:
        out.append(Attention("note", "Nothing stands out this week.", "compare"))
    out.sort(key=lambda a: LEVELS.index(a.level))
    return out
