"""The sections of monitord.toml other than the sources: each a frozen pydantic model with
its defaults and checks, read by :mod:`monitord.settings.config`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitord.core.categories import ALLOW, is_category
from monitord.core.timeparse import parse_duration
from monitord.settings.listen import check_host, check_network, parse_listen

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
NetworkText = Annotated[str, AfterValidator(check_network)]  # an address or a CIDR block


def host_or_empty(value: str) -> str:
    return check_host(value) if value else value


def listen_or_empty(value: str) -> str:
    if value:
        parse_listen(value)
    return value


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class School(Section):
    name: str = "Example Primary"
    timezone: str = "Europe/London"
    site_id: str = "default"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (expected e.g. Europe/London)") from exc
        return value


# The stores monitord works with: SQLite, and PostgreSQL through psycopg 3.
STORE_PREFIXES = ("sqlite:///", "postgresql+psycopg://")


class Storage(Section):
    url: str = "sqlite:///var/monitord.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        from sqlalchemy.engine import make_url

        shown = value.split("@")[-1][:80]  # never the password
        try:
            host = make_url(value).host if value.startswith(STORE_PREFIXES) else None
            if host:
                check_host(host)
        except ValueError:
            raise ValueError(f"{shown!r} is not a URL with a valid host and port") from None
        if not value.startswith(STORE_PREFIXES) or value in STORE_PREFIXES:
            raise ValueError(
                f"{shown!r} is not a store monitord supports: expected "
                "sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE"
            )
        return value


class Service(Section):
    """The account the daemon runs as (``monitord`` on a server install). A command run as
    root gives the files it leaves in the service's folders to this user."""

    user: str = ""


class Smtp(Section):
    host: Annotated[str, AfterValidator(host_or_empty)] = ""
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password_file: str = ""
    sender: str = "monitord@school.example"
    pickup_dir: str = "var/outbox-mail"
    timeout: Duration = timedelta(seconds=30)
    # Certificate authorities to trust for the server's certificate (PEM); empty: the system's.
    ca_file: str = ""


class Recipients(Section):
    dsl: list[str] = []
    headteacher: list[str] = []
    chair: list[str] = []
    technician: list[str] = []
    online_safety_group: list[str] = []


class Lists(Section):
    dir: str = "var/lists"
    # How often a running daemon looks for a change to the lists in use (an import, remove,
    # disable, enable or update by another process) and swaps in the new index.
    watch_interval: Duration = timedelta(seconds=30)


class ListSource(Section):
    """One source ``lists update`` fetches: a UT1 archive or tree, or one list file."""

    name: str  # the lists' names start with it: ut1/adult, ut1/gambling ...
    url: str  # https://... (a file: .tar.gz, .gz or plain) or rsync://... (a tree or file)
    format: Literal["ut1", "domains", "urls", "hosts", "e2guardian"]
    category: str = ""  # for domains, urls and hosts
    sha256: str = ""  # the download's SHA-256, when the source publishes a fixed one
    checksum_url: str = ""  # https:// file naming the download's MD5, SHA-256 or SHA-512

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
            raise ValueError(f"expected letters, digits, '-', '_' or '.', got {value!r}")
        return value

    @field_validator("url", "checksum_url")
    @classmethod
    def _scheme(cls, value: str, info: ValidationInfo) -> str:
        schemes = ("https://", "rsync://") if info.field_name == "url" else ("https://",)
        if (value or info.field_name == "url") and not value.startswith(schemes):
            raise ValueError(f"expected a URL starting {' or '.join(schemes)}, got {value!r}")
        if any(c.isspace() for c in value):
            raise ValueError("a URL has no spaces in it")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if value and not re.fullmatch(r"[0-9a-fA-F]{64}", value):
            raise ValueError("expected 64 hexadecimal digits")
        return value.lower()

    @model_validator(mode="after")
    def _category(self) -> ListSource:
        if self.format in ("domains", "urls", "hosts"):
            if not (is_category(self.category) or self.category == ALLOW):
                raise ValueError(f"format {self.format} needs category = a category id")
        elif self.category:
            raise ValueError(f"category applies to domains, urls and hosts, not {self.format}")
        return self


class ListUpdates(Section):
    """``lists update`` and the daemon's daily run of it: what to fetch and how to check it
    before the lists in use are replaced."""

    enabled: bool = True  # the daemon's daily job (with at least one source)
    time: str = "03:30"  # school time
    ca_file: str = ""  # PEM certificate authorities to trust for https; empty: the system's
    timeout: Duration = timedelta(minutes=5)
    max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)  # largest download taken
    # A source whose lists together lose more than this share of their entries is refused.
    max_shrink: float = Field(default=0.25, ge=0.0, le=1.0)
    sources: list[ListSource] = []

    @field_validator("time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        return hhmm(value)

    @field_validator("sources")
    @classmethod
    def _unique(cls, value: list[ListSource]) -> list[ListSource]:
        names = [s.name for s in value]
        for n in names:
            if names.count(n) > 1:
                raise ValueError(f"two sources named {n!r}")
        return value


def hhmm(value: str) -> str:
    """A time of day as HH:MM, or ValueError."""
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f"expected a time of day as HH:MM, got {value!r}")
    return value


class Policy(Section):
    file: str = ""


Role = Literal["pupil", "staff", "headteacher", "governor", "volunteer", "supply", "guest"]
Ownership = Literal[
    "school_single", "school_shared", "authorised", "pupil_owned", "staff_owned", "visitor_owned"
]


class Identity(Section):
    lease_time: Duration = timedelta(hours=24)
    # How far back the identity layer keeps leases, logons and proxy user names in memory
    # (from the newest it has seen); a backfill of older logs needs a longer history.
    history: Duration = timedelta(days=35)
    # A proxy user name seen from an address speaks for that address this long after.
    proxy_user_window: Duration = timedelta(minutes=10)
    # A lease for a device of these kinds (or for a MAC not in the inventory) raises
    # unauthorised_device, once per device per day.
    unauthorised_ownership: list[Ownership] = ["pupil_owned", "visitor_owned"]
    # Leases of addresses in these networks (the guest Wi-Fi) never raise it.
    guest_networks: list[NetworkText] = []


class RosterColumns(Section):
    """Which header of the school's MIS export holds each field (matched in any case).
    ``forename`` and ``surname``: separate name columns, used when there is no display name."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    username: str = "username"
    display_name: str = "display_name"
    forename: str = ""
    surname: str = ""
    role: str = "role"
    year_group: str = "year_group"
    class_name: str = Field(default="class", alias="class")
    email: str = "email"


class Roster(Section):
    columns: RosterColumns = RosterColumns()
    # The role of every row when the export has no role column (a pupils-only export).
    default_role: Role | None = None


MailTiming = Literal["immediate", "batched", "next_school_hours"]


class Alerts(Section):
    group_window: Duration = timedelta(hours=1)
    batch_interval: Duration = timedelta(hours=1)
    # An alert that keeps growing is mailed again (in the same thread) once its last mail is
    # older than this.
    realert_interval: Duration = timedelta(hours=1)
    # A critical alert about someone holds back the mail of their lower alerts this long.
    inhibit_window: Duration = timedelta(hours=4)
    # At most this many alert mails in any hour (0: no limit); the rest wait their turn.
    # Critical mail never waits.
    max_mails_per_hour: int = Field(default=30, ge=0)
    # Outside school hours (the policy's times), when high and medium mail goes. Critical
    # mail always goes at once.
    out_of_hours_high: MailTiming = "immediate"
    out_of_hours_medium: MailTiming = "next_school_hours"
    # ingest --backfill: alerts about events older than this are recorded but not mailed
    # (critical ones are).
    backfill_quiet_after: Duration = timedelta(days=2)
    # Who hears of unauthorised_device alerts: the technician, the DSL (routing by role, as
    # for other categories) or both.
    unauthorised_devices_to: Literal["technician", "dsl", "both"] = "both"

    @field_validator("group_window", "batch_interval", "realert_interval", "backfill_quiet_after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value


class Pipeline(Section):
    batch_size: int = Field(default=2000, ge=1, le=100_000)
    queue_size: int = Field(default=20_000, ge=1)
    flush_interval: Duration = timedelta(seconds=1)
    poll_interval: Duration = timedelta(seconds=1)
    health_interval: Duration = timedelta(minutes=1)


class Agents(Section):
    """Endpoint agents: the spool folder they (or a file share) drop reports into, and the
    optional HTTPS endpoint for agents that push."""

    spool: str = "var/spool"
    evidence: str = "var/evidence"
    listen: str = ""  # host:port of the HTTPS ingest endpoint; empty: no endpoint
    tls_cert: str = ""
    tls_key: str = ""
    max_body: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    rate_per_minute: int = Field(default=600, ge=1)
    # What keeps slow and many clients from wearing the endpoint down (collectors.httpserve).
    header_timeout: Duration = timedelta(seconds=10)
    body_timeout: Duration = timedelta(seconds=60)
    keepalive_timeout: Duration = timedelta(seconds=15)
    max_connections: int = Field(default=512, ge=1, le=65_536)
    max_per_address: int = Field(default=32, ge=1, le=65_536)
    max_requests: int = Field(default=100, ge=1)
    # Reports about more than this long ago are refused (and more than 5 minutes ahead).
    max_backfill: Duration = timedelta(days=7)
    # The spool takes reports only from enrolled agents (else also from agents not enrolled,
    # for devices that have no enrolled agent of their own).
    spool_enrolled_only: bool = False
    # The bytes of screenshots one agent may have kept at once (monitord.store.shots).
    screenshot_quota: int = Field(default=512 * 1024 * 1024, ge=0)

    @model_validator(mode="after")
    def _tls_unless_loopback(self) -> Agents:
        if not self.listen:
            return self
        host, sep, port = self.listen.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"listen {self.listen!r}: expected host:port")
        check_host(host.removeprefix("[").removesuffix("]"))
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")
        if not self.tls_cert and host not in ("127.0.0.1", "::1", "[::1]", "localhost"):
            raise ValueError("an endpoint off this machine needs tls_cert and tls_key (HTTPS)")
        return self


class Search(Section):
    """``monitord search`` and ``timeline``: each is recorded in the audit trail with the
    operator and, unless this is turned off, the reason they give (``--reason``), as the
    schools' investigation procedures require."""

    require_reason: bool = True


class Digest(Section):
    """The weekly digest to ``recipients.online_safety_group``: when it goes, in the school's
    time zone (a run missed while the server was down goes once at the next start)."""

    enabled: bool = True
    day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    time: str = "07:00"

    @field_validator("time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        return hhmm(value)


_PERIOD = re.compile(r"^\s*(\d+)\s*([dwy])\s*$")


def parse_period(value: object) -> str:
    """A retention period: ``"90d"``, ``"12w"`` or ``"7y"`` (calendar years), at least a day."""
    if isinstance(value, str):
        m = _PERIOD.match(value)
        if m and int(m.group(1)) > 0:
            return f"{int(m.group(1))}{m.group(2)}"
    raise ValueError(f"expected a period such as '90d', '12w' or '7y', got {value!r}")


def period_cutoff(period: str, now: datetime) -> datetime:
    """The moment ``period`` before ``now``: what is older than this has been kept long
    enough. Years are calendar years (29 February steps back to the 28th)."""
    n, unit = int(period[:-1]), period[-1]
    if unit == "y":
        try:
            return now.replace(year=now.year - n)
        except ValueError:
            return now.replace(year=now.year - n, day=28)
    return now - timedelta(days=n * (7 if unit == "w" else 1))


Period = Annotated[str, BeforeValidator(parse_period)]


class Retention(Section):
    """How long each kind of data is kept, enforced by a daily job at ``time`` (school time).

    Matches follow their events; events that belong to an alert stay as long as the alert,
    and an alert that is not closed is never removed. The audit trail is kept for ever unless
    ``audit`` is set."""

    enabled: bool = True
    time: str = "02:30"
    events: Period = "90d"  # events, with their matches, DHCP leases and supply visits
    rejected: Period = "90d"  # lines that could not be read
    alerts: Period = "7y"  # closed alerts (from their last change), their events and mail
    audit: Period | None = None  # off unless set
    # The most rows a transaction deletes; each is sized to hold the write lock about 40 ms
    # (some 300 events, or 2,500 lookups that matched nothing, on a loaded 2-core machine).
    batch_size: int = Field(default=5000, ge=10, le=50_000)

    @field_validator("time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        return hhmm(value)


class Web(Section):
    """The safeguarding console (``monitord web``): where it listens, the address alert mail
    links to, and how long a signed-in session lasts. Plain HTTP only on loopback (behind a
    reverse proxy that gives HTTPS); on any other address, the school's certificate."""

    listen: str = "127.0.0.1:8080"
    base_url: str = ""  # e.g. https://monitord.school.example; empty: no links in mail
    tls_cert: str = ""
    tls_key: str = ""
    session_idle: Duration = timedelta(minutes=15)
    session_max: Duration = timedelta(hours=8)
    # The key the accounts' TOTP secrets are encrypted with; empty: totp.key in the state
    # folder (beside a SQLite store, or beside the lists folder). Never inside the store.
    totp_key_file: str = ""
    # The reverse proxies whose X-Forwarded-For names the client (addresses or CIDR blocks);
    # from anyone else the header is ignored. [] trusts none.
    trusted_proxies: list[NetworkText] = ["127.0.0.1", "::1"]

    @model_validator(mode="after")
    def _consistent(self) -> Web:
        try:
            address = parse_listen(f"tcp://{self.listen}")
        except ValueError:
            raise ValueError(
                f"listen {self.listen!r}: expected ADDRESS:PORT, e.g. 127.0.0.1:8080 or [::1]:8080"
            ) from None
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together (PEM files)")
        if not self.tls_cert and not address.loopback:
            raise ValueError(
                f"listen {self.listen!r} without tls_cert and tls_key would send passwords in "
                "clear text: set tls_cert and tls_key (the school's certificate), or listen on "
                "127.0.0.1 behind a reverse proxy that gives HTTPS"
            )
        scheme, _, rest = self.base_url.partition("://")
        if self.base_url and (
            scheme not in ("http", "https") or not rest or not rest[0].isalnum() or "?" in rest
        ):
            raise ValueError(
                f"base_url {self.base_url[:80]!r}: expected the console's address as staff "
                "reach it, e.g. https://monitord.school.example"
            )
        if self.session_idle <= timedelta(0) or self.session_max < self.session_idle:
            raise ValueError("session_idle must be above 0 and session_max at least as long")
        return self
