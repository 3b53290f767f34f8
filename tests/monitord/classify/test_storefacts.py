"""What the store says about a thing explained: the school filter's own verdict on a host from
its logged lines, and the roster's entry for a user name."""

from __future__ import annotations

from pathlib import Path

from monitord.classify.storefacts import person_on_roster, school_filter
from monitord.identity.roster import import_people
from monitord.service.app import App, ingest_files


def test_the_school_filters_own_category_is_shown_beside_monitords(
    app: App, tmp_path: Path
) -> None:
    """classify says what the school's filter last called a host, from its logged events."""
    assert school_filter(app.engine, "www.bet365.com") is None
    log = tmp_path / "fortigate.log"
    log.write_text(
        "".join(
            f'date=2026-11-19 time=10:0{m}:00 logid="0316013056" type="utm" subtype="webfilter" '
            f'srcip=10.20.6.9 service="HTTPS" hostname="www.bet365.com" action="{a}" url="/" '
            f'catdesc="{c}"\n'
            for m, a, c in ((1, "passthrough", "Sports"), (2, "blocked", "Gambling"))
        ),
        encoding="utf-8",
    )
    ingest_files(app, [log], "fortigate", "firewall")
    seen = school_filter(app.engine, "www.bet365.com")
    assert seen == {
        "format": "fortigate",
        "category": "Gambling",
        "action": "blocked",
        "blocked": True,
        "at": "2026-11-19T10:02:00+00:00",
    }
    assert school_filter(app.engine, "bet365.com") is None  # the host it was logged for only


def test_a_user_name_is_found_on_the_roster_of_its_school(app: App, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,display_name,role,year_group,class,email\njayden.s,Jayden Smith,pupil,6,6B,\n",
        encoding="utf-8",
    )
    import_people(app.engine, roster, "technician", app.clock.now())
    person = person_on_roster(app.engine, "jayden.s")
    assert person is not None
    assert (person.display_name, person.role, person.year_group) == ("Jayden Smith", "pupil", "6")
    assert person_on_roster(app.engine, "nobody") is None
    assert person_on_roster(app.engine, "jayden.s", site="another-school") is None
