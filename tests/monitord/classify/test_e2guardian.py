"""Reading e2guardian phrase lists: the format, the real ukenglish lists, includes, storage."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from monitord.classify.e2guardian import (
    BANNED,
    E2GUARDIAN_MAP,
    EDUCATION,
    FORMAT,
    RISK,
    SUPPORT,
    PhraseList,
    PhraseListError,
    PhraseRule,
    category_for,
    dump_phrase_list,
    import_e2guardian,
    load_phrase_lists,
    parse_phrases,
    parse_rule,
    read_e2guardian,
    read_phrase_file,
    resolve_include,
    rule_key,
    rules_of,
)
from monitord.classify.lists import ListError, load_index
from monitord.store.database import open_store, table_of
from monitord.store.tables import AuditRow, ListVersionRow
from tests.conftest import SHARED

E2G = SHARED / "data" / "e2guardian-phraselists"
UKENGLISH = E2G / "ukenglish"
NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


# The format, line by line.


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("<slut><10>", PhraseRule(("slut",), 10)),
        ("< slut ><10>", PhraseRule((" slut ",), 10)),
        ("<slut>,<horny><50>", PhraseRule(("slut", "horny"), 50)),
        ("<breast>,<medical><-30>", PhraseRule(("breast", "medical"), -30)),
        ("< slut ><10%>", PhraseRule((" slut ",), 10, percent=True)),
        ("< raping >, <molesting ><25>", PhraseRule((" raping ", "molesting "), 25)),
        (
            "<pearl necklace>,< cum ><70> #JMH overblocking",
            PhraseRule(("pearl necklace", " cum "), 70),
        ),
        ("< a >,< b >,< c ><5>", PhraseRule((" a ", " b ", " c "), 5)),
    ],
)
def test_weighted_rules(line: str, rule: PhraseRule) -> None:
    assert parse_rule(line) == rule


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("< self harm ><25", "no closing '>'"),
        ("<lesbian ezine<20>", "'<' inside"),
        ("< keygens ><25i>", "not a whole number"),
        ("< arse bandit>", "has no weight"),
        ("<a>,<b>", "has no weight"),
        ("<a><10> trailing", "unexpected text"),
        ("word<10>", "expected '<'"),
        ("<%><5>", "no letters or digits"),
        ("<><5>", "empty phrase"),
        ("<a><999999999>", "out of range"),
    ],
)
def test_unreadable_rules_say_why(line: str, why: str) -> None:
    result = parse_rule(line)
    assert isinstance(result, str)
    assert why in result


def test_banned_rules_have_no_weight() -> None:
    assert parse_rule("< video poker >", "banned") == PhraseRule((" video poker ",), 0, kind=BANNED)
    assert parse_rule("<family filter is off>,<altavista>,<search>", "banned") == PhraseRule(
        ("family filter is off", "altavista", "search"), 0, kind=BANNED
    )
    assert parse_rule("<2257>", "banned") == PhraseRule(("2257",), 0, kind=BANNED)


def test_a_file_with_directives_includes_and_bad_lines() -> None:
    text = "\n".join(
        [
            '#listcategory: "Self harm"',
            "# a comment",
            ".Include<@E2CONFDIR@/lists/phraselists/ukenglish/goodphrases/weighted>",
            "< self harm><120>",
            "#kind: support",
            "< childline ><-40>",
            "#kind: education",
            "< lesson><-40>",
            "#kind: risk",
            "< broken ><1",
            "#kind: nonsense",
            ".Something else",
            "#type: banned",
            "< always >",
        ]
    )
    parsed = parse_phrases(text)
    assert parsed.listcategory == "Self harm"
    assert parsed.includes == ((3, "@E2CONFDIR@/lists/phraselists/ukenglish/goodphrases/weighted"),)
    assert [(r.phrases, r.weight, r.kind, r.line) for r in parsed.rules] == [
        ((" self harm",), 120, RISK, 4),
        ((" childline ",), -40, SUPPORT, 6),
        ((" lesson",), -40, EDUCATION, 8),
        ((" always ",), 0, BANNED, 14),
    ]
    assert len(parsed.rejected) == 3
    assert parsed.rejected[0].startswith("line 10: ")
    assert parsed.rejected[1].startswith("line 11: unknown directive")
    assert parsed.rejected[2].startswith("line 12: not an .Include")


@settings(max_examples=500)
@given(st.text())
def test_no_text_raises(text: str) -> None:
    parsed = parse_phrases(text)
    assert all(r.phrases for r in parsed.rules)


@settings(max_examples=300)
@given(st.text(alphabet="<>, -%#0123456789abc\n"))
def test_no_bracket_soup_raises(text: str) -> None:
    parse_phrases(text)
    parse_phrases(text, "banned")


_PHRASE = st.text(alphabet="abcdefgh xyz019_.", min_size=1, max_size=20).filter(
    lambda p: any(c.isalnum() for c in p)
)
_RULE = st.one_of(
    st.builds(
        PhraseRule,
        st.lists(_PHRASE, min_size=1, max_size=3).map(tuple),
        st.integers(-1000, 1000),
        st.booleans(),
        st.sampled_from([RISK, SUPPORT, EDUCATION]),
    ),
    st.builds(
        PhraseRule,
        st.lists(_PHRASE, min_size=1, max_size=3).map(tuple),
        st.just(0),
        st.just(False),
        st.just(BANNED),
    ),
)


@settings(max_examples=200)
@given(st.lists(_RULE, max_size=12, unique_by=rule_key))
def test_dump_reads_back_as_the_same_rules(rules: list[PhraseRule]) -> None:
    plist = PhraseList("t/x", "violence", tuple(rules), "src", "X", "0" * 64)
    parsed = parse_phrases(dump_phrase_list(plist))
    assert parsed.rejected == ()
    assert [(r.phrases, r.weight, r.percent, r.kind) for r in parsed.rules] == [
        (r.phrases, r.weight, r.percent, r.kind) for r in rules
    ]


# The real e2guardian ukenglish lists (GPL-2, read in place as test data, never copied).


def test_ukenglish_tree_maps_every_list_of_the_taxonomy() -> None:
    lists, skipped = read_e2guardian(UKENGLISH, "e2guardian")
    by_name = {p.name: p for p in lists}
    expected = {
        "pornography/weighted": "pornography",
        "pornography/banned": "pornography",
        "adult/weighted": "pornography",
        "nudism/weighted": "pornography",
        "violence/weighted": "violence",
        "gore/weighted": "violence",
        "weapons/weighted": "violence",
        "illegaldrugs/weighted": "drugs",
        "drugadvocacy/weighted": "drugs",
        "intolerance/weighted": "hate_speech",
        "gambling/weighted": "gambling",
        "gambling/banned": "gambling",
        "proxies/weighted": "filter_bypass",
        "warezhacking/weighted": "piracy",
        "personals/weighted": "dating",  # its #listcategory says "Adult": the folder decides
        "chat/weighted": "messaging",
        "games/weighted": "gaming",
        "kidstimewasting/weighted": "gaming",
        "goodphrases/weighted": "allow",
        "goodphrases/weighted_news": "allow",
    }
    assert {n.removeprefix("e2guardian/"): p.category for n, p in by_name.items()} == expected
    porn = by_name["e2guardian/pornography/weighted"]
    # About 100 of its lines repeat an earlier rule as the engine reads it ("ass fucking" and
    # "ass-fucking"): each is counted once.
    assert len(porn.rules) > 4850
    assert sum("repeats the rule of line" in r for r in porn.rejected) >= 90
    assert porn.listcategory == "Pornography"
    assert len(porn.sha256) == 64
    assert by_name["e2guardian/gambling/banned"].rules[0].kind == BANNED
    good = by_name["e2guardian/goodphrases/weighted"]
    assert all(r.weight < 0 for r in good.rules)
    co = [r for r in by_name["e2guardian/drugadvocacy/weighted"].rules if len(r.phrases) == 3]
    assert co  # < cannabis >,< mental health>,< problems><25>
    # What was left out, and why, line by line.
    text = "\n".join(skipped)
    assert "badwords/banned: no category of the school's policy maps to list 'badwords'" in text
    assert "goodphrases/exception_email: exception phrase lists are not imported" in text
    assert "pornography/regexpurls: regular expression URL lists" in text
    assert "adult/weighted: line 62: no closing '>'" in text
    assert "pornography/weighted: line 2896: '<' inside" in text
    assert "warezhacking/weighted: line 21: weight <25i>" in text


def test_every_readable_line_of_the_real_lists_is_a_rule() -> None:
    lists, _ = read_e2guardian(UKENGLISH, "e2guardian")
    for plist in lists:
        lines = Path(plist.source).read_text(encoding="utf-8").splitlines()
        phrase_lines = [s for s in (x.strip() for x in lines) if s and not s.startswith(("#", "."))]
        assert len(plist.rules) + len(plist.rejected) == len(phrase_lines), plist.name


def test_the_main_list_file_follows_its_includes() -> None:
    lists, skipped = read_e2guardian(E2G / "weightedphraselist.example", "e2g")
    names = {p.name for p in lists}
    # Included (uncommented) lists only; nudism, chat, drugs, games are commented out there.
    assert names == {
        "e2g/ukenglish/goodphrases/weighted",
        "e2g/ukenglish/goodphrases/weighted_news",
        "e2g/ukenglish/pornography/weighted",
        "e2g/ukenglish/intolerance/weighted",
        "e2g/ukenglish/gore/weighted",
        "e2g/ukenglish/violence/weighted",
        "e2g/ukenglish/weapons/weighted",
        "e2g/ukenglish/proxies/weighted",
        "e2g/ukenglish/warezhacking/weighted",
    }
    # badwords/weighted is included but holds no rules
    assert any("badwords/weighted: no phrase rules" in s for s in skipped)


def test_mapping_overrides_and_forced_category() -> None:
    lists, skipped = read_e2guardian(
        UKENGLISH, "e", mapping={"Chat": "", "badwords": "hate_speech", "games": "gambling"}
    )
    by_name = {p.name: p.category for p in lists}
    assert "e/chat/weighted" not in by_name
    assert by_name["e/badwords/banned"] == "hate_speech"
    assert by_name["e/games/weighted"] == "gambling"
    assert any(s.startswith("chat/weighted: no category") for s in skipped)
    forced, _ = read_e2guardian(UKENGLISH / "gambling", "g", category="gambling")
    assert {p.category for p in forced} == {"gambling"}
    with pytest.raises(PhraseListError, match="not a category id"):
        read_e2guardian(UKENGLISH, category="nonsense")


def test_category_for_uses_folder_then_listcategory() -> None:
    assert category_for(Path("x/intolerance/weighted"), "") == "hate_speech"
    assert category_for(Path("x/mine/weighted"), "Pornography") == "pornography"
    assert category_for(Path("x/mine/weighted"), "Proxy") == "filter_bypass"
    assert category_for(Path("x/mine/weighted"), "Something") is None
    assert set(E2GUARDIAN_MAP.values()) <= {
        "pornography",
        "violence",
        "drugs",
        "hate_speech",
        "gambling",
        "filter_bypass",
        "piracy",
        "dating",
        "messaging",
        "gaming",
        "allow",
    }


def test_includes_stay_under_the_root_and_cycles_end(tmp_path: Path) -> None:
    root = tmp_path / "lists"
    (root / "violence").mkdir(parents=True)
    (root / "violence" / "weighted").write_text(
        '#listcategory: "Violence"\n.Include<../main>\n< gore ><10>\n'
    )
    (root / "main").write_text(
        ".Include</etc/e2guardian/lists/phraselists/violence/weighted>\n"
        ".Include</etc/passwd>\n"
        ".Include<@E2CONFDIR@/lists/phraselists/missing/weighted>\n"
    )
    outside = tmp_path / "outside"
    outside.write_text("< x ><10>\n")
    lists, skipped = read_e2guardian(root / "main", "t")
    assert [p.name for p in lists] == ["t/violence/weighted"]
    assert any("/etc/passwd not found" in s for s in skipped)
    assert any("missing/weighted not found" in s for s in skipped)
    assert resolve_include(str(outside), root / "main", root) is None
    assert resolve_include("../outside", root / "main", root) is None


def test_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(PhraseListError, match="no such file or folder"):
        read_e2guardian(tmp_path / "nope")
    empty = tmp_path / "weighted"
    empty.write_text("# nothing\n")
    with pytest.raises(ListError, match="no phrase lists"):
        read_e2guardian(empty)
    with pytest.raises(PhraseListError, match="not a category id"):
        read_phrase_file(empty, "x", "nonsense")


def test_latin1_lists_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "violence"
    folder.mkdir()
    (folder / "weighted").write_bytes("< gemördet ><15>\n".encode("latin-1"))
    lists, _ = read_e2guardian(folder.parent)
    assert lists[0].rules[0].phrases == (" gemördet ",)


# Storage


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_store(f"sqlite:///{tmp_path / 'store.db'}")


def test_import_stores_versions_audits_and_loads_back(engine: Engine, tmp_path: Path) -> None:
    lists_dir = tmp_path / "lists"
    stored, skipped = import_e2guardian(engine, lists_dir, UKENGLISH, "tester", NOW)
    assert len(stored) == 20
    assert skipped
    t = table_of(ListVersionRow)
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.name == "e2guardian/gore/weighted")).one()
        audits = conn.execute(
            select(table_of(AuditRow)).where(table_of(AuditRow).c.action == "list.import")
        ).all()
    assert row.active
    assert row.fmt == FORMAT
    assert row.category == "violence"
    assert row.expressions == 10
    assert row.domains == row.urls == 0
    assert Path(row.path).is_file()
    assert len(audits) == 20
    detail = json.loads(audits[0].detail)
    assert detail["format"] == FORMAT
    assert detail["previous_expressions"] is None

    loaded = {p.name: p for p in load_phrase_lists(engine)}
    originals = {p.name: p for p, _ in stored}
    assert loaded.keys() == originals.keys()
    # Each rule of a category loads once, from the first list (by name) holding it.
    held: dict[str, set[object]] = {}
    for name in sorted(originals):
        plist = originals[name]
        seen = held.setdefault(plist.category, set())
        want = []
        for r in plist.rules:
            if rule_key(r) not in seen:
                seen.add(rule_key(r))
                want.append((r.phrases, r.weight, r.percent, r.kind))
        assert [(r.phrases, r.weight, r.percent, r.kind) for r in loaded[name].rules] == want
        assert loaded[name].category == plist.category
    assert rules_of(loaded.values()) == sum(len(keys) for keys in held.values())

    # The same tree again under another name: stored, but no rule counts twice.
    again, _ = import_e2guardian(engine, lists_dir, UKENGLISH / "gore", "t", NOW, name="again")
    assert [p.name for p, _ in again] == ["again/weighted"]
    reloaded = {p.name: p for p in load_phrase_lists(engine)}
    assert len(reloaded["again/weighted"].rules) == 10  # "again" sorts first and has them
    assert reloaded["e2guardian/gore/weighted"].rules == ()
    assert rules_of(reloaded.values()) == rules_of(loaded.values())

    # A second import makes a new active version and remembers the old count.
    import_e2guardian(engine, lists_dir, UKENGLISH / "gore", "tester", NOW, name="e2guardian")
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.name == "e2guardian/weighted")).all()
    assert [r.active for r in rows] == [True]
    # The domain index ignores phrase lists rather than tripping over them.
    assert len(load_index(engine, None)) == 0


def test_a_vanished_stored_file_is_skipped(engine: Engine, tmp_path: Path) -> None:
    stored, _ = import_e2guardian(engine, tmp_path / "l", UKENGLISH / "gore", "tester", NOW)
    t = table_of(ListVersionRow)
    with engine.connect() as conn:
        path = conn.execute(select(t.c.path)).scalar_one()
    Path(path).unlink()
    assert load_phrase_lists(engine) == []
    assert stored


def test_an_included_list_keeps_its_own_category_under_a_forced_one(tmp_path: Path) -> None:
    root = tmp_path / "phraselists"
    (root / "mine").mkdir(parents=True)
    (root / "goodphrases").mkdir()
    (root / "goodphrases" / "weighted").write_text("< history lesson ><-50>\n")
    (root / "mine" / "weighted").write_text(
        ".Include<@E2CONFDIR@/lists/phraselists/goodphrases/weighted>\n< gore ><10>\n"
    )
    lists, _ = read_e2guardian(root / "mine" / "weighted", "t", category="violence")
    assert {p.name: p.category for p in lists} == {
        "t/mine/weighted": "violence",
        "t/goodphrases/weighted": "allow",
    }


def test_a_rule_repeated_in_one_list_counts_once() -> None:
    parsed = parse_phrases("< gore ><10>\n< Gore ><20>\n< gore >,< blood ><5>\n")
    assert [r.weight for r in parsed.rules] == [10, 5]
    assert parsed.rejected == ("line 2: repeats the rule of line 1, counted once",)
