"""Several alerts at once, for the technician: alerts about the network and the monitoring
itself (an unknown device, a source gone quiet) can be acknowledged or closed together.
An alert about what a person did is never handled in bulk: each is read and dealt with on
its own."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from monitord.casework.cases import CaseError
from monitord.core.categories import TECHNICAL
from monitord.store.database import mine, table_of
from monitord.store.tables import AlertRow


def technical_alerts(engine: Engine, ids: Sequence[int], category: str | None) -> list[int]:
    """The alerts to change together: the ``ids`` given, or every alert of ``category``
    not closed yet. Every one must exist, be open or acknowledged and be technical, or
    nothing is changed (CaseError naming each that is not)."""
    if category is not None and category not in TECHNICAL:
        raise CaseError(
            f"--category {category}: only alerts of {', '.join(sorted(TECHNICAL))} are "
            "handled several at a time; an alert about what a person did is dealt with on "
            "its own"
        )
    at = table_of(AlertRow)
    query = select(at.c.id, at.c.category, at.c.status).where(mine(engine, at.c.site_id))
    if category is not None:
        query = query.where(at.c.category == category, at.c.status != "closed")
    else:
        query = query.where(at.c.id.in_(list(ids)))
    with engine.connect() as conn:
        rows = {int(r.id): r for r in conn.execute(query.order_by(at.c.id))}
    if category is not None:
        return list(rows)
    problems = []
    for alert_id in dict.fromkeys(ids):
        row = rows.get(alert_id)
        if row is None:
            problems.append(f"no alert {alert_id}")
        elif row.category not in TECHNICAL:
            problems.append(
                f"alert {alert_id} ({row.category}) is about what a person did: deal with it "
                "on its own"
            )
        elif row.status == "closed":
            problems.append(f"alert {alert_id} is closed")
    if problems:
        raise CaseError("; ".join(problems) + " (nothing was changed)")
    return list(dict.fromkeys(ids))
