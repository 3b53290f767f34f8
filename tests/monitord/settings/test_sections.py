"""The sections of monitord.toml, each as a school writes it and as it goes wrong: roster columns
and identity, the agents' limits, the console, the store's URL, and alert keys."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitord.settings.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "monitord.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_roster_column_mapping_and_identity_keys(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            """
[roster]
default_role = "pupil"
[roster.columns]
username = "Login"
display_name = "Name"
class = "Reg Group"
[identity]
history = "60d"
proxy_user_window = "5m"
unauthorised_ownership = ["visitor_owned"]
""",
        )
    )
    roster = cfg.settings.roster
    assert (roster.columns.username, roster.columns.class_name) == ("Login", "Reg Group")
    assert roster.columns.year_group == "year_group"  # unmapped fields keep their default
    assert roster.default_role == "pupil"
    ident = cfg.settings.identity
    assert (ident.history, ident.proxy_user_window) == (timedelta(days=60), timedelta(minutes=5))
    assert ident.unauthorised_ownership == ["visitor_owned"]


def test_roster_and_identity_mistakes_are_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[roster]
default_role = "wizard"
[roster.columns]
surename = "Surname"
[identity]
unauthorised_ownership = ["stolen"]
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    assert "monitord.toml: roster.columns.surename: unknown key" in problems
    assert any(p.startswith("monitord.toml: roster.default_role: ") for p in problems)
    assert any(
        p.startswith("monitord.toml: identity.unauthorised_ownership[0]: ") for p in problems
    )


def test_the_agents_limits_and_backfill_window(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[agents]\nmax_backfill = "2d"\nmax_per_address = 4\n'))
    agents = cfg.settings.agents
    assert (agents.max_backfill, agents.max_per_address) == (timedelta(days=2), 4)
    assert load_config(write(tmp_path, "")).settings.agents.max_backfill == timedelta(days=7)
    bad = '[agents]\nmax_backfill = "soon"\nmax_connections = 0\nheader_timeout = "x"\n'
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, bad))
    text = "\n".join(info.value.problems)
    assert "agents.max_backfill: expected a duration" in text
    assert "agents.max_connections:" in text
    assert "agents.header_timeout: expected a duration" in text


def test_the_consoles_settings(tmp_path: Path) -> None:
    web = load_config(write(tmp_path, "")).settings.web
    assert (web.listen, web.base_url, web.tls_cert) == ("127.0.0.1:8080", "", "")
    assert (web.session_idle, web.session_max) == (timedelta(minutes=15), timedelta(hours=8))
    (tmp_path / "c.pem").write_text("")
    (tmp_path / "k.pem").write_text("")
    web = load_config(
        write(
            tmp_path,
            '[web]\nlisten = "0.0.0.0:443"\ntls_cert = "c.pem"\ntls_key = "k.pem"\n'
            'base_url = "https://monitord.school.example"\nsession_idle = "10m"\n',
        )
    ).settings.web
    assert (web.listen, web.session_idle) == ("0.0.0.0:443", timedelta(minutes=10))
    assert load_config(write(tmp_path, '[web]\nlisten = "[::1]:8080"\n')).settings.web


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('listen = "10.0.0.5:8080"', "would send passwords in clear text: set tls_cert"),
        ('listen = "localhost"', "expected ADDRESS:PORT"),
        ('listen = "127.0.0.1:70000"', "expected ADDRESS:PORT"),
        ('tls_cert = "c.pem"', "tls_cert and tls_key go together"),
        ('base_url = "monitord.school"', "base_url 'monitord.school': expected the console's"),
        ('base_url = "javascript:alert(1)"', "expected the console's address"),
        ('session_idle = "0s"', "session_idle must be above 0"),
        ('session_idle = "2h"\nsession_max = "1h"', "session_max at least as long"),
        ('session_max = "soon"', "web.session_max: expected a duration"),
        ('tls_cert = "no.pem"\ntls_key = "no.key"', "web.tls_cert: file not found"),
    ],
)
def test_console_mistakes_are_named(tmp_path: Path, table: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"[web]\n{table}\n"))
    assert any(p.startswith("monitord.toml: web") and problem in p for p in info.value.problems), (
        info.value.problems
    )


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///var/monitord.db",
        "sqlite:////srv/monitord/monitord.db",
        "postgresql+psycopg://monitord@db.trust.example/monitord",
        "postgresql+psycopg://monitord:s3cret@10.20.0.9:5433/monitord",
        "postgresql+psycopg:///monitord?host=/run/postgresql",
    ],
)
def test_supported_store_urls(tmp_path: Path, url: str) -> None:
    assert load_config(write(tmp_path, f'[storage]\nurl = "{url}"\n')).settings.storage.url == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://monitord:s3cret@db/monitord", "is not a store monitord supports"),
        ("postgresql+psycopg2://monitord@db/monitord", "is not a store monitord supports"),
        ("mysql://monitord:s3cret@db/monitord", "is not a store monitord supports"),
        ("sqlite://", "is not a store monitord supports"),
        ("sqlite:///", "is not a store monitord supports"),
        ("var/monitord.db", "is not a store monitord supports"),
        ("postgresql+psycopg://", "is not a store monitord supports"),
        ("postgresql+psycopg://monitord:s3cret@db:port/mon", "not a URL with a valid host"),
        ("postgresql+psycopg://monitord:s3cret@db server/mon", "not a URL with a valid host"),
    ],
)
def test_unsupported_store_urls_are_refused(tmp_path: Path, url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f'[storage]\nurl = "{url}"\n'))
    (line,) = info.value.problems
    assert line.startswith("monitord.toml: storage.url: ")
    assert problem in line
    assert "s3cret" not in line  # a password in the URL is never printed


def test_alert_keys_for_backfills_and_devices(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, ""))
    alerts, identity = cfg.settings.alerts, cfg.settings.identity
    assert (alerts.backfill_quiet_after, alerts.unauthorised_devices_to) == (
        timedelta(days=2),
        "both",
    )
    assert identity.guest_networks == []
    cfg = load_config(
        write(
            tmp_path,
            '[alerts]\nbackfill_quiet_after = "12h"\nunauthorised_devices_to = "technician"\n'
            '[identity]\nguest_networks = ["10.9.0.0/16", "2001:db8:9::/48"]\n',
        )
    )
    assert cfg.settings.alerts.backfill_quiet_after == timedelta(hours=12)
    assert cfg.settings.alerts.unauthorised_devices_to == "technician"
    assert cfg.settings.identity.guest_networks == ["10.9.0.0/16", "2001:db8:9::/48"]
