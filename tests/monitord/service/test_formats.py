"""Each source checked against what its format's parser says it needs, and set up with its
options: the registry, not a list of special cases, decides."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.parsers.base import Needs, load_parser
from collectors.parsers.pcap import PcapParser
from collectors.parsers.windows_dns import WindowsDnsParser
from monitord.service.formats import (
    format_options,
    parser_for,
    source_parsers,
    source_problems,
    sources_problems,
)
from monitord.settings.config import ConfigError, load_config
from monitord.settings.formats import format_names


def _config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "a.log").touch()
    path = tmp_path / "monitord.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_source_gets_its_formats_parser_set_up_with_its_options(tmp_path: Path) -> None:
    cfg = load_config(
        _config(
            tmp_path,
            '[[sources]]\nname = "dc"\nformat = "windows-dns"\npath = "a.log"\n'
            'date_order = "dmy"\n'
            '[[sources]]\nname = "dns"\nformat = "dnsmasq"\npath = "a.log"\n'
            '[[sources]]\nname = "mirror"\nformat = "pcap"\ninterface = "eth1"\n',
        )
    )
    dc, dns, mirror = source_parsers(cfg)
    assert dc == WindowsDnsParser("dmy")
    assert dns is load_parser("dnsmasq")
    assert isinstance(mirror, PcapParser)


def test_every_problem_of_every_source_is_named_by_its_key(tmp_path: Path) -> None:
    cfg = load_config(
        _config(
            tmp_path,
            '[[sources]]\nname = "a"\nformat = "dnsmasq"\npath = "a.log"\ndate_order = "dmy"\n'
            '[[sources]]\nname = "b"\nformat = "squid"\ninterface = "eth1"\n'
            '[[sources]]\nname = "c"\nformat = "pcap"\nlisten = "udp://127.0.0.1:514"\n'
            '[[sources]]\nname = "d"\nformat = "windows-dns"\npath = "a.log"\n'
            'date_order = "dym"\n',
        )
    )
    with pytest.raises(ConfigError) as info:
        source_parsers(cfg)
    assert info.value.problems == [
        "monitord.toml: sources[0].date_order: date_order applies only to format windows-dns",
        "monitord.toml: sources[1].interface: interface applies only to a format read as "
        "packets: pcap",
        "monitord.toml: sources[2].listen: format pcap cannot be received by a listener",
        "monitord.toml: sources[3].date_order: expected one of mdy, dmy, ymd (the order the "
        "server's locale writes the day, month and year in), not 'dym'",
    ]


@pytest.mark.parametrize("fmt", format_names())
def test_what_a_format_needs_decides_what_may_feed_it(fmt: str) -> None:
    needs: Needs = load_parser(fmt).needs
    listened = source_problems({"format": fmt, "listen": "udp://127.0.0.1:514"})
    captured = source_problems({"format": fmt, "interface": "eth1"})
    assert (listened == []) is needs.listened
    assert (captured == []) is needs.binary
    assert source_problems({"format": fmt, "path": "x.log"}) == []


def test_tables_as_written_are_checked_and_what_settings_name_is_left_to_them() -> None:
    assert sources_problems("not a list") == []
    assert sources_problems(
        [
            "not a table",
            {"format": "no-such-format", "listen": "udp://127.0.0.1:514"},
            {"format": 7},
            {"format": "agent", "listen": "udp://127.0.0.1:514", "date_order": 3},
        ]
    ) == ["sources[3].listen: format agent cannot be received by a listener"]


def test_parser_for_refuses_an_option_its_format_does_not_take() -> None:
    assert parser_for("windows-dns") is load_parser("windows-dns")
    assert parser_for("windows-dns", {"date_order": "ymd"}) == WindowsDnsParser("ymd")
    with pytest.raises(ValueError, match="date_order: this format takes no such option"):
        parser_for("squid", {"date_order": "dmy"})


def test_the_options_of_the_registry_are_offered_by_key() -> None:
    options = format_options()
    assert list(options) == ["date_order"]
    fmts, option = options["date_order"]
    assert fmts == ["windows-dns"]
    assert option.choices == ("mdy", "dmy", "ymd")
    assert option.default == "mdy"
