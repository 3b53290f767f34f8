"""The phrase engine: guards against false alarms, true positives, support-seeking, age bands,
and the project's own lists."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitord.classify.e2guardian import (
    BANNED,
    EDUCATION,
    RISK,
    SUPPORT,
    PhraseList,
    PhraseListError,
    PhraseRule,
    parse_phrases,
    read_e2guardian,
)
from monitord.classify.phrases import (
    BANDS,
    DEFAULT_LIMITS,
    DEFAULT_PHRASES,
    PhraseEngine,
    TextResult,
    Thresholds,
    age_band,
    age_band_of,
    default_engine,
    load_engine,
    load_phrase_dir,
    load_thresholds,
    phrase_keys,
)
from monitord.core.categories import CATEGORIES
from monitord.core.model import Match, Person, Severity
from tests.conftest import ROOT, SHARED

UKENGLISH = SHARED / "data" / "e2guardian-phraselists" / "ukenglish"
PROJECT_PHRASES = ROOT / "config" / "phrases"


@pytest.fixture(scope="module")
def project() -> PhraseEngine:
    return default_engine()


@pytest.fixture(scope="module")
def with_e2guardian() -> PhraseEngine:
    """The project's lists plus every e2guardian ukenglish list, as a school that imported
    them would run."""
    lists, _ = read_e2guardian(UKENGLISH, "e2guardian")
    return load_engine(PROJECT_PHRASES, lists)


def _over(result: TextResult) -> list[str]:
    """Categories with a positive total over the limit."""
    return [c for c in result.categories if result.totals[c] > 0]


# Guards: ordinary searches a school sees every day raise nothing, for any age band, with the
# project's lists alone and with every e2guardian list imported too.

GUARDS = [
    "how to kill a process in linux",
    "Scunthorpe United",
    "I want to cut my hair",
    "sexual health lesson puberty",
    "holocaust year 6 lesson",
    "skills for life",
    "self harm pshe lesson plan ks3",
    "suicide prevention training for staff",
    "anti bullying week assembly ideas",
    "the good samaritan story",
    "papyrus ancient egypt",
    "young minds matter science club",
    "flame retardant materials",
    "suicide squad cast",
    "how to cut a mango",
    "sussex university",
    "therapist near me",
    "essex county council",
    "hastings battle 1066",
    "cocktail sticks",
    "analysis of a poem",
    "classic cars",
    "dickens christmas carol",
    "middlesex",
    "grapes of wrath",
    "weather in london",
]


@pytest.mark.parametrize("text", GUARDS)
@pytest.mark.parametrize("band", BANDS)
def test_guards_raise_nothing(project: PhraseEngine, text: str, band: str) -> None:
    result = project.score(text, band)
    assert _over(result) == [], result.hits
    assert not result.support_seeking


@pytest.mark.parametrize("text", GUARDS[:6])
@pytest.mark.parametrize("band", BANDS)
def test_guards_raise_nothing_with_e2guardian_lists(
    with_e2guardian: PhraseEngine, text: str, band: str
) -> None:
    result = with_e2guardian.score(text, band)
    assert _over(result) == [], result.hits


def test_scunthorpe_matches_no_phrase_even_with_e2guardian_lists(
    with_e2guardian: PhraseEngine,
) -> None:
    # e2guardian's <_cunt_> means the word between separators, not the string anywhere.
    assert with_e2guardian.score("Scunthorpe United", "infant").hits == ()
    assert with_e2guardian.score("skills for life", "infant").hits == ()


# True positives, in the right category.

TRUE_POSITIVES = [
    ("how to kill myself", "suicide", BANDS),
    ("ways to self harm without anyone knowing", "self_harm", BANDS),
    ("k i l l myself", "suicide", BANDS),
    ("K.I.L.L M.Y.S.E.L.F", "suicide", BANDS),
    ("killmyself", "suicide", BANDS),
    ("i want to diiiie", "suicide", BANDS),
    ("h0w 2 k1ll mys3lf", "suicide", BANDS),
    ("$elf h@rm", "self_harm", ("infant", "junior")),
    ("su1c1de", "suicide", ("infant", "junior")),
    ("SUICIDE", "suicide", ("infant", "junior")),
    ("self harming", "self_harm", ("infant", "junior")),
    ("how to hide my cuts from my parents", "self_harm", BANDS),
    ("pro ana tips", "self_harm", BANDS),
    ("don't tell your mum, send me a pic, meet me after school", "grooming", BANDS),
    ("ur so mature for your age, our little secret", "grooming", BANDS),
    ("send nudes", "grooming", BANDS),
    ("go kill yourself nobody likes you", "bullying", BANDS),
    ("im being bullied at school", "bullying", BANDS),
    ("how to join isis", "extremism", BANDS),
    ("the holocaust never happened", "hate_speech", BANDS),
    ("go back to your own country", "hate_speech", BANDS),
]


@pytest.mark.parametrize(("text", "category", "bands"), TRUE_POSITIVES)
def test_true_positives(
    project: PhraseEngine, text: str, category: str, bands: tuple[str, ...]
) -> None:
    for band in bands:
        result = project.score(text, band)
        assert category in result.categories, (band, result.hits)
        assert result.categories[0] == category
        assert result.totals[category] > result.limits[category] or result.support_seeking


def test_staff_are_not_reported_for_a_topic_word(project: PhraseEngine) -> None:
    assert project.score("suicide", "adult").categories == ()
    assert project.score("suicide", "junior").categories == ("suicide",)


def test_first_person_intent_survives_lesson_words(project: PhraseEngine) -> None:
    for band in BANDS:
        result = project.score("how to kill myself pshe homework", band)
        assert result.categories == ("suicide",)


# Support-seeking: a pupil looking for help is reported, marked, at most high; staff and
# lesson preparation are not.


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("childline number", "self_harm"),
        ("how to stop self harming", "self_harm"),
        ("samaritans phone number", "suicide"),
        ("how to stop being bullied", "bullying"),
        ("report to ceop", "grooming"),
    ],
)
@pytest.mark.parametrize("band", ["infant", "junior"])
def test_a_pupil_looking_for_help_is_reported_as_support_seeking(
    project: PhraseEngine, text: str, category: str, band: str
) -> None:
    result = project.score(text, band)
    assert result.categories == (category,)
    assert result.support_seeking
    assert result.support_categories == (category,)
    assert result.max_severity is Severity.HIGH
    support = [m for m in result.matches() if m.list_name.endswith(":support")]
    assert support
    assert all(m.score < 0 for m in support)


@pytest.mark.parametrize(
    "text", ["childline number", "how to stop self harming", "samaritans phone number"]
)
def test_staff_looking_up_support_are_not_reported(project: PhraseEngine, text: str) -> None:
    result = project.score(text, "adult")
    assert result.categories == ()
    assert not result.support_seeking
    assert result.max_severity is None


@pytest.mark.parametrize(
    "text",
    [
        "self harm lesson plan ks3 childline",
        "pshe homework how to stop self harming",
        "year 6 lesson samaritans",
    ],
)
@pytest.mark.parametrize("band", BANDS)
def test_lesson_work_about_support_is_not_reported(
    project: PhraseEngine, text: str, band: str
) -> None:
    result = project.score(text, band)
    assert result.categories == ()
    assert not result.support_seeking


def test_help_with_intent_is_reported_and_marked(project: PhraseEngine) -> None:
    result = project.score("i want to kill myself should i call samaritans", "adult")
    assert result.categories == ("suicide",)
    assert result.support_seeking
    assert result.max_severity is Severity.HIGH


# The explanation: every hit with its list, phrase and weight, as Matches.


def test_every_hit_is_explained(project: PhraseEngine) -> None:
    result = project.score("ways to self harm without anyone knowing", "junior")
    assert set(result.matches()) == {
        Match("self_harm", "phrases/self_harm", "self harm", 120),
        Match("self_harm", "phrases/self_harm", "ways to self harm", 300),
        Match("self_harm", "phrases/self_harm", "self harm + without anyone knowing", 200),
    }
    assert result.totals == {"self_harm": 620}
    assert result.limits == {"self_harm": DEFAULT_LIMITS["junior"]}
    assert result.normalised == "ways to self harm without anyone knowing"
    assert result.age_band == "junior"
    assert result.allowed_by() == ()


def test_allow_hits_are_matches_marked_allow(with_e2guardian: PhraseEngine) -> None:
    result = with_e2guardian.score("how to kill a process in linux", "infant")
    allow = result.allowed_by()
    assert allow
    assert all(m.allow and m.category == "allow" and m.score < 0 for m in allow)
    assert Match("violence", "e2guardian/violence/weighted", "how to kill", 80) in result.matches()
    assert result.totals["violence"] < 0


def test_imported_lists_catch_their_categories(with_e2guardian: PhraseEngine) -> None:
    assert (
        "gambling"
        in with_e2guardian.score("online casino roulette blackjack betting", "junior").categories
    )
    assert "drugs" in with_e2guardian.score("crack cocaine and crystal meth", "junior").categories


# The engine's rules, on small lists written here.


def _plist(category: str, *rules: PhraseRule, name: str = "") -> PhraseList:
    return PhraseList(name or f"t/{category}", category, rules)


def _engine(*lists: PhraseList, limits: dict[str, int] | None = None) -> PhraseEngine:
    return PhraseEngine(lists, Thresholds(limits or {"infant": 50, "junior": 100, "adult": 160}))


def test_word_boundaries() -> None:
    e = _engine(
        _plist("violence", PhraseRule((" kill ",), 200)),
        _plist("gaming", PhraseRule(("game",), 200)),
        _plist("drugs", PhraseRule((" weed",), 200)),
    )
    assert e.score("skills", "adult").hits == ()
    assert e.score("kill", "adult").categories == ("violence",)
    assert e.score("killer", "adult").hits == ()
    assert e.score("endgames", "adult").categories == ("gaming",)  # no boundary: anywhere
    assert e.score("weeds", "adult").categories == ("drugs",)  # left boundary only
    assert e.score("tumbleweed", "adult").hits == ()


def test_compact_forms_of_bounded_phrases() -> None:
    e = _engine(_plist("suicide", PhraseRule((" kill myself ",), 200)))
    for text in ("killmyself", "k i l l m y s e l f", "#killmyself"):
        assert e.score(text, "adult").categories == ("suicide",), text


def test_co_occurrence_needs_every_part_and_counts_once() -> None:
    e = _engine(_plist("drugs", PhraseRule((" bong ", " joint "), 70), PhraseRule((" weed ",), 10)))
    assert e.score("bong", "adult").hits == ()
    result = e.score("joint and a bong, another bong, weed weed weed", "adult")
    assert result.totals == {"drugs": 80}
    assert [h.phrase for h in result.hits] == ["bong + joint", "weed"]


def test_negative_weights_lower_their_category() -> None:
    e = _engine(
        _plist(
            "pornography", PhraseRule((" breast ",), 60), PhraseRule((" breast ", " cancer "), -60)
        )
    )
    assert e.score("breast", "junior").totals == {"pornography": 60}
    assert e.score("breast cancer", "infant").categories == ()


def test_percent_weights_follow_the_band() -> None:
    e = _engine(_plist("gambling", PhraseRule((" casino ",), 60, percent=True)))
    assert e.score("casino", "infant").totals == {"gambling": 30}
    assert e.score("casino", "adult").totals == {"gambling": 96}
    per_cat = PhraseEngine(
        [_plist("gambling", PhraseRule((" casino ",), 50, percent=True))],
        Thresholds(dict(DEFAULT_LIMITS), {"gambling": {"adult": 400}}),
    )
    assert per_cat.score("casino", "adult").totals == {"gambling": 200}
    assert per_cat.score("casino", "adult").limits == {"gambling": 400}


def test_over_means_over_not_equal() -> None:
    e = _engine(_plist("gaming", PhraseRule((" game ",), 100)))
    assert e.score("game", "junior").categories == ()
    assert e.score("game", "infant").categories == ("gaming",)


def test_banned_phrases_are_over_whatever_lowers_them() -> None:
    e = _engine(
        _plist("pornography", PhraseRule((" forbidden ",), 0, kind=BANNED)),
        _plist("allow", PhraseRule((" education ",), -1000), name="t/good"),
    )
    result = e.score("forbidden education", "adult")
    assert result.categories == ("pornography",)
    assert result.hits[0].weight == 161


def test_allow_lists_never_raise_and_never_lower_illegal_categories() -> None:
    e = _engine(
        _plist("allow", PhraseRule((" news ",), 500), PhraseRule((" article ",), -300)),
        _plist("child_abuse", PhraseRule((" abuse material ",), 100)),
        _plist("violence", PhraseRule((" riot ",), 100)),
    )
    assert e.score("news", "infant").categories == ()
    assert e.score("news", "infant").hits == ()
    result = e.score("abuse material riot article", "infant")
    assert result.totals == {"child_abuse": 100, "violence": -200}
    assert result.categories == ("child_abuse",)


def test_support_rules() -> None:
    e = _engine(
        _plist(
            "self_harm",
            PhraseRule((" self harm",), 120),
            PhraseRule((" helpline ",), -40, kind=SUPPORT),
        ),
        _plist("allow", PhraseRule((" homework ",), -40, kind=EDUCATION), name="t/edu"),
    )
    pupil = e.score("helpline", "junior")
    assert pupil.categories == ("self_harm",)
    assert pupil.support_seeking
    assert e.score("helpline", "adult").categories == ()
    assert e.score("helpline homework", "junior").categories == ()
    # Support with risk over the limit is reported and marked for staff too.
    both = e.score("self harm helpline", "infant")
    assert both.categories == ("self_harm",)
    assert both.support_seeking


def test_empty_engine_and_empty_text() -> None:
    e = _engine()
    assert e.score("anything", "adult") == TextResult("anything", "anything", "adult")
    assert default_engine().score("", "infant").hits == ()


def test_unknown_band_is_refused(project: PhraseEngine) -> None:
    with pytest.raises(ValueError, match="unknown age band"):
        project.score("x", "teen")


def test_phrase_keys() -> None:
    assert phrase_keys(" self harm ") == (" self harm ", " selfharm ")
    assert phrase_keys(" self harm") == (" self harm",)
    assert phrase_keys("_cunt_") == (" cunt ",)
    assert phrase_keys("$elf") == ("self",)
    assert phrase_keys("...") == ()


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(BANDS))
def test_no_text_raises(text: str, band: str) -> None:
    result = default_engine().score(text, band)
    assert set(result.categories) <= set(result.totals)
    assert all(c in CATEGORIES for c in result.totals)


# Age bands


@pytest.mark.parametrize(
    ("year", "role", "band"),
    [
        ("N", "pupil", "infant"),
        ("R", "pupil", "infant"),
        ("1", "pupil", "infant"),
        ("2", "pupil", "infant"),
        ("Year 2", "pupil", "infant"),
        ("reception", None, "infant"),
        ("3", "pupil", "junior"),
        ("Y4", "pupil", "junior"),
        ("year5", "pupil", "junior"),
        ("6", None, "junior"),
        ("7", "pupil", "junior"),
        (None, "pupil", "junior"),
        (None, "guest", "junior"),
        ("", None, "adult"),
        (None, None, "adult"),
        (None, "staff", "adult"),
        ("3", "staff", "adult"),
        (None, "headteacher", "adult"),
        (None, "supply", "adult"),
        (None, "governor", "adult"),
        (None, "volunteer", "adult"),
        ("nonsense", None, "adult"),
    ],
)
def test_age_band(year: str | None, role: str | None, band: str) -> None:
    assert age_band(year, role) == band


def test_age_band_of_a_person() -> None:
    assert age_band_of(None) == "adult"
    assert age_band_of(Person("ab", "A B", "pupil", "R")) == "infant"
    assert age_band_of(Person("cd", "C D", "staff")) == "adult"


# Thresholds and the project's lists


def test_shipped_thresholds_are_e2guardians_guidance() -> None:
    t = load_thresholds(PROJECT_PHRASES / "bands.toml")
    assert dict(t.limits) == {"infant": 50, "junior": 100, "adult": 160}
    assert t.limits == DEFAULT_LIMITS


@pytest.mark.parametrize(
    ("toml", "why"),
    [
        ("[limits]\ninfant = 50\njunior = 100\n", "no limit for adult"),
        ("[limits]\ninfant = 50\njunior = 100\nadult = 0\n", "whole number above 0"),
        ("[limits]\ninfant = 50\njunior = 100\nadult = true\n", "whole number above 0"),
        ("[limits]\ninfant = 50\njunior = 100\nadult = 160\nteen = 1\n", "not an age band"),
        ("[categories.nonsense]\ninfant = 5\n", "not a category id"),
        ("[other]\n", "unknown key"),
        ("limits = [", "not valid TOML"),
    ],
)
def test_bad_thresholds_say_why(tmp_path: Path, toml: str, why: str) -> None:
    path = tmp_path / "bands.toml"
    path.write_text(toml)
    with pytest.raises(PhraseListError, match=why):
        load_thresholds(path)


def test_category_limits(tmp_path: Path) -> None:
    path = tmp_path / "bands.toml"
    path.write_text(
        "[limits]\ninfant = 50\njunior = 100\nadult = 160\n[categories.gaming]\ninfant = 80\n"
    )
    t = load_thresholds(path)
    assert t.limit("infant", "gaming") == 80
    assert t.limit("junior", "gaming") == 100
    assert t.limit("infant", "violence") == 50


def test_the_packaged_phrases_are_the_config_ones() -> None:
    assert DEFAULT_PHRASES.resolve() == PROJECT_PHRASES.resolve()


def test_project_lists_parse_cleanly_and_are_documented() -> None:
    lists = load_phrase_dir(PROJECT_PHRASES)
    by_name = {p.name: p for p in lists}
    assert set(by_name) == {
        "phrases/self_harm",
        "phrases/suicide",
        "phrases/bullying",
        "phrases/grooming",
        "phrases/extremism",
        "phrases/hate_speech",
        "phrases/education",
    }
    assert by_name["phrases/education"].category == "allow"
    for plist in lists:
        assert plist.rejected == (), plist.rejected
        assert plist.rules, plist.name
        text = Path(plist.source).read_text(encoding="utf-8")
        assert text.startswith(f'#listcategory: "{plist.name.split("/")[1]}"')
        assert text.splitlines()[1].startswith("# monitord's own")
        phrases = [r.phrases for r in plist.rules]
        assert len(phrases) == len(set(phrases)), f"{plist.name} repeats a rule"
        if plist.category != "allow":
            assert any(r.kind == RISK and r.weight > 0 for r in plist.rules)
        for r in plist.rules:
            if r.kind in (SUPPORT, EDUCATION):
                assert r.weight < 0, (plist.name, r)
    # Every category of the project's own lists has support phrases except extremism's few.
    for name in ("self_harm", "suicide", "bullying", "grooming", "hate_speech", "extremism"):
        assert any(r.kind == SUPPORT for r in by_name[f"phrases/{name}"].rules), name


def test_a_phrase_folder_names_its_lists_by_category(tmp_path: Path) -> None:
    (tmp_path / "gaming.txt").write_text("< minecraft ><60>\n")
    (tmp_path / "allow_school.txt").write_text("< times tables ><-60>\n")
    (tmp_path / "bands.toml").write_text("[limits]\ninfant = 10\njunior = 20\nadult = 30\n")
    engine = load_engine(tmp_path)
    assert {(p.name, p.category) for p in engine.lists} == {
        ("phrases/gaming", "gaming"),
        ("phrases/allow_school", "allow"),
    }
    assert engine.score("minecraft", "adult").categories == ("gaming",)
    assert engine.score("minecraft times tables", "infant").categories == ()
    (tmp_path / "typo_harm.txt").write_text("< x ><60>\n")
    with pytest.raises(PhraseListError, match="name a phrase list after its category"):
        load_phrase_dir(tmp_path)
    with pytest.raises(PhraseListError, match="not a folder"):
        load_phrase_dir(tmp_path / "missing")


def test_project_lists_copy_nothing_from_e2guardian() -> None:
    """The project's lists are its own wording: no rule line is the same as one in the
    e2guardian lists, whose licence forbids copying them into the project."""
    theirs: set[str] = set()
    for path in UKENGLISH.rglob("*"):
        if path.is_file():
            for rule in parse_phrases(path.read_text(encoding="latin-1")).rules:
                theirs.add(rule.source().lower())
    ours = {r.source().lower() for p in load_phrase_dir(PROJECT_PHRASES) for r in p.rules}
    assert ours & theirs == set()
