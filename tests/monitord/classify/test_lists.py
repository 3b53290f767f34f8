from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from monitord.classify.engine import Classifier
from monitord.classify.lists import (
    BAD_WILDCARD,
    HAS_SPACE,
    NOT_A_NAME,
    URL_IN_DOMAINS,
    ListError,
    load_index,
    read_plain,
    read_ut1,
    store_list,
    unusable_summary,
)
from monitord.service.app import App
from monitord.store.database import table_of
from monitord.store.tables import AuditRow, ListVersionRow
from tests.conftest import UT1

pytestmark = pytest.mark.stores


def test_ut1_tree_maps_folders_to_categories() -> None:
    contents, skipped = read_ut1(UT1, "ut1")
    by_name = {c.name: c for c in contents}
    assert by_name["ut1/gambling"].category == "gambling"
    assert by_name["ut1/vpn"].category == "filter_bypass"
    assert by_name["ut1/liste_blanche"].category == "allow"
    assert by_name["ut1/adult"].category == "pornography"
    assert len(by_name["ut1/adult"].urls) > 1000
    gambling = (UT1 / "gambling" / "domains").read_text().split()
    assert len(by_name["ut1/gambling"].domains) == len(gambling)
    assert any(s.startswith("shortener:") for s in skipped)
    assert any(s.startswith("dynamic-dns:") for s in skipped)


def test_numbered_parts_are_joined_before_splitting(tmp_path: Path) -> None:
    folder = tmp_path / "blacklists" / "gambling"
    folder.mkdir(parents=True)
    # The entry "casino.example" straddles the two parts.
    (folder / "domains.0").write_bytes(b"bet.example\ncasi")
    (folder / "domains.1").write_bytes(b"no.example\npoker.example\n")
    (folder / "domains.10").write_bytes(b"late.example\n")
    (folder / "domains.2").write_bytes(b"middle.example\n")
    contents, _ = read_ut1(tmp_path / "blacklists", "t")
    assert contents[0].domains == (
        "bet.example",
        "casino.example",
        "poker.example",
        "middle.example",
        "late.example",
    )


def test_ut1_import_stores_versions_audits_and_classifies(app: App) -> None:
    contents, _ = read_ut1(UT1, "ut1")
    now = app.clock.now()
    for c in contents:
        store_list(app.engine, app.cfg.lists_dir, c, "tester", now)
    t = table_of(ListVersionRow)
    with app.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.name == "ut1/gambling")).one()
        audits = conn.execute(
            select(table_of(AuditRow)).where(table_of(AuditRow).c.action == "list.import")
        ).all()
    assert row.active
    assert row.domains > 100
    assert len(row.sha256) == 64
    assert len(audits) == len(contents)
    assert json.loads(audits[0].detail)["sha256"]
    classifier = Classifier(load_index(app.engine, None))
    first = (UT1 / "gambling" / "domains").read_text().split()[0]
    assert "gambling" in classifier.classify_host(f"www.{first}").categories
    assert classifier.classify_host("clean-school-site.example").categories == ()


def test_reimport_replaces_the_active_version(app: App, tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("one.example\n")
    now = app.clock.now()
    store_list(app.engine, app.cfg.lists_dir, read_plain(path, "domains", "drugs", "x"), "a", now)
    path.write_text("one.example\ntwo.example\n")
    store_list(app.engine, app.cfg.lists_dir, read_plain(path, "domains", "drugs", "x"), "a", now)
    t = table_of(ListVersionRow)
    with app.engine.connect() as conn:
        rows = conn.execute(select(t.c.domains, t.c.active).order_by(t.c.id)).all()
    assert [(r.domains, r.active) for r in rows] == [(1, False), (2, True)]
    classifier = Classifier(load_index(app.engine, None))
    assert classifier.classify_host("two.example").categories == ("drugs",)


def test_plain_list_needs_a_real_category(tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_text("a.example\n")
    with pytest.raises(ListError, match="not a category id"):
        read_plain(path, "domains", "naughty", "x")


def test_not_a_ut1_tree(tmp_path: Path) -> None:
    with pytest.raises(ListError, match="not a directory"):
        read_ut1(tmp_path / "missing", "ut1")
    with pytest.raises(ListError, match="no UT1 category folders"):
        read_ut1(tmp_path, "ut1")


def test_ut1_expressions_are_imported_and_match(app: App) -> None:
    contents, _ = read_ut1(UT1, "ut1")
    malware = next(c for c in contents if c.name == "ut1/malware")
    pattern = (UT1 / "malware" / "expressions").read_text().strip()
    assert malware.expressions == (pattern,)
    assert all(not c.expressions for c in contents if c.name == "ut1/gambling")
    store_list(app.engine, app.cfg.lists_dir, malware, "tester", app.clock.now())
    t = table_of(ListVersionRow)
    with app.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.name == "ut1/malware")).one()
    assert row.expressions == 1
    assert Path(row.path).read_text().endswith(f"E {pattern}\n")
    classifier = Classifier(load_index(app.engine, None))
    c = classifier.classify_host("1.2.3.4", "http://1.2.3.4/search?q=12")
    assert c.categories == ("malware",)
    assert c.matches[0].list_name == "ut1/malware"


def test_stored_url_entries_match(app: App) -> None:
    contents, _ = read_ut1(UT1, "ut1")
    adult = next(c for c in contents if c.name == "ut1/adult")
    store_list(app.engine, app.cfg.lists_dir, adult, "tester", app.clock.now())
    entry = next(u for u in adult.urls if "/" in u and not u[0].isdigit())
    host, path = entry.split("/", 1)
    assert f"U {host}/{path}" in Path(app.cfg.lists_dir / "ut1_adult.list").read_text()
    classifier = Classifier(load_index(app.engine, None))
    hit = classifier.classify_host(host, f"https://www.{host}/{path}/page?x=1")
    assert hit.categories == ("pornography",)
    assert hit.matches[0].entry == f"{host}/{path}"
    assert classifier.classify_host(host).categories == ()  # DNS: no path, no URL entry


def test_compiled_index_is_written_once_and_replaced_on_import(app: App, tmp_path: Path) -> None:
    lists_dir = app.cfg.lists_dir
    path = tmp_path / "drugs.txt"
    path.write_text("one.example\n")
    now = app.clock.now()
    store_list(app.engine, lists_dir, read_plain(path, "domains", "drugs", "x"), "a", now)
    first = load_index(app.engine, None)
    assert first.compiled.path is not None
    assert first.compiled.path.parent == lists_dir
    stamp = first.compiled.path.stat().st_mtime_ns
    again = load_index(app.engine, None)
    assert again.compiled.path == first.compiled.path
    assert again.compiled.path.stat().st_mtime_ns == stamp  # mapped, not rebuilt
    info = first.lists[0]
    assert (info.name, info.category, info.version, info.fmt) == ("x", "drugs", 1, "domains")
    assert info.imported_at
    assert len(info.sha256) == 64
    path.write_text("two.example\n")
    store_list(app.engine, lists_dir, read_plain(path, "domains", "drugs", "x"), "a", now)
    newer = load_index(app.engine, None)
    assert newer.compiled.path != first.compiled.path
    assert sorted(lists_dir.glob("index-*.mdi")) == [newer.compiled.path]
    assert Classifier(newer).classify_host("two.example").categories == ("drugs",)
    assert Classifier(newer).classify_host("one.example").categories == ()
    # The first index still answers: a running daemon keeps its mapping of the old file.
    assert Classifier(first).classify_host("one.example").categories == ("drugs",)


def test_damaged_index_is_rebuilt(app: App, tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_text("bad.example\n")
    store_list(
        app.engine,
        app.cfg.lists_dir,
        read_plain(path, "domains", "drugs", "x"),
        "a",
        app.clock.now(),
    )
    built = load_index(app.engine, None).compiled.path
    assert built is not None
    built.write_bytes(b"garbage")
    index = load_index(app.engine, None)
    assert Classifier(index).classify_host("bad.example").categories == ("drugs",)


def test_phrase_lists_in_the_same_table_are_not_domain_lists(app: App, tmp_path: Path) -> None:
    phrases = app.cfg.lists_dir / "e2g.phrases"
    phrases.parent.mkdir(parents=True, exist_ok=True)
    phrases.write_text("D not-a-domain.example\n")
    with app.engine.begin() as conn:
        conn.execute(
            table_of(ListVersionRow)
            .insert()
            .values(
                name="e2guardian/test",
                category="drugs",
                fmt="e2guardian",
                source="x",
                sha256="0" * 64,
                domains=0,
                urls=0,
                expressions=1,
                path=str(phrases),
                imported_at=app.clock.now(),
                imported_by="t",
                active=True,
            )
        )
    index = load_index(app.engine, None)
    assert Classifier(index).classify_host("not-a-domain.example").categories == ()


def test_a_domain_list_takes_wildcard_suffixes_and_counts_what_it_cannot_use(
    app: App, tmp_path: Path
) -> None:
    path = tmp_path / "mine.txt"
    path.write_text(
        "# school's own list\n"
        "*.bet.example\n"
        ".casino.example\n"
        "Poker.Example.\n"
        "10.1.2.3\n"
        "https://www.bet.example/odds\n"
        "bet.example/odds\n"
        "two words.example\n"
        "ex*ample.com\n"
        "!!!\n"
    )
    content = read_plain(path, "domains", "gambling", "mine")
    assert content.domains == ("bet.example", "casino.example", "poker.example", "10.1.2.3")
    assert [(u.line, u.why) for u in content.unusable] == [
        (6, URL_IN_DOMAINS),
        (7, URL_IN_DOMAINS),
        (8, HAS_SPACE),
        (9, BAD_WILDCARD),
        (10, NOT_A_NAME),
    ]
    summary = unusable_summary(content)
    assert summary[0].startswith("mine: 5 lines not stored: 2 a URL, not a domain")
    assert summary[1] == f"mine: line 6: 'https://www.bet.example/odds': {URL_IN_DOMAINS}"
    store_list(app.engine, app.cfg.lists_dir, content, "a", app.clock.now())
    classifier = Classifier(load_index(app.engine, None))
    # A suffix matches the name and every name under it, on label boundaries.
    assert classifier.classify_host("live.bet.example").categories == ("gambling",)
    assert classifier.classify_host("bet.example").categories == ("gambling",)
    assert classifier.classify_host("www.casino.example").categories == ("gambling",)
    assert classifier.classify_host("abet.example").categories == ()
    path.write_text("http://a.example/x\n")
    with pytest.raises(ListError, match="no usable domains in it"):
        read_plain(path, "domains", "gambling", "mine")


def test_a_url_list_leaves_out_lines_with_spaces_or_no_host(tmp_path: Path) -> None:
    path = tmp_path / "urls.txt"
    path.write_text("http://bet.example/odds/\nbet.example/a b\n/just/a/path\nwww.x.example\n")
    content = read_plain(path, "urls", "gambling", "u")
    assert content.urls == ("bet.example/odds", "www.x.example")
    assert [(u.line, u.why) for u in content.unusable] == [(2, HAS_SPACE), (3, NOT_A_NAME)]
