"""``monitord init DIR``: a working configuration and its folders, ready to edit."""

from __future__ import annotations

import shutil
from pathlib import Path

from monitord.classify.policy import DEFAULT_POLICY
from monitord.core.private import private_dir

CONFIG_TEMPLATE = """\
# monitord configuration. Paths are relative to this file.
# Check it with: monitord --config {config} config check

[school]
name = "Example Primary"
timezone = "Europe/London"

[storage]
# SQLite needs no server. A trust can point many schools at one PostgreSQL database:
# url = "postgresql+psycopg://monitord@dbhost/monitord"
url = "sqlite:///var/monitord.db"

[smtp]
# Empty host: alert mail is written as .eml files into pickup_dir instead of being sent.
host = ""
port = 587
security = "starttls"
username = ""
password_file = ""
sender = "monitord@school.example"
pickup_dir = "var/outbox-mail"

[recipients]
dsl = ["dsl@school.example"]
headteacher = ["head@school.example"]
chair = ["chair@school.example"]
technician = ["it@school.example"]
online_safety_group = []

[policy]
file = "policy.toml"

[lists]
dir = "var/lists"
# watch_interval = "30s"    # how soon a running daemon uses lists another command changed

# [alerts]
# backfill_quiet_after = "2d"        # ingest --backfill: older events' alerts are not mailed
# unauthorised_devices_to = "both"   # "technician", "dsl" or "both"
# [identity]
# guest_networks = ["10.9.0.0/16"]   # the guest Wi-Fi: no unauthorised_device alerts

# Lists fetched daily by the daemon and by `monitord lists update` (README: Managing lists):
# [list_updates]
# time = "03:30"
# [[list_updates.sources]]
# name = "ut1"
# url = "https://dsi.ut-capitole.fr/blacklists/download/blacklists.tar.gz"
# format = "ut1"

# One [[sources]] table per log the daemon follows, for example:
# [[sources]]
# name = "pihole"
# format = "dnsmasq"
# path = "/var/log/pihole/pihole.log"
# max_silence = "2h"

# The safeguarding console (monitord web); its accounts: monitord users add USERNAME --role dsl
# [web]
# listen = "127.0.0.1:8080"       # plain HTTP only on loopback, behind a reverse proxy
# base_url = ""                   # e.g. https://monitord.school.example, for alert mail links
# tls_cert = ""                   # with tls_key: HTTPS on any address
# tls_key = ""
# session_idle = "15m"
# session_max = "8h"
# trusted_proxies = ["127.0.0.1", "::1"]   # whose X-Forwarded-For names the client
# totp_key_file = ""              # the key of the TOTP secrets; empty: totp.key in the state folder
"""


SYSTEM_PATHS = {
    'url = "sqlite:///var/monitord.db"': 'url = "sqlite:////var/lib/monitord/monitord.db"',
    'pickup_dir = "var/outbox-mail"': 'pickup_dir = "/var/lib/monitord/outbox-mail"',
    'password_file = ""': 'password_file = "smtp.secret"',
    'dir = "var/lists"': 'dir = "/var/lib/monitord/lists"',
}
SYSTEM_AGENTS = """
[service]
user = "monitord"

[agents]
spool = "/var/lib/monitord/spool"
evidence = "/var/lib/monitord/evidence"
"""


def system_config(config: str = "/etc/monitord/monitord.toml") -> str:
    """The same configuration for a server install: state under /var/lib/monitord, the SMTP
    password in /etc/monitord/smtp.secret."""
    text = CONFIG_TEMPLATE.format(config=config)
    for old, new in SYSTEM_PATHS.items():
        if old not in text:
            raise InitError(f"the config template no longer has {old!r}")
        text = text.replace(old, new)
    return text + SYSTEM_AGENTS


class InitError(Exception):
    pass


def init_dir(target: Path) -> list[Path]:
    """Write monitord.toml, policy.toml and the var/ folders; never overwrite a config."""
    config = target / "monitord.toml"
    if config.exists():
        raise InitError(f"{config} already exists: not overwriting it")
    written: list[Path] = []
    for sub in ("var", "var/outbox-mail", "var/lists", "var/spool"):
        private_dir(target / sub)
    config.write_text(CONFIG_TEMPLATE.format(config=config), encoding="utf-8")
    written.append(config)
    policy = target / "policy.toml"
    if not policy.exists():
        shutil.copyfile(DEFAULT_POLICY, policy)
        written.append(policy)
    return written
