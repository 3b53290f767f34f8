"""Hosts-file block lists as domain lists."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitord.classify.engine import Classifier, DomainIndex
from monitord.classify.hostsfile import hosts_domain, parse_hosts, read_hosts
from monitord.classify.lists import ListError, store_list
from monitord.store.database import open_store, table_of
from monitord.store.tables import ListVersionRow

HOSTS = """\
# Title: a test block list
# This hosts file is in the usual format.
127.0.0.1 localhost
127.0.0.1 localhost.localdomain
255.255.255.255 broadcasthost
::1 localhost ip6-localhost ip6-loopback
fe80::1%lo0 localhost
0.0.0.0 0.0.0.0

0.0.0.0 ads.example.com
0.0.0.0 tracker.example.net   # an inline comment
127.0.0.1 one.example two.example\tthree.example
:: v6.example.org
0.0.0.0 ADS.Example.COM.
0.0.0.0 bücher.example
bare-domain.example
0.0.0.0
0.0.0.0 not_a..domain
0.0.0.0 single
0.0.0.0 10.1.2.3
||adblock.example^
two words here
"""


def test_hosts_lines_give_domains_in_order_without_local_names() -> None:
    domains, rejected = parse_hosts(HOSTS.splitlines())
    assert domains == [
        "ads.example.com",
        "tracker.example.net",
        "one.example",
        "two.example",
        "three.example",
        "v6.example.org",
        "xn--bcher-kva.example",
        "bare-domain.example",
    ]
    assert rejected == [
        "line 17: an address with no name after it",
        "line 18: 'not_a..domain' is not a domain name",
        "line 19: 'single' is not a domain name",
        "line 20: '10.1.2.3' is not a domain name",
        "line 21: '||adblock.example^' is not a domain name",
        "line 22: expected 'ADDRESS NAME...' or one domain",
    ]


def test_hosts_domain() -> None:
    assert hosts_domain("Example.COM.") == "example.com"
    assert hosts_domain("a_b.example") == "a_b.example"
    assert hosts_domain("-bad.example") is None
    assert hosts_domain("x" * 64 + ".example") is None
    assert hosts_domain("") is None


def test_read_hosts_stores_and_classifies(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text(HOSTS)
    content, rejected = read_hosts(path, "malware", "hosts/test")
    assert content.fmt == "hosts"
    assert content.category == "malware"
    assert len(content.domains) == 8
    assert len(rejected) == 6
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store_list(
        engine, tmp_path / "lists", content, "tester", datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    )
    with engine.connect() as conn:
        row = conn.execute(select(table_of(ListVersionRow))).one()
    assert row.domains == 8
    index = DomainIndex()
    index.add_domains(content.domains, content.category, content.name)
    classifier = Classifier(index)
    assert classifier.classify_host("x.ads.example.com").categories == ("malware",)
    assert classifier.classify_host("example.com").categories == ()


def test_read_hosts_errors(tmp_path: Path) -> None:
    with pytest.raises(ListError, match="cannot read"):
        read_hosts(tmp_path / "missing", "malware", "x")
    with pytest.raises(ListError, match="not a category id"):
        read_hosts(tmp_path / "missing", "nonsense", "x")
    empty = tmp_path / "empty"
    empty.write_text("127.0.0.1 localhost\n# nothing else\n")
    with pytest.raises(ListError, match="no domains found"):
        read_hosts(empty, "malware", "x")


@settings(max_examples=500)
@given(st.lists(st.text(), max_size=8))
def test_no_line_raises(lines: list[str]) -> None:
    domains, rejected = parse_hosts(lines)
    index = DomainIndex()
    index.add_domains(domains, "malware", "t")
    assert len(domains) == len(set(domains))
    assert all(r.startswith("line ") for r in rejected)


_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)


@settings(max_examples=100)
@given(st.lists(st.lists(_LABEL, min_size=2, max_size=4).map(".".join), max_size=10))
def test_generated_hosts_files_round_trip(names: list[str]) -> None:
    names = [n for n in names if not n.rsplit(".", 1)[-1].isdigit()]
    lines = [f"0.0.0.0 {n}" for n in names]
    domains, rejected = parse_hosts(lines)
    assert rejected == []
    assert domains == list(dict.fromkeys(names))
