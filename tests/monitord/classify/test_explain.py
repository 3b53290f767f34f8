from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitord.classify.engine import Classifier
from monitord.classify.explain import (
    _HOST,
    _HOSTS,
    _HOSTS_NO_USER,
    _SCHEME,
    Explainer,
    _without_schemes,
    parse_item,
)
from monitord.classify.lists import STARTER_LISTS, load_index, read_ut1, store_list
from monitord.classify.sentences import render
from monitord.classify.storefacts import person_on_roster
from monitord.identity.roster import import_people
from monitord.service.app import App
from tests.conftest import UT1

# A Monday at 11:00 in London: school time, not a break.
MONDAY = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


@pytest.fixture
def loaded(app: App) -> App:
    """A monitord with the whole UT1 copy imported."""
    contents, _ = read_ut1(UT1, "ut1")
    for c in contents:
        store_list(app.engine, app.cfg.lists_dir, c, "tester", app.clock.now())
    return app


def explainer(app: App, username: str | None = None, at: datetime = MONDAY) -> Explainer:
    classifier = Classifier(load_index(app.engine, STARTER_LISTS))
    person = person_on_roster(app.engine, username) if username else None
    return Explainer(classifier, app.policy, person, at, app.cfg.settings.recipients)


def first(folder: str, kind: str = "domains") -> str:
    return (UT1 / folder / kind).read_text(encoding="utf-8").split()[0]


@pytest.mark.parametrize(
    ("thing", "kind", "host", "path"),
    [
        ("Example.COM.", "domain", "example.com", None),
        ("example.com:443", "domain", "example.com", None),
        ("https://user@WWW.Example.com:8443/A/b?c=D", "url", "www.example.com", "/A/b?c=D"),
        ("example.com/a/b", "url", "example.com", "/a/b"),
        ("http://[2001:db8::1]/x", "url", "2001:db8::1", "/x"),
        ("http://bücher.de/", "url", "xn--bcher-kva.de", "/"),
        ("how to buy weed", "text", None, None),
        ("", "text", None, None),
    ],
)
def test_parse_item(thing: str, kind: str, host: str | None, path: str | None) -> None:
    item = parse_item(thing)
    assert (item.kind, item.host, item.path) == (kind, host, path)


def test_explains_matches_versions_totals_and_policy(loaded: App) -> None:
    name = first("gambling")
    result = explainer(loaded).explain(f"https://www.{name}/poker?x=1")
    assert result["categories"] == ["gambling"]
    [m] = result["matches"]
    assert (m["category"], m["list"], m["entry"], m["score"]) == (
        "gambling",
        "ut1/gambling",
        name,
        0,
    )
    assert isinstance(m["version"], int)
    assert len(m["sha256"]) == 12
    assert m["imported_at"]
    assert result["totals"] == {"gambling": {"matches": 1, "score": 0}}
    [d] = result["decisions"]
    decided = loaded.policy.decide("gambling", None, None, MONDAY)
    assert d["severity"] == decided.severity.value == result["severity"]
    assert d["rule"] == decided.rule
    assert d["recipients"] == list(decided.recipients)
    assert d["addresses"] == {
        r: getattr(loaded.cfg.settings.recipients, r) for r in decided.recipients
    }
    assert result["person"] is None
    assert "text" not in result  # text classification is not wired in yet
    lines = render(result)
    assert any("entry " + name in line and "ut1/gambling" in line for line in lines)
    assert lines[-1] == f"  result: {result['severity']}"


def test_allow_lists_and_clean_items_are_explained(loaded: App) -> None:
    ex = explainer(loaded)
    teams = ex.explain("teams.microsoft.com")
    assert teams["categories"] == []
    assert {m["list"] for m in teams["allowed_by"]} == {"starter/safe"}
    assert any(m["category"] == "messaging" for m in teams["matches"])
    assert teams["severity"] == "none"
    clean = ex.explain("clean-school-site.example")
    assert (clean["matches"], clean["decisions"]) == ([], [])
    assert "not listed" in render(clean)[-2]
    text = ex.explain("how to buy weed")
    assert text["kind"] == "text"
    assert "text classification" in render(text)[-1]


def test_the_person_and_time_change_the_decision(loaded: App, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,display_name,role,year_group,class,email\n"
        "jayden.s,Jayden Smith,pupil,6,6B,\nhelen.p,Helen Price,staff,,,\n",
        encoding="utf-8",
    )
    import_people(loaded.engine, roster, "tester", loaded.clock.now())
    name = first("social_networks")
    pupil = explainer(loaded, "jayden.s").explain(name)
    staff = explainer(loaded, "helen.p").explain(name)
    lunch = explainer(loaded, "helen.p", MONDAY.replace(hour=12, minute=30)).explain(name)
    assert pupil["person"] == {"username": "jayden.s", "role": "pupil", "year_group": "6"}
    for result, who, at in (
        (pupil, "jayden.s", MONDAY),
        (staff, "helen.p", MONDAY),
        (lunch, "helen.p", MONDAY.replace(hour=12, minute=30)),
    ):
        person = person_on_roster(loaded.engine, who)
        decided = loaded.policy.decide("social_media", person, None, at)
        assert result["decisions"][0]["rule"] == decided.rule
        assert result["decisions"][0]["severity"] == decided.severity.value
    assert pupil["decisions"][0]["rule"] != staff["decisions"][0]["rule"]
    assert person_on_roster(loaded.engine, "nobody") is None


def batch_lines(ex: Explainer, lines: list[str], end: str = "\n") -> list[dict[str, object]]:
    out = io.StringIO()
    data = (end.join(lines) + end).encode("utf-8")
    n, _ = ex.stream(io.BytesIO(data), out)
    assert n == len(lines)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_batch_agrees_with_one_item_at_a_time(loaded: App) -> None:
    rng = random.Random(7)
    lines: list[str] = []
    pools = {
        folder: (UT1 / folder / "domains").read_text(encoding="utf-8").split()
        for folder in ("gambling", "games", "vpn", "liste_blanche", "social_networks")
    }
    adult_urls = (UT1 / "adult" / "urls").read_text(encoding="utf-8").split()
    for _ in range(3000):
        r = rng.random()
        pool = pools[rng.choice(list(pools))]
        if r < 0.25:
            lines.append(rng.choice(["", "www.", "a.b."]) + rng.choice(pool))
        elif r < 0.45:
            lines.append(f"{rng.choice(['http', 'https'])}://www.{rng.choice(pool)}/p?q=1")
        elif r < 0.55:
            lines.append("http://" + rng.choice(adult_urls) + rng.choice(["", "/x", "?a=1"]))
        elif r < 0.6:
            lines.append(rng.choice(["http://1.2.3.4/search?q=12", "10.0.0.1", "bad" + pool[0]]))
        else:
            word = "".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randrange(3, 12)))
            lines.append(f"https://{word}.example/{word}")
    lines += ['say "hi"', "back\\slash.example", "tab\there", "ÉCOLE.fr", "", "   "]
    ex = explainer(loaded)
    got = batch_lines(ex, lines)
    assert len(got) == len(lines)
    matched = 0
    for line, result in zip(lines, got, strict=True):
        single = ex.explain(line)
        assert result["item"] == line
        assert result["kind"] == single["kind"]
        assert result["categories"] == single["categories"], line
        assert result["matches"] == single["matches"], line
        matched += bool(result["matches"])
    assert matched > 1000


def test_batch_input_edges(loaded: App) -> None:
    ex = explainer(loaded)
    name = first("gambling")
    crlf = batch_lines(ex, [name, "clean.example"], end="\r\n")
    assert [r["item"] for r in crlf] == [name, "clean.example"]
    assert crlf[0]["categories"] == ["gambling"]
    out = io.StringIO()
    ex.stream(io.BytesIO(f"clean.example\n{name}".encode()), out)  # no final newline
    assert [json.loads(x)["categories"] for x in out.getvalue().splitlines()] == [[], ["gambling"]]
    out = io.StringIO()
    ex.stream(io.BytesIO(b"\xff\xfe.example\n"), out)  # not UTF-8: replaced, still JSON
    assert json.loads(out.getvalue())["item"] == "\ufffd\ufffd.example"
    assert ex.stream(io.BytesIO(b""), io.StringIO()) == (0, 0)


@pytest.mark.parametrize(
    "text",
    [
        "http://a/b\nhttps://c?d=http://e\nftp://x\nplain.com\n  http://sp",
        "a.com/x?u=https://b\nhttp://c",
        "",
        "https://only",
        "x.com\nhttp://y.com/z?q=ftp://w\nws://sock.example/",
    ],
)
def test_schemes_come_off_every_line(text: str) -> None:
    assert _without_schemes(text) == _SCHEME.sub("", text)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", ".", "/", "?", "#", ":", "@", " ", "\t", "[", "]", "\r", "\x85",
                         "\u2028", "http://", "x1", "-", "://", "\n", "\n"]),
        max_size=40,
    ).map("".join)
)  # fmt: skip
def test_a_blocks_hosts_are_each_lines_host(text: str) -> None:
    """The block patterns find, line by line, the host the one-line pattern finds; the one
    without a user part only where no line has an "@"."""
    hosts = _HOST.findall(text)
    assert _HOSTS.findall(text) == hosts
    if "@" not in text:
        assert _HOSTS_NO_USER.findall(text) == hosts


def test_text_items_go_to_the_text_classifier_when_there_is_one(loaded: App) -> None:
    def words(item: str) -> dict[str, object]:
        return {"words": len(item.split())}

    classifier = Classifier(load_index(loaded.engine, STARTER_LISTS))
    ex = Explainer(classifier, loaded.policy, None, MONDAY, text=words)
    result = ex.explain("how to buy weed")
    assert result["text"] == {"words": 4}
    assert render(result)[-1] == '  text: {"words": 4}'
    got = batch_lines(ex, ["how to buy weed", first("gambling"), "   "])
    assert [g.get("text") for g in got] == [{"words": 4}, None, {"words": 0}]
    assert got[1]["categories"] == ["gambling"]
