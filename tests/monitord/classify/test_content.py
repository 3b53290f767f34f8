from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitord.classify.content import (
    DEFAULT_PROCESSES,
    NOTHING,
    ContentClassifier,
    ProcessIndex,
    program_key,
)
from monitord.classify.phrases import default_engine
from monitord.classify.textrisk.judge import TextVerdict
from monitord.core.model import Event, EventKind, Person, Severity

T = datetime(2026, 11, 19, 10, 0, tzinfo=UTC)
PUPIL = Person("jayden.s", "Jayden Smith", "pupil", "6", "6B")
INFANT = Person("amy.k", "Amy K", "pupil", "1", "1A")
TEACHER = Person("helen.p", "Helen Price", "staff")


@pytest.fixture(scope="module")
def content() -> ContentClassifier:
    return ContentClassifier(default_engine(), ProcessIndex.load(DEFAULT_PROCESSES))


def search(text: str) -> Event:
    return Event(kind=EventKind.SEARCH, ts=T, text=text)


def test_a_search_url_is_read_for_its_terms(content: ContentClassifier) -> None:
    url = "https://www.google.com/search?q=how+to+kill+myself&oq=how"
    verdict = content.classify(
        Event(kind=EventKind.HTTP, ts=T, domain="www.google.com", url=url), PUPIL
    )
    assert "suicide" in verdict.categories
    assert any(m.entry for m in verdict.matches)


@pytest.mark.parametrize(
    "text",
    [
        "how to kill a process in linux",
        "Scunthorpe United",
        "I want to cut my hair",
        "sexual health lesson puberty",
        "holocaust year 6 lesson",
        "skills for life",
    ],
)
@pytest.mark.parametrize("person", [PUPIL, INFANT, TEACHER, None])
def test_guards_raise_nothing(content: ContentClassifier, text: str, person: Person | None) -> None:
    assert content.classify(search(text), person).categories == ()


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("how to kill myself", "suicide"),
        ("ways to self harm without anyone knowing", "self_harm"),
        ("k i l l myself", "suicide"),
        ("su1c1de", "suicide"),
    ],
)
def test_true_positives(content: ContentClassifier, text: str, category: str) -> None:
    assert category in content.classify(search(text), PUPIL).categories


def test_a_pupil_seeking_help_is_reported_but_never_above_high(
    content: ContentClassifier,
) -> None:
    verdict = content.classify(search("how to stop self harming"), PUPIL)
    assert "self_harm" in verdict.categories
    assert verdict.cap is Severity.HIGH
    assert "self_harm" in verdict.support


def test_programs_that_get_round_the_filter(content: ContentClassifier) -> None:
    for name in ("tor.exe", "C:\\Program Files\\Psiphon3.EXE", "/usr/bin/openvpn"):
        verdict = content.classify(Event(kind=EventKind.PROCESS, ts=T, text=name), PUPIL)
        assert verdict.categories == ("filter_bypass",), name
        assert verdict.matches[0].list_name == "programs/filter_bypass"
    word = content.classify(Event(kind=EventKind.PROCESS, ts=T, text="WINWORD.EXE"), PUPIL)
    assert word.categories == ()


@pytest.mark.parametrize("kind", list(EventKind))
def test_an_event_with_neither_text_nor_url_says_nothing(
    content: ContentClassifier, kind: EventKind
) -> None:
    """The pipeline leaves such events out of text judging: each kind of them says nothing,
    whatever else it carries."""
    event = Event(
        kind=kind, ts=T, client_ip="10.0.0.1", user="jayden.s", domain="a.example", hostname="h"
    )
    assert content.classify(event, PUPIL) is NOTHING
    assert content.classify(replace(event, text=""), PUPIL) is NOTHING


def test_program_key() -> None:
    assert program_key("C:\\Tools\\Tor.EXE") == "tor"
    assert program_key("/Applications/TunnelBear.app") == "tunnelbear"
    assert program_key("openvpn") == "openvpn"


def typed(text: str, minute: int, app: str = "roblox", user: str = "jayden.s") -> Event:
    return Event(
        kind=EventKind.TEXT,
        ts=T.replace(minute=minute),
        text=text,
        user=user,
        report="typed_text",
        app=app,
    )


def title(text: str, minute: int) -> Event:
    return Event(
        kind=EventKind.TEXT,
        ts=T.replace(minute=minute),
        text=text,
        user="jayden.s",
        report="window_title",
    )


def test_a_grooming_pattern_across_messages_in_one_app_is_caught() -> None:
    c = ContentClassifier(default_engine(), ProcessIndex.load(DEFAULT_PROCESSES))
    assert c.classify(typed("ur really mature for ur age", 0), PUPIL).categories == ()
    # The same words in another app, or much later, are another conversation.
    assert c.classify(typed("add me on snap", 1, app="minecraft"), PUPIL).categories == ()
    v = c.classify(typed("add me on snap", 2), PUPIL)
    assert v.categories == ("grooming",)
    (m,) = v.matches
    assert m.list_name == "textrisk/typed_text"
    assert "flattery" in m.entry
    assert "private app" in m.entry
    assert "message(s)" in m.entry
    late = ContentClassifier(default_engine(), ProcessIndex.load(DEFAULT_PROCESSES))
    late.classify(typed("ur really mature for ur age", 0), PUPIL)
    assert late.classify(typed("add me on snap", 20), PUPIL).categories == ()


def test_fragments_typed_one_after_another_are_read_together() -> None:
    c = ContentClassifier(default_engine(), ProcessIndex.load(DEFAULT_PROCESSES))
    assert c.classify(typed("i want to", 0, app="word"), PUPIL).categories == ()
    assert c.classify(typed("kill", 1, app="word"), PUPIL).categories == ()
    assert c.classify(typed("myself", 1, app="word"), PUPIL).categories == ("suicide",)


def counted(c: ContentClassifier) -> list[tuple[str, str | None]]:
    """Every (text, lesson) ``c``'s judge is asked to judge from now on."""
    judged: list[tuple[str, str | None]] = []
    judge_readings = c.judge.judge_readings

    def counting(
        text: str,
        texts: tuple[str, ...],
        kind: str = "search",
        band: str = "junior",
        lesson: str | None = None,
        messages: int = 1,
    ) -> TextVerdict:
        judged.append((text, lesson))
        return judge_readings(text, texts, kind, band, lesson, messages)

    c.judge.judge_readings = counting  # type: ignore[method-assign]
    return judged


def test_a_text_said_again_is_judged_once_and_still_read_with_what_came_before() -> None:
    c = ContentClassifier(default_engine(), ProcessIndex.load(DEFAULT_PROCESSES))
    judged = counted(c)
    for minute in (0, 10, 20):
        assert c.classify(title("Google Classroom", minute), PUPIL).categories == ()
    assert judged.count(("Google Classroom", None)) == 1
    # remembered alone, a message is still read with the one typed just before it
    assert c.classify(typed("your parents wont understand", 30), PUPIL).categories == ()
    assert c.classify(typed("send me a selfie", 31), PUPIL).categories == ("grooming",)
    assert c.classify(typed("send me a selfie", 50), PUPIL).categories == ()


def test_a_window_said_again_is_judged_once_and_what_it_reads_is_kept_apart() -> None:
    c = ContentClassifier(default_engine(), ProcessIndex.load(DEFAULT_PROCESSES))
    judged = counted(c)

    def day(user: str, first: list[str]) -> list[tuple[str, ...]]:
        """``first`` and two everyday asks typed by ``user``, the last two close together."""
        messages = [*first, "meet me at the park", "send me a photo"]
        person = Person(user, user, "pupil", "6")
        return [
            c.classify(
                replace(typed(m, 0, user=user), ts=T + timedelta(seconds=s)), person
            ).categories
            for m, s in zip(messages, (0, 125, 250, 290), strict=True)
        ]

    everyday = ["whats the homework", "lol"]
    signs = ["ur really mature for ur age", "dont tell anyone about us"]
    assert day("amy", everyday) == [(), (), (), ()]
    asked = len(judged)
    assert day("ben", everyday) == [(), (), (), ()]
    assert len(judged) == asked  # the same windows again: nothing judged afresh
    # The same two messages typed close together, after signs minutes before them: a
    # message that brings a sign is read with the whole window, which is not the same.
    assert day("cat", signs)[1:] == [("grooming",)] * 3
    assert day("dan", everyday) == [(), (), (), ()]


def test_a_text_as_an_agent_gives_it_is_judged_tidied_and_remembered_as_given() -> None:
    c = ContentClassifier(default_engine(), ProcessIndex.load(DEFAULT_PROCESSES))
    judged = counted(c)
    untidy = " how  to\tkill\x00myself "
    for _ in range(2):
        assert c.classify(search(untidy), PUPIL).categories == ("suicide",)
        assert c.classify(search("how to kill myself"), PUPIL).categories == ("suicide",)
    assert judged == [("how to kill myself", None)] * 2  # once as given, once tidy
    assert c.classify(search("  \t "), PUPIL) is NOTHING
    # typed untidily, a message is read with the ones before it as tidied
    assert c.classify(typed("i  want to", 0, app="word"), PUPIL).categories == ()
    assert c.classify(typed("kill ", 1, app="word"), PUPIL).categories == ()
    assert c.classify(typed("\tmyself", 1, app="word"), PUPIL).categories == ("suicide",)


def test_a_text_beside_the_same_lesson_is_judged_once_and_another_lesson_apart() -> None:
    c = ContentClassifier(default_engine(), ProcessIndex.load(DEFAULT_PROCESSES))
    judged = counted(c)
    pshe = "Drugs and alcohol - PSHE Year 6 - Word"

    def search(minute: int) -> Event:
        return Event(
            kind=EventKind.SEARCH, ts=T.replace(minute=minute), text="cannabis", user="jayden.s"
        )

    c.classify(title(pshe, 0), PUPIL)
    assert [c.classify(search(m), PUPIL).categories for m in (1, 2, 3)] == [(), (), ()]
    assert judged.count(("cannabis", pshe)) == 1
    c.classify(title("Drugs education - Year 6 - Word", 4), PUPIL)
    assert c.classify(search(5), PUPIL).categories == ()
    assert judged.count(("cannabis", "Drugs education - Year 6 - Word")) == 1
    assert c.classify(search(40), PUPIL).categories == ("drugs",)


def test_a_search_beside_a_lesson_document_is_judged_in_that_context() -> None:
    c = ContentClassifier(default_engine(), ProcessIndex.load(DEFAULT_PROCESSES))
    who = Event(kind=EventKind.SEARCH, ts=T.replace(minute=5), text="cannabis", user="jayden.s")
    assert c.classify(who, PUPIL).categories == ("drugs",)
    assert c.classify(title("Drugs and alcohol - PSHE Year 6 - Word", 6), PUPIL).categories == ()
    v = c.classify(
        Event(kind=EventKind.SEARCH, ts=T.replace(minute=8), text="cannabis", user="jayden.s"),
        PUPIL,
    )
    assert v.categories == ()


def test_an_unknown_person_is_judged_as_a_junior_pupil(content: ContentClassifier) -> None:
    assert content.classify(search("suicide"), None).categories == ("suicide",)
    assert content.classify(search("suicide"), TEACHER).categories == ()


def test_an_imported_list_in_another_language_counts_for_texts_in_it() -> None:
    from monitord.classify.e2guardian import PhraseList, PhraseRule
    from monitord.classify.phrases import DEFAULT_PHRASES, load_engine

    polish = PhraseList(
        "e2guardian/pornography/weighted_polish",
        "pornography",
        (PhraseRule(("< tango >",), 200),),
    )
    c = ContentClassifier(
        load_engine(DEFAULT_PHRASES, [polish]), ProcessIndex.load(DEFAULT_PROCESSES)
    )
    assert c.classify(search("tango lessons near me"), PUPIL).categories == ()
    v = c.classify(search("jak tańczyć tango żeby się nie wstydzić"), PUPIL)
    assert v.categories == ("pornography",)
    assert v.matches[0].list_name == "e2guardian/pornography/weighted_polish"
