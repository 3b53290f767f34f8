from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.classify.engine import (
    Classifier,
    DomainIndex,
    canonical_host,
    split_url_entry,
    url_parts,
)
from monitord.core.model import Event, EventKind
from tests.conftest import UT1


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


def test_url_entries_compare_paths_as_squidguard_does() -> None:
    index = DomainIndex()
    index.add_urls(["shop.example/Poker%20Room", "forum.example/view.php?id=5"], "gambling", "g")
    c = Classifier(index)
    assert c.classify_host("shop.example", "http://shop.example/poker room/1").categories
    assert c.classify_host("shop.example", "http://SHOP.example//POKER%20ROOM").categories
    assert c.classify_host("www.shop.example", "https://www.shop.example/poker%20room?a=b")
    # An entry with a query is a plain prefix of path and query.
    assert c.classify_host("forum.example", "http://forum.example/view.php?id=5&p=2").categories
    assert not c.classify_host("forum.example", "http://forum.example/view.php?id=6").categories
    assert not c.classify_host("forum.example", "http://forum.example/view.php").categories


def test_expressions_match_urls_not_lookups() -> None:
    index = DomainIndex()
    pattern = (UT1 / "malware" / "expressions").read_text().strip()
    assert index.add_expressions([pattern, "(broken"], "malware", "ut1/malware") == 1
    c = Classifier(index)
    hit = c.classify_host("1.2.3.4", "http://1.2.3.4/search?q=12")
    assert hit.categories == ("malware",)
    assert hit.matches[0].entry == pattern
    assert c.classify_host("1.2.3.4").categories == ()  # a DNS lookup has no URL


def test_ipv6_literals() -> None:
    assert canonical_host("[2001:DB8::1]") == "2001:db8::1"
    assert split_url_entry("http://[2001:db8::1]:8080/x/") == ("2001:db8::1", "/x")
    assert split_url_entry("user@Example.com:81/a") == ("example.com", "/a")
    index = DomainIndex()
    index.add_domains(["2001:db8::1"], "malware", "ip")
    c = Classifier(index)
    assert c.classify_host("[2001:db8::1]").categories == ("malware",)
    assert c.classify_host("1:2001:db8::1").categories == ()


def test_invalid_idn_stays_ascii_and_distinct() -> None:
    bad = canonical_host("a\u00fc" + "x" * 70 + ".de")  # a label too long for IDNA
    assert bad.isascii()
    assert bad != canonical_host("a\u00f6" + "x" * 70 + ".de")


def test_saved_index_opens_read_only_with_the_same_answers(
    classifier: Classifier, tmp_path: Path
) -> None:
    path = classifier.index.save(tmp_path / "index.mdi")
    opened = Classifier(DomainIndex.open(path))
    for host, url in [
        ("www.example.com", None),
        ("teams.microsoft.com", None),
        ("x.abuse.example.org", None),
        ("games.example.net", "http://games.example.net/flash/x.swf"),
        ("10.1.2.3", None),
    ]:
        assert opened.classify_host(host, url) == classifier.classify_host(host, url)
    assert len(opened.index) == len(classifier.index)
    with pytest.raises(TypeError, match="read-only"):
        opened.index.add_domains(["more.example"], "drugs", "x")
    # its mapped pages given back, the file answers the same (a name not asked before)
    opened.index.unmap_pages()
    assert opened.classify_host("m.bar.com") == classifier.classify_host("m.bar.com")


def test_unmapping_an_index_being_built_compiles_nothing() -> None:
    index = DomainIndex()
    index.add_domains(["example.com"], "pornography", "test/porn")
    index.unmap_pages()
    assert index._compiled is None
    assert Classifier(index).classify_host("www.example.com").categories == ("pornography",)


def test_additions_after_a_lookup_are_seen(classifier: Classifier) -> None:
    assert classifier.classify_host("late.example").categories == ()
    classifier.index.add_domains(["late.example"], "drugs", "test/late")
    assert classifier.classify_host("late.example").categories == ("drugs",)


def test_names_are_classified_once_while_the_lists_stay(classifier: Classifier) -> None:
    first = classifier.classify_host("www.example.com")
    assert first.categories == ("pornography",)
    # A name without a URL, and a URL without a path (a CONNECT target), are the same question.
    assert classifier.classify_host("www.example.com") is first
    assert classifier.classify_host("www.example.com", "www.example.com:443") is first
    # A URL with a path is matched against the URL entries, not remembered by its name.
    url = "http://games.example.net/flash/x"
    assert classifier.classify_host("games.example.net", url).categories == ("gaming",)
    assert classifier.classify_host("games.example.net").categories == ()
    replaced = DomainIndex()
    replaced.add_domains(["example.com"], "gambling", "test/bet")
    classifier.index = replaced
    assert classifier.classify_host("www.example.com").categories == ("gambling",)


@pytest.mark.parametrize("expressions", [False, True])
def test_a_url_of_a_host_without_url_entries_is_classified_as_its_host(
    classifier: Classifier, expressions: bool
) -> None:
    # With no expressions loaded, a URL of a host no URL entry is under is its host's
    # (remembered) classification; otherwise, and under URL entries, the URL is matched.
    if expressions:
        classifier.index.add_expressions([r"poker"], "gambling", "test/expr")
    urls = [
        ("www.example.com", "http://www.example.com/a?q=poker"),
        ("teams.microsoft.com", "https://teams.microsoft.com/x"),
        ("games.example.net", "http://games.example.net/flash/1"),
        ("games.example.net", "http://games.example.net/other"),
        ("sites.example.net", "http://sites.example.net/"),
        ("nothing.example", "http://nothing.example/poker"),
        ("", "http:///poker"),
    ]
    index = classifier.index
    for host, url in urls:
        found = classifier.classify_host(host, url)
        assert found == Classifier.judge(index.lookup(host, *url_parts(url)))
        if not expressions and not index.has_urls(canonical_host(host)):
            assert found is classifier.classify_host(host)
    assert classifier.classify_host("nothing.example", urls[5][1]).categories == (
        ("gambling",) if expressions else ()
    )


def test_real_ut1_list_classifies_subdomains_and_not_lookalikes() -> None:
    index = DomainIndex()
    names = (UT1 / "gambling" / "domains").read_text(encoding="utf-8").split()
    index.add_domains(names, "gambling", "ut1/gambling")
    c = Classifier(index)
    for name in names[::500]:
        assert c.classify_host(f"WWW.{name}.").categories == ("gambling",)
        assert c.classify_host(f"not{name}").categories == ()
