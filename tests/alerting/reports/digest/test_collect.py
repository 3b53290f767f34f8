"""Collecting a week: the alert counts, open and closed alerts against the store, and what
the group's copy leaves out."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from alerting.reports.digest.collect import collect
from alerting.reports.digest.model import Digest
from alerting.reports.digest.render import render
from alerting.reports.digest.week import Week
from monitord.classify.policy import Policy
from monitord.settings.config import Config
from monitord.store.database import table_of, utc
from monitord.store.tables import AlertRow
from tests.alerting.reports.digest.site import (
    WEEK,
    local_day,
    sql,
)
from tests.alerting.reports.digestweek import PEOPLE


def test_alert_counts_match_the_store(engine: Engine, digest: Digest) -> None:
    prev = WEEK.shift(-1)
    at = table_of(AlertRow)

    def counts(column: str, week: Week) -> Counter[str]:
        with engine.connect() as conn:
            rows = conn.execute(
                select(at.c[column], func.count())
                .where(at.c.first_seen >= week.start, at.c.first_seen < week.end)
                .group_by(at.c[column])
            ).all()
        return Counter({str(k): int(n) for k, n in rows})

    for compare, column in (
        (digest.by_category, "category"),
        (digest.by_severity, "severity"),
    ):
        this, last = counts(column, WEEK), counts(column, prev)
        assert {r.key: r.this for r in compare.rows if r.this} == dict(this)
        assert {r.key: r.last for r in compare.rows if r.last} == dict(last)
    roles = counts("role", WEEK)
    # The group's copy counts every adult together: one role can be one person.
    grouped: Counter[str] = Counter()
    for k, n in roles.items():
        grouped["unknown" if k == "None" else "pupil" if k == "pupil" else "adult"] += n
    assert {r.key: r.this for r in digest.by_role.rows if r.this} == dict(grouped)
    years = counts("year_group", WEEK)
    assert {r.key: r.this for r in digest.by_year.rows if r.this} == {
        ("no year group" if k == "None" else f"Year {k}"): n for k, n in years.items()
    }
    assert digest.alerts_this == 15
    assert digest.alerts_last == 9
    assert digest.by_severity.get("critical").this == 1
    assert digest.by_category.get("social_media").this == 3
    assert digest.by_category.get("gaming").last == 1
    # Alerts per day add up to the week's alerts, each on its local day.
    rows = sql(
        engine,
        "SELECT first_seen FROM alerts WHERE first_seen >= :a AND first_seen < :b",
        a=WEEK.start.replace(tzinfo=None),
        b=WEEK.end.replace(tzinfo=None),
    )
    by_day = Counter(local_day(r.first_seen) for r in rows)
    assert digest.per_day_totals == [by_day[d] for d in WEEK.days]
    # The trend ends with this week, and holds last week's total the week before.
    assert digest.trend_totals[-1] == 15
    assert digest.trend_totals[-2] == 9
    assert len(digest.trend_labels) == 12


def test_open_and_closed_alerts_match_the_store(
    engine: Engine, digest: Digest, generated: Any
) -> None:
    open_ids = {
        int(r.id)
        for r in sql(
            engine,
            "SELECT id FROM alerts WHERE status != 'closed' AND created_at < :end",
            end=WEEK.end.replace(tzinfo=None),
        )
    }
    assert {a.id for a in digest.open_alerts} == open_ids
    assert len(open_ids) == 9
    # Ages are counted to when the digest was made.
    oldest = max(digest.open_alerts, key=lambda a: a.age)
    created = sql(engine, "SELECT created_at FROM alerts WHERE id = :i", i=oldest.id)[0]
    assert oldest.age == generated.now - utc(datetime.fromisoformat(str(created.created_at)))
    assert sum(n for _, n in digest.open_ages) == len(open_ids)

    closes = sql(
        engine,
        "SELECT subject, detail FROM audit WHERE action = 'alert.close' AND ts >= :a AND ts < :b",
        a=WEEK.start.replace(tzinfo=None),
        b=WEEK.end.replace(tzinfo=None),
    )
    assert [c.id for c in digest.closed] == [int(c.subject.split(":")[1]) for c in closes]
    outcomes = Counter(json.loads(c.detail)["outcome"] for c in closes)
    assert dict(digest.outcomes) == {
        "No concern": outcomes["no_concern"],
        "Internal action": outcomes["internal_action"],
        "Referred to the police": outcomes["referred_police"],
    }
    assert digest.reviews == 1


def test_the_groups_copy_names_no_one(
    engine: Engine, cfg: Config, policy: Policy, generated: Any
) -> None:
    group = render(collect(engine, cfg, policy, WEEK, generated.now))
    named = render(collect(engine, cfg, policy, WEEK, generated.now, named=True))
    group_html = group.html({"per_day": "a.png", "heat": "b.png", "trend": "c.png"})
    named_html = named.html({"per_day": "a.png", "heat": "b.png", "trend": "c.png"})
    secrets = [name for _, name, role, _ in PEOPLE if role == "pupil"]
    secrets += [u for u, _, role, _ in PEOPLE if role == "pupil"]
    secrets += ["Jaydens-iPhone", "i want to die", "nobody likes you", "safety plan"]
    for part in (group.text, group_html):
        for secret in secrets:
            assert secret not in part, secret
    assert re.search(r"person \d+, Year 5", group.text)  # a pseudonym and the year group
    assert "I.J." not in group.text
    for part in (named.text, named_html):
        for secret in ("Isla Jones (isla.j)", "Jaydens-iPhone", "i want to die"):
            assert secret in part
    assert "Named copy for the DSL" in named_html


def test_the_groups_copy_shows_no_query_initials_or_role_of_one(
    engine: Engine, cfg: Config, policy: Policy, generated: Any
) -> None:
    # The headteacher searched for a pupil by name: the group must learn neither who searched
    # ("H.G., headteacher" is one person) nor whom, which sits in the URL's query.
    at = table_of(AlertRow)
    with engine.begin() as conn:
        conn.execute(
            at.update()
            .where(at.c.id == generated.alert_ids[4])
            .values(
                person="mrs.green",
                role="headteacher",
                year_group=None,
                indicator="https://www.google.com/search?q=oscar+davies+home+adr#top",
            )
        )
    group = render(collect(engine, cfg, policy, WEEK, generated.now))
    group_html = group.html({"per_day": "a.png", "heat": "b.png", "trend": "c.png"})
    for part in (group.text, group_html):
        for secret in ("oscar", "davies", "+adr", "h.g.", "headteacher", "helen"):
            assert secret not in part.lower(), secret
    assert "www[.]google[.]com" in group.text
    assert "no year group" in group.text
    named = render(collect(engine, cfg, policy, WEEK, generated.now, named=True))
    assert "headteacher" in named.text
    assert "oscar+davies" in named.text


def test_a_backfilled_alert_counts_in_the_week_it_happened(
    engine: Engine, cfg: Config, policy: Policy, generated: Any
) -> None:
    """An alert recorded this week from last month's logs (``ingest --backfill``) counts in
    the week of its events, not the week it was read."""
    happened = WEEK.start - timedelta(weeks=3) + timedelta(days=2, hours=10)
    with engine.begin() as conn:
        conn.execute(
            table_of(AlertRow)
            .insert()
            .values(
                site_id="default",
                group_key="default|ip:10.0.1.99|gambling",
                created_at=WEEK.start + timedelta(days=1),
                updated_at=WEEK.start + timedelta(days=1),
                severity="medium",
                category="gambling",
                status="open",
                indicator="bet365.com",
                first_seen=happened,
                last_seen=happened,
                count=1,
                blocked=False,
                sources='["dnsmasq"]',
                recipients="[]",
                rule="severity.gambling.pupil",
            )
        )
    this = collect(engine, cfg, policy, WEEK, generated.now)
    then = collect(engine, cfg, policy, WEEK.shift(-3), generated.now)
    assert (this.alerts_this, this.alerts_last) == (15, 9)  # as before the backfill
    assert then.by_category.get("gambling").this == 1
    assert then.per_day_totals[2] >= 1  # on its Wednesday
    assert this.trend_totals[-4] == then.alerts_this
