"""Typed configuration: the TOML file, validated in full, every problem named by its key path.

A config is loaded once and passed to whatever needs it; nothing reads it from a global.
"""

from __future__ import annotations

import os
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitord.settings.formats import OPTION_KEYS, format_names
from monitord.settings.listen import parse_listen
from monitord.settings.sections import (
    Agents,
    Alerts,
    Digest,
    Duration,
    Identity,
    Lists,
    ListUpdates,
    NetworkText,
    Pipeline,
    Policy,
    Recipients,
    Retention,
    Roster,
    School,
    Search,
    Section,
    Service,
    Smtp,
    Storage,
    Web,
    listen_or_empty,
)


class Source(Section):
    name: str
    format: str
    path: str = ""  # the log file followed
    interface: str = ""  # or, for a format read as packets (pcap), the interface captured on
    bpf: str = ""  # with interface: a capture filter, e.g. "port 53 or port 80 or port 443"
    max_silence: Duration = timedelta(hours=2)
    # Windows DNS writes dates in the server's locale: month/day (mdy), day/month (dmy) or ISO.
    # (An option of one format: its parser says which values it takes; see OPTION_KEYS.)
    date_order: str | None = None
    # Or receive syslog: udp://ADDR:PORT, tcp://ADDR:PORT or tls://ADDR:PORT (tls_cert and
    # tls_key, PEM), from the senders in allow (addresses or CIDR blocks).
    listen: Annotated[str, AfterValidator(listen_or_empty)] = ""
    allow: list[NetworkText] = Field(default_factory=list)
    tls_cert: str = ""
    tls_key: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Source:
        problems = []
        if sum(map(bool, (self.path, self.interface, self.listen))) != 1:
            problems.append(
                "give one of path (a log file), interface (pcap capture) or listen (syslog)"
            )
        if self.bpf and not self.interface:
            problems.append("bpf applies only with interface")
        problems += _listen_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        known = format_names()
        if value not in known:
            raise ValueError(f"unknown format {value!r} (expected one of {', '.join(known)})")
        return value

    def options(self) -> dict[str, str]:
        """The options of its format this source sets (``date_order``), by key."""
        given = {key: getattr(self, key) for key in OPTION_KEYS}
        return {key: value for key, value in given.items() if value is not None}


def _listen_problems(src: Source) -> list[str]:
    """What is wrong with a source's listen, allow and certificate keys together (each
    alone was checked already)."""
    if not src.listen:
        if src.allow or src.tls_cert or src.tls_key:
            return ["allow, tls_cert and tls_key apply only with listen"]
        return []
    problems = []
    address = parse_listen(src.listen)
    if not src.allow and not address.loopback:
        problems.append(
            "listen on a network address needs allow, the senders that may send "
            '(e.g. allow = ["10.20.0.1/32"]; ["0.0.0.0/0", "::/0"] accepts anyone)'
        )
    if address.scheme == "tls" and not (src.tls_cert and src.tls_key):
        problems.append("listen = tls://... needs tls_cert and tls_key (PEM files)")
    if address.scheme != "tls" and (src.tls_cert or src.tls_key):
        problems.append("tls_cert and tls_key apply only to listen = tls://...")
    return problems


class Settings(Section):
    school: School = School()
    storage: Storage = Storage()
    service: Service = Service()
    smtp: Smtp = Smtp()
    recipients: Recipients = Recipients()
    sources: list[Source] = Field(default_factory=list)
    lists: Lists = Lists()
    list_updates: ListUpdates = ListUpdates()
    policy: Policy = Policy()
    identity: Identity = Identity()
    roster: Roster = Roster()
    alerts: Alerts = Alerts()
    pipeline: Pipeline = Pipeline()
    agents: Agents = Agents()
    search: Search = Search()
    digest: Digest = Digest()
    retention: Retention = Retention()
    web: Web = Web()


class ConfigError(Exception):
    """A config that cannot be used: ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Config:
    """Validated settings plus the folder that relative paths in them are relative to."""

    def __init__(self, settings: Settings, base_dir: Path, path: Path | None = None) -> None:
        self.settings = settings
        self.base_dir = base_dir
        self.path = path

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.school.timezone)

    @property
    def site_id(self) -> str:
        """This school's id in a store that several schools may share."""
        return self.settings.school.site_id

    @property
    def database_url(self) -> str:
        url = self.settings.storage.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            rest = url[len(prefix) :]
            if rest and rest != ":memory:":
                return prefix + str(self.resolve(rest))
        return url

    @property
    def policy_file(self) -> Path | None:
        name = self.settings.policy.file
        return self.resolve(name) if name else None

    @property
    def lists_dir(self) -> Path:
        return self.resolve(self.settings.lists.dir)

    @property
    def pickup_dir(self) -> Path:
        return self.resolve(self.settings.smtp.pickup_dir)

    def smtp_password(self) -> str:
        """From ``password_file`` (relative to the config) or ``$MONITORD_SMTP_PASSWORD``."""
        name = self.settings.smtp.password_file
        if name:
            return self.resolve(name).read_text(encoding="utf-8").strip()
        return os.environ.get("MONITORD_SMTP_PASSWORD", "")


def config_warnings(cfg: Config) -> list[str]:
    """What a config allows but should not: secrets other users can read, a password sent
    in clear text. One line each, naming the key."""
    warnings: list[str] = []
    smtp = cfg.settings.smtp
    for key, name in (
        ("smtp.password_file", smtp.password_file),
        ("agents.tls_key", cfg.settings.agents.tls_key),
    ):
        if not name:
            continue
        path = cfg.resolve(name)
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            continue
        if mode & 0o007:
            warnings.append(
                f"warning: {key}: {path} can be read by every user of this server (mode "
                f"{mode:04o}): chmod 600 {path}"
            )
    if smtp.security == "none" and smtp.username and smtp.host:
        warnings.append(
            'warning: smtp.security = "none" with smtp.username: the password would cross the '
            'network in clear text (SMTP AUTH without TLS); use "starttls" or "tls"'
        )
    return warnings


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def _describe(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    msg = str(error.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if kind not in ("value_error", "missing") and "input" in error:
        msg += f" (got {error['input']!r})"
    return msg


def _missing_files(data: dict[str, Any], base_dir: Path) -> list[tuple[str, str]]:
    """Files the config names that are not there, read from the raw document so that they are
    reported alongside any other problem in the same run."""
    cfg = Config(Settings(), base_dir)
    problems: list[tuple[str, str]] = []

    def check(key: str, value: object, want_file: bool) -> None:
        if not isinstance(value, str) or not value:
            return
        p = cfg.resolve(value)
        if not (p.is_file() if want_file else p.exists()):
            problems.append((key, f"file not found: {p}"))

    for section, key in (
        ("smtp", "password_file"),
        ("smtp", "ca_file"),
        ("policy", "file"),
        ("list_updates", "ca_file"),
        ("web", "tls_cert"),
        ("web", "tls_key"),
    ):
        table = data.get(section)
        if isinstance(table, dict):
            check(f"{section}.{key}", table.get(key), True)
    sources = data.get("sources")
    names: set[str] = set()
    for i, src in enumerate(sources if isinstance(sources, list) else []):
        if not isinstance(src, dict):
            continue
        name = src.get("name")
        if isinstance(name, str):
            if name in names:
                problems.append((f"sources[{i}].name", f"duplicate source name {name!r}"))
            names.add(name)
        check(f"sources[{i}].path", src.get("path"), False)
        check(f"sources[{i}].tls_cert", src.get("tls_cert"), True)
        check(f"sources[{i}].tls_key", src.get("tls_key"), True)
    return problems


def parse_config(data: dict[str, Any], base_dir: Path, label: str) -> Config:
    """Validate a TOML document already read; raise ConfigError naming every problem."""
    problems: list[str] = []
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{label}: {_key_path(e['loc'])}: {line}"
            for e in exc.errors()
            for line in _describe(e).split("\n")
        ]
    problems += [f"{label}: {k}: {m}" for k, m in _missing_files(data, base_dir)]
    if problems or settings is None:
        raise ConfigError(problems)
    return Config(settings, base_dir)


def load_config(path: Path) -> Config:
    """Read and validate the config at ``path``."""
    label = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{label}: not valid TOML: {exc}"]) from None
    cfg = parse_config(data, path.resolve().parent, label)
    cfg.path = path
    return cfg


def find_config(explicit: str | None) -> Path:
    """``--config``, then ``$MONITORD_CONFIG``, then ``./config/monitord.toml``, then /etc."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("MONITORD_CONFIG")
    if env:
        return Path(env)
    local = Path("config/monitord.toml")
    if local.is_file():
        return local
    return Path("/etc/monitord/monitord.toml")
