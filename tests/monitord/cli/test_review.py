"""``monitord review add|list`` as an operator runs them: recorded as the account named with
``--as`` once its code is right, every bad field one clear line, the list in words and JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from monitord.settings.config import Config
from tests.monitord.cli.test_users import add, audit, code, run


def test_a_review_is_recorded_as_the_account_and_listed(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    tech = add(config, capsys, "tech", "technician")
    add(config, capsys, "helen.h", "headteacher")
    assert run(config, "review", "list") == 0
    assert "No review recorded yet" in capsys.readouterr().out
    today = datetime.now(config.tz).date()
    nxt = today + timedelta(days=300)
    args = ["review", "add", "--date", today.isoformat(), "--reviewer", "tech", "--reviewer",
            "helen.h", "--checked", "tested", "--checked", "coverage", "--changed",
            "Guest Wi-Fi now filtered", "--next", nxt.isoformat()]  # fmt: skip
    assert run(config, *args, "--as", "tech", "--totp", code(tech), "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"id": 1}
    assert ("tech", "review.add", "review:1") in audit(config, "review.")
    assert run(config, "review", "list") == 0
    text = capsys.readouterr().out
    assert f"Next review due by {nxt.isoformat()}." in text
    assert f"#1 {today.isoformat()}, by tech (technician), helen.h (headteacher)" in text
    assert "changed: Guest Wi-Fi now filtered" in text
    assert run(config, "review", "list", "--json") == 0
    [r] = json.loads(capsys.readouterr().out)
    assert (r["checked"], r["recorded_by"]) == (["coverage", "tested"], "tech")


def test_mistakes_are_one_line_each(config: Config, capsys: pytest.CaptureFixture[str]) -> None:
    tech = add(config, capsys, "tech", "technician")
    gov = add(config, capsys, "gov", "governor")
    today = datetime.now(config.tz).date()
    later = (today + timedelta(days=30)).isoformat()
    base = ["review", "add", "--date", today.isoformat(), "--reviewer", "tech", "--reviewer",
            "gov", "--checked", "roles", "--changed", "nothing", "--next", later]  # fmt: skip
    cases = [
        (base, "review add needs --as USERNAME"),
        ([*base, "--as", "tech", "--totp", "000000"], "--as tech: refused"),
        ([*base[:-1], "2099-01-01", "--as", "tech"], "next review: a day after the review"),
        ([*base[:3], "soon", *base[4:], "--as", "tech"], "--date: expected a date as"),
        ([*base, "--as", "gov", "--totp", code(gov)], "a governor account may not record"),
        ([*base[:6], *base[8:], "--as", "tech", "--totp", code(tech)], "reviewers: name at least"),
    ]
    for argv, why in cases:
        assert run(config, *argv) == 1
        err = capsys.readouterr().err
        assert why in err, err
        assert "Traceback" not in err
    assert audit(config, "review.") == []
