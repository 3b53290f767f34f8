"""Shared by the digest tests: a site's config written from the init template with a
loopback SMTP server, the week they read, and small helpers."""

from __future__ import annotations

import email
import json
from datetime import date, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from alerting.reports.digest.week import Week
from monitord.service.initdir import CONFIG_TEMPLATE
from monitord.settings.config import Config, load_config
from monitord.store.database import utc

TZ = ZoneInfo("Europe/London")
WEEK = Week(2026, 47, TZ)
GROUP = ["osg-chair@school.example", "computing-lead@school.example"]
DSL = ["dsl@school.example"]


def site_config(folder: Path, port: int, *, group: list[str] = GROUP) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "monitord.toml"
    body = CONFIG_TEMPLATE.format(config=path)
    for old, new in (
        ('host = ""', 'host = "127.0.0.1"'),
        ("port = 587", f"port = {port}"),
        ('security = "starttls"', 'security = "none"\ntimeout = "5s"'),
        ("online_safety_group = []", f"online_safety_group = {json.dumps(group)}"),
        ('file = "policy.toml"', 'file = ""'),  # the default policy
    ):
        assert old in body
        body = body.replace(old, new, 1)
    path.write_text(body, encoding="utf-8")
    return load_config(path)


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=default_policy)
    assert isinstance(msg, EmailMessage)
    return msg


def sql(engine: Engine, query: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(query), params))


def local_day(ts: Any) -> date:
    value = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    return utc(value).astimezone(TZ).date()
