"""An explanation written for a person: every match with its list, version and entry, the
totals, what allow lists left, each policy decision with whom it goes to, the school filter's
own verdict, and a text's judgement in sentences."""

from __future__ import annotations

from typing import Any

from monitord.classify.sentences import render


def domain_result(**changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "item": "https://www.bet365.com/x",
        "kind": "url",
        "host": "www.bet365.com",
        "path": "/x",
        "matches": [
            {
                "list": "ut1/gambling",
                "version": "2026-11-01",
                "sha256": "ab" * 32,
                "imported_at": "2026-11-02T07:00:00.123456+00:00",
                "allow": False,
                "category": "gambling",
                "entry": "bet365.com",
                "score": 100,
            }
        ],
        "totals": {"gambling": {"matches": 1, "score": 100}},
        "allowed_by": [],
        "categories": ["gambling"],
        "person": {"username": "jayden.s", "role": "pupil"},
        "at": "2026-11-19T09:30:00+00:00",
        "decisions": [
            {
                "category": "gambling",
                "severity": "medium",
                "rule": "severity.gambling.pupil",
                "recipients": ["dsl"],
                "addresses": {"dsl": ["dsl@school.example"]},
            }
        ],
        "filter": {
            "format": "fortigate",
            "at": "2026-11-19T10:02:00+00:00",
            "category": "Gambling",
            "action": "blocked",
            "blocked": True,
        },
        "severity": "medium",
    }
    result.update(changes)
    return result


def test_a_listed_url_reads_as_sentences() -> None:
    lines = render(domain_result())
    assert lines[0].startswith("https://www.bet365.com/x")
    assert "  host www.bet365.com, path /x" in lines
    (match,) = [line for line in lines if line.startswith("  match:")]
    assert "list ut1/gambling (version 2026-11-01, sha256 abab" in match
    assert "imported 2026-11-02T07:00:00)" in match
    assert "entry bet365.com" in match
    assert "  total: gambling: 1 match(es), score 100" in lines
    policy = next(line for line in lines if line.startswith("  policy:"))
    assert "gambling for jayden.s (pupil) at 2026-11-19T09:30: medium" in policy
    assert "to dsl (dsl@school.example)" in policy
    assert "  the school's filter (fortigate, 2026-11-19T10:02): Gambling, blocked" in lines
    assert lines[-1] == "  result: medium"


def test_a_clean_name_says_it_is_not_listed() -> None:
    lines = render(
        domain_result(
            matches=[], totals={}, categories=[], decisions=[], filter=None, severity="none"
        )
    )
    assert "  not listed: no domain entry, URL entry or expression matches" in lines
    assert not any(line.startswith("  policy:") for line in lines)
    assert lines[-1] == "  result: none"


def test_an_allow_list_says_what_it_left() -> None:
    allowed = dict(domain_result()["matches"][0], allow=True, list="school/allow", version=None)
    lines = render(domain_result(matches=[allowed], allowed_by=["school/allow"], categories=[]))
    assert any("match: allows  list school/allow (shipped with monitord" in x for x in lines)
    assert "  after allow lists: nothing" in lines
