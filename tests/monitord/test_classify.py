from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitord.classify import Classifier, DomainIndex, canonical_host, split_url_entry
from monitord.model import Event, EventKind


@pytest.fixture
def classifier() -> Classifier:
    index = DomainIndex()
    index.add_domains(["example.com", "bar.com", "tiktok.com"], "pornography", "test/porn")
    index.add_domains(["teams.microsoft.com"], "messaging", "test/chat")
    index.add_domains(["teams.microsoft.com"], "allow", "test/safe")
    index.add_domains(["abuse.example.org"], "child_abuse", "test/iwf")
    index.add_domains(["example.org"], "allow", "test/safe")
    index.add_domains(["bücher.de"], "shopping", "test/shop")
    index.add_urls(["games.example.net/flash", "http://sites.example.net/"], "gaming", "test/g")
    index.add_domains(["10.1.2.3"], "malware", "test/ip")
    return Classifier(index)


@pytest.mark.parametrize(
    ("host", "listed"),
    [
        ("example.com", True),
        ("a.b.example.com", True),
        ("www.example.com", True),
        ("EXAMPLE.COM.", True),
        ("badexample.com", False),
        ("example.com.evil.net", False),
        ("bar.community", False),
        ("com", False),
        ("", False),
    ],
)
def test_label_boundary_suffix(classifier: Classifier, host: str, listed: bool) -> None:
    assert ("pornography" in classifier.classify_host(host).categories) is listed


def test_url_entry_matches_host_and_path_prefix(classifier: Classifier) -> None:
    hit = classifier.classify_host("games.example.net", "http://games.example.net/flash/x.swf")
    assert hit.categories == ("gaming",)
    exact = classifier.classify_host("games.example.net", "http://games.example.net/flash")
    assert exact.categories == ("gaming",)
    sibling = classifier.classify_host("games.example.net", "http://games.example.net/flashy")
    assert sibling.categories == ()


def test_dns_lookup_has_no_path_so_url_entries_do_not_match(classifier: Classifier) -> None:
    assert classifier.classify_host("games.example.net").categories == ()
    # A URL entry without a path is a domain entry.
    assert classifier.classify_host("a.sites.example.net").categories == ("gaming",)


def test_allow_list_suppresses_and_explains(classifier: Classifier) -> None:
    c = classifier.classify_host("teams.microsoft.com")
    assert c.categories == ()
    assert [m.list_name for m in c.allowed_by] == ["test/safe"]
    assert {m.category for m in c.matches} == {"messaging", "allow"}


def test_allow_never_suppresses_illegal(classifier: Classifier) -> None:
    c = classifier.classify_host("x.abuse.example.org")
    assert c.categories == ("child_abuse",)
    assert c.allowed_by


def test_more_specific_listed_subdomain_beats_broad_allow() -> None:
    index = DomainIndex()
    index.add_domains(["example.org"], "allow", "safe")
    index.add_domains(["chat.example.org"], "messaging", "chat")
    c = Classifier(index).classify_host("room.chat.example.org")
    assert c.categories == ("messaging",)


def test_idn_and_ip_literals(classifier: Classifier) -> None:
    assert canonical_host("Bücher.DE") == "xn--bcher-kva.de"
    assert classifier.classify_host("www.bücher.de").categories == ("shopping",)
    assert classifier.classify_host("xn--bcher-kva.de").categories == ("shopping",)
    assert classifier.classify_host("10.1.2.3").categories == ("malware",)
    assert classifier.classify_host("3.10.1.2.3").categories == ()


def test_split_url_entry() -> None:
    assert split_url_entry("https://Example.com:8080/a/b/") == ("example.com", "/a/b")
    assert split_url_entry("example.com") == ("example.com", "")


def test_classify_event_uses_domain_and_url(classifier: Classifier) -> None:
    ev = Event(
        kind=EventKind.HTTP,
        ts=datetime(2026, 1, 5, tzinfo=UTC),
        domain="games.example.net",
        url="http://games.example.net/flash/1",
    )
    assert classifier.classify(ev).categories == ("gaming",)
    assert classifier.classify(Event(kind=EventKind.DNS, ts=ev.ts)).categories == ()
