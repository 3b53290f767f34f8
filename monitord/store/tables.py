"""The store's tables, as SQLModel models (SQLite by default, PostgreSQL for trusts).

Schema changes go through Alembic migrations in ``monitord/store/migrations``; these models and the
newest migration must describe the same schema (a test compares them).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, Text, text
from sqlmodel import Field, SQLModel

# The lookups' tables, in their own module, are models of this schema too.
from monitord.store.lookuptables import LookupNameRow as LookupNameRow
from monitord.store.lookuptables import LookupPartyRow as LookupPartyRow
from monitord.store.lookuptables import LookupRequestRow as LookupRequestRow
from monitord.store.lookuptables import LookupRow as LookupRow
from monitord.store.lookuptables import LookupUrlRow as LookupUrlRow
from monitord.store.lookuptables import LookupVerdictRow as LookupVerdictRow
from monitord.store.lookuptables import RawBlockRow as RawBlockRow
from monitord.store.partitions import LOOKUP_KINDS, is_partition_name

_BIG = BigInteger().with_variant(Integer(), "sqlite")


class EventRow(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_ts", "ts"),
        Index("ix_events_ip_ts", "client_ip", "ts"),
        # ix_events_user_ts, a person's events by time, is made by the migrations (0008 and
        # 0010): (username, ts) on PostgreSQL; on SQLite with every column search shows as
        # well, so that a person's day is read from the index alone.
        Index("ix_events_device_ts", "device_id", "ts"),
        # A domain's events in time order, read from the index alone: search takes the newest
        # of many names (a suffix such as *.tiktok.com) without touching their rows.
        Index("ix_events_domain_ts", "domain", "ts"),
        # Flagged events only (most have no category): search by category stays cheap.
        Index(
            "ix_events_category_ts",
            "category",
            "ts",
            sqlite_where=text("category IS NOT NULL"),
            postgresql_where=text("category IS NOT NULL"),
        ),
        # Logons and logoffs only, so the identity layer finds its sessions at start without
        # reading every event; a partial index costs other inserts next to nothing.
        # Screenshot reports by the picture they carry: retention finds whether any is left.
        Index(
            "ix_events_screenshots",
            "text",
            sqlite_where=text("kind = 'screenshot'"),
            postgresql_where=text("kind = 'screenshot'"),
        ),
        Index(
            "ix_events_sessions",
            "ts",
            sqlite_where=text("kind IN ('logon', 'logoff')"),
            postgresql_where=text("kind IN ('logon', 'logoff')"),
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    site_id: str = Field(default="default", max_length=64)
    ts: datetime
    source: str = Field(max_length=128)
    fmt: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    client_ip: str | None = Field(default=None, max_length=64)
    client_mac: str | None = Field(default=None, max_length=32)
    user: str | None = Field(default=None, max_length=256)
    domain: str | None = Field(default=None, max_length=512)
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    method: str | None = Field(default=None, max_length=16)
    qtype: str | None = Field(default=None, max_length=16)
    action: str | None = Field(default=None, max_length=64)
    blocked: bool = False
    status: int | None = None
    # 64-bit on PostgreSQL (a download can pass 2 GiB); SQLite's INTEGER already is.
    size: int | None = Field(default=None, sa_column=Column(_BIG, nullable=True))
    hostname: str | None = Field(default=None, max_length=256)
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    username: str | None = Field(default=None, max_length=256)
    device_id: str | None = Field(default=None, max_length=128)
    # The person's role and year group as they were when the event happened.
    role: str | None = Field(default=None, max_length=32)
    year_group: str | None = Field(default=None, max_length=8)
    # How the person was found (user_in_record, logon_session, proxy_user, assigned_device,
    # supply_checkin, device_only, unattributed); ``attribution`` says it in words.
    attributed_by: str | None = Field(default=None, max_length=24)
    attribution: str = Field(default="unattributed", max_length=512)
    category: str | None = Field(default=None, max_length=32)
    severity: str = Field(default="none", max_length=16)
    file_id: str = Field(max_length=64)
    offset: int = Field(sa_column=Column(_BIG, nullable=False))
    # The school's filter's own category for the event (its verdict is blocked and action).
    filter_category: str | None = Field(default=None, max_length=128)
    # A syslog event's sending host (its envelope's) and when monitord received it.
    sender: str | None = Field(default=None, max_length=255)
    received_at: datetime | None = None
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # The endpoint agent that reported the event (checked against its token or enrolment).
    agent: str | None = Field(default=None, max_length=128)


class ScreenshotRow(SQLModel, table=True):
    """A screenshot an agent sent (kept once under its SHA-256 in the evidence folder): its
    size counts toward the agent's quota; it goes when no report carries it
    (monitord.store.shots)."""

    __tablename__ = "screenshots"

    site_id: str = Field(default="default", primary_key=True, max_length=64)
    sha256: str = Field(primary_key=True, max_length=64)
    agent: str = Field(primary_key=True, max_length=128)
    bytes: int = Field(sa_column=Column(_BIG, nullable=False))
    stored_at: datetime


class DomainNameRow(SQLModel, table=True):
    """Every domain name the events hold, once: kept by a trigger on ``events`` (migration
    0007), so that a suffix search (``*.tiktok.com``) scans these names rather than the
    events, then reads the matching names' events from ``ix_events_domain_ts``."""

    __tablename__ = "domain_names"

    domain: str = Field(primary_key=True, max_length=512)


# SQLite's full-text index of event URLs and texts (``monitord search --text``): an FTS5
# virtual table with the trigram tokenizer, its shadow tables and the queue that feeds it in
# batches, all named ``events_text*``. Migration 0007 makes them and keeps them in step with
# ``events`` by triggers (and moves the queue into the index when the follower commits its
# checkpoint); they are not models. A migration that rebuilds ``events`` (rather than
# altering it in place) must make the triggers again and rebuild the index.
TEXT_INDEX = "events_text"


def is_model_table(name: str) -> bool:
    """False for the tables migrations make that are not models: SQLite's text index, and
    on PostgreSQL the day partitions of ``events`` and ``lookups``, the trigram indexes and
    the lookups' tables by kind (migrations 0008, 0024, 0027)."""
    if name.startswith(TEXT_INDEX) or name.endswith("_trgm") or name in LOOKUP_KINDS:
        return False
    return not is_partition_name(name)


# Indexes a migration makes differently on each database, which the models cannot say:
# lookups are found by (party, ts), (name, ts) and (verdict, ts) on SQLite, by party, name
# and verdict alone within each day's partition on PostgreSQL (migration 0024); proxy
# requests by (url, ts) on SQLite, url alone on PostgreSQL (0025).
PER_DATABASE_INDEXES = frozenset(
    {
        "ix_events_user_ts",
        "ix_lookups_party_ts",
        "ix_lookups_name_ts",
        "ix_lookups_verdict_ts",
        "ix_lookups_party",
        "ix_lookups_name",
        "ix_lookups_verdict",
        "ix_lookups_url_ts",
        "ix_lookups_url",
    }
)


def include_name(name: str | None, kind: str, _parents: object) -> bool:
    """For Alembic's comparisons: the tables and indexes that are the models' own."""
    if kind == "index" and name in PER_DATABASE_INDEXES:
        return False
    return kind not in ("table", "index") or name is None or is_model_table(name)


class RejectedRow(SQLModel, table=True):
    __tablename__ = "rejected"

    site_id: str = Field(default="default", index=True, max_length=64)
    id: str = Field(primary_key=True, max_length=32)
    source: str = Field(index=True, max_length=128)
    fmt: str = Field(max_length=32)
    path: str = Field(sa_column=Column(Text, nullable=False))
    file_id: str = Field(max_length=64)
    offset: int
    reason: str = Field(sa_column=Column(Text, nullable=False))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    read_at: datetime


class MatchRow(SQLModel, table=True):
    __tablename__ = "matches"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True, max_length=32)
    category: str = Field(max_length=32)
    list_name: str = Field(max_length=256)
    entry: str = Field(sa_column=Column(Text, nullable=False))
    score: int = 0
    allow: bool = False


class PersonRow(SQLModel, table=True):
    __tablename__ = "people"

    site_id: str = Field(default="default", primary_key=True, max_length=64)
    username: str = Field(primary_key=True, max_length=256)
    display_name: str = Field(max_length=256)
    role: str = Field(max_length=32)
    year_group: str | None = Field(default=None, max_length=8)
    class_name: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=256)
    active: bool = True
    updated_at: datetime


class DeviceRow(SQLModel, table=True):
    __tablename__ = "devices"

    site_id: str = Field(default="default", primary_key=True, max_length=64)
    device_id: str = Field(primary_key=True, max_length=128)
    mac: str | None = Field(default=None, index=True, max_length=32)
    hostname: str | None = Field(default=None, max_length=256)
    ownership: str = Field(max_length=32)
    assigned_to: str | None = Field(default=None, max_length=256)
    ip: str | None = Field(default=None, max_length=64)  # a reserved (static) address
    location: str | None = Field(default=None, max_length=128)  # where a shared device lives
    active: bool = True
    updated_at: datetime


class ReservationRow(SQLModel, table=True):
    """A device's reserved address from the devices file, kept as history: a changed
    reservation ends the old row and starts a new one."""

    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_ip_starts", "ip", "starts"),)

    site_id: str = Field(default="default", index=True, max_length=64)
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(index=True, max_length=128)
    ip: str = Field(max_length=64)
    starts: datetime
    ends: datetime | None = None


class SupplyVisitRow(SQLModel, table=True):
    """A supply or student teacher checked in on a shared login for one school day."""

    __tablename__ = "supply_visits"
    __table_args__ = (Index("ix_supply_visits_login_day", "login", "day"),)

    site_id: str = Field(default="default", index=True, max_length=64)
    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=256)
    day: date
    name: str = Field(max_length=256)
    class_name: str | None = Field(default=None, max_length=64)
    recorded_at: datetime
    recorded_by: str = Field(max_length=128)
    source: str = Field(sa_column=Column(Text, nullable=False))


class LeaseRow(SQLModel, table=True):
    """A time-bounded binding of an IP address to a MAC address."""

    __tablename__ = "leases"
    __table_args__ = (Index("ix_leases_ip_starts", "ip", "starts"),)

    site_id: str = Field(default="default", index=True, max_length=64)
    id: str = Field(primary_key=True, max_length=32)
    ip: str = Field(max_length=64)
    mac: str = Field(index=True, max_length=32)
    hostname: str | None = Field(default=None, max_length=256)
    starts: datetime
    ends: datetime | None = None
    source: str = Field(max_length=128)


class AlertRow(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_group", "group_key", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(default="default", max_length=64)
    group_key: str = Field(max_length=512)
    created_at: datetime
    updated_at: datetime
    severity: str = Field(max_length=16)
    category: str = Field(max_length=32)
    status: str = Field(default="open", max_length=16)
    person: str | None = Field(default=None, max_length=256)
    role: str | None = Field(default=None, max_length=32)
    year_group: str | None = Field(default=None, max_length=8)
    device: str | None = Field(default=None, max_length=128)
    ip: str | None = Field(default=None, max_length=64)
    indicator: str = Field(sa_column=Column(Text, nullable=False))
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    blocked: bool = False
    sources: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    recipients: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    rule: str = Field(default="", sa_column=Column(Text, nullable=False))
    outcome: str | None = Field(default=None, max_length=64)
    # Why monitord believes it was this person or device (the first event's attribution).
    attribution: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Case work: who handles the alert, and the second senior person who reviewed it.
    assignee: str | None = Field(default=None, max_length=128)
    reviewer: str | None = Field(default=None, max_length=128)
    reviewed_at: datetime | None = None


class AlertEventRow(SQLModel, table=True):
    __tablename__ = "alert_events"
    # Which alerts hold an event: retention keeps those events as long as their alerts.
    __table_args__ = (Index("ix_alert_events_event_id", "event_id"),)

    alert_id: int = Field(primary_key=True)
    event_id: str = Field(primary_key=True, max_length=32)


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"

    site_id: str = Field(default="default", index=True, max_length=64)
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = Field(default=None, index=True)
    created_at: datetime
    due_at: datetime
    status: str = Field(default="queued", index=True, max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    message_id: str = Field(max_length=256)
    recipients: str = Field(sa_column=Column(Text, nullable=False))
    subject: str = Field(sa_column=Column(Text, nullable=False))
    message: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sent_at: datetime | None = None
    delivered_to: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The alert's severity when the mail was queued: critical mail never waits for the cap.
    severity: str = Field(default="", max_length=16)
    # The Message-ID of the alert's first mail, which an update replies to.
    thread: str | None = Field(default=None, max_length=256)
    # Recipients the server refused while it accepted others: {address: reply}, as JSON.
    refused: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class SilenceRow(SQLModel, table=True):
    """A silence: alerts about one person or device (optionally one category) are still made
    but not mailed until it expires. Critical alerts are never silenced."""

    __tablename__ = "silences"

    site_id: str = Field(default="default", index=True, max_length=64)
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime
    created_by: str = Field(max_length=128)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    person: str | None = Field(default=None, max_length=256)
    device: str | None = Field(default=None, max_length=128)
    category: str | None = Field(default=None, max_length=32)
    expires_at: datetime = Field(index=True)
    expired_at: datetime | None = None
    expired_by: str | None = Field(default=None, max_length=128)


class SourceCountRow(SQLModel, table=True):
    """What a source passed over, counted by kind and name: the programs a syslog source has
    no parser for, the senders a listener refused, the messages it had to drop."""

    __tablename__ = "source_counts"

    site_id: str = Field(default="default", primary_key=True, max_length=64)
    source: str = Field(primary_key=True, max_length=128)
    kind: str = Field(primary_key=True, max_length=32)
    name: str = Field(primary_key=True, max_length=128)
    count: int = Field(default=0, sa_column=Column(_BIG, nullable=False))
    last_at: datetime


class CheckpointRow(SQLModel, table=True):
    """Where a source has read up to; written in the same transaction as the events."""

    __tablename__ = "checkpoints"

    site_id: str = Field(default="default", primary_key=True, max_length=64)
    source: str = Field(primary_key=True, max_length=128)
    path: str = Field(sa_column=Column(Text, nullable=False))
    file_id: str = Field(max_length=64)
    inode: int = 0
    offset: int = 0
    lines: int = 0
    events: int = 0
    rejected: int = 0
    last_event_at: datetime | None = None
    updated_at: datetime


class ListVersionRow(SQLModel, table=True):
    __tablename__ = "list_versions"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, max_length=256)
    category: str = Field(max_length=32)
    fmt: str = Field(max_length=32)
    source: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    domains: int = 0
    urls: int = 0
    expressions: int = 0
    path: str = Field(sa_column=Column(Text, nullable=False))
    imported_at: datetime
    imported_by: str = Field(default="", max_length=128)
    active: bool = True


class AuditRow(SQLModel, table=True):
    """Append-only, hash-chained record of what was done and seen, and in which school.

    ``version`` is the form of the record's hash: 0 for records written before the trail
    had a school (their hash leaves ``site_id`` out), 1 since (the hash covers it)."""

    __tablename__ = "audit"
    # One school's trail, a page at a time, newest first.
    __table_args__ = (Index("ix_audit_site_id_id", "site_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(default="default", max_length=64)
    version: int = Field(default=1)
    ts: datetime
    actor: str = Field(max_length=128)
    action: str = Field(index=True, max_length=64)
    subject: str = Field(default="", max_length=256)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AgentRow(SQLModel, table=True):
    """An endpoint agent allowed to push reports: its bearer token is kept only as a hash."""

    __tablename__ = "agents"

    site_id: str = Field(default="default", primary_key=True, max_length=64)
    name: str = Field(primary_key=True, max_length=128)
    token_sha256: str = Field(index=True, max_length=64)
    created_at: datetime
    created_by: str = Field(default="", max_length=128)
    revoked_at: datetime | None = None
    last_seen_at: datetime | None = None
    # The device it reports for (``agents add NAME --device ID``); None: enrolled before
    # agents were bound to devices, refused until enrolled again.
    device_id: str | None = Field(default=None, max_length=128)


class LegacyOriginRow(SQLModel, table=True):
    """A file some of whose events were stored before event ids came from what was read
    alone (schema 0014), and the source whose name its ids were made with then: reading it
    again gives the same ids (``monitord.store.origins``). Written once, by that migration."""

    __tablename__ = "legacy_origins"

    site_id: str = Field(primary_key=True, max_length=64)
    file_id: str = Field(primary_key=True, max_length=64)
    source: str = Field(max_length=128)


class DigestRow(SQLModel, table=True):
    """A weekly digest queued for mail: one per site, week and edition, so that a digest is
    never sent twice (a run missed while the server was down, then caught up at the next
    start, finds its week here once it has gone)."""

    __tablename__ = "digests"

    site_id: str = Field(primary_key=True, max_length=64)
    week: str = Field(primary_key=True, max_length=8)  # ISO week, as 2026-W47
    edition: str = Field(primary_key=True, max_length=16)  # group (initials) or named (DSL)
    queued_at: datetime
    queued_by: str = Field(max_length=128)
    outbox_id: int | None = None
    recipients: str = Field(default="[]", sa_column=Column(Text, nullable=False))


class AccountRow(SQLModel, table=True):
    """A member of staff who signs in to the console or acts on the command line
    (``monitord.casework.accounts``): the password only as an argon2id hash; the TOTP
    secret the authenticator app shares; the one-time enrolment code only as a hash."""

    __tablename__ = "accounts"

    site_id: str = Field(default="default", primary_key=True, max_length=64)
    username: str = Field(primary_key=True, max_length=64)
    full_name: str = Field(default="", max_length=256)
    email: str = Field(default="", max_length=256)
    role: str = Field(max_length=16)
    password_hash: str | None = Field(default=None, max_length=256)
    totp_secret: str | None = Field(default=None, max_length=128)  # encrypted (totpkey)
    # The time step (30 s) of the last code accepted: no code is accepted twice.
    totp_step: int = Field(default=0, sa_column=Column(_BIG, nullable=False))
    # pending: waiting for its first sign-in with the enrolment code; active: enrolled.
    state: str = Field(default="pending", max_length=16)
    enrol_hash: str | None = Field(default=None, max_length=64)
    enrol_expires: datetime | None = None
    disabled: bool = False
    created_at: datetime
    updated_at: datetime


class RecoveryCodeRow(SQLModel, table=True):
    """One of an account's one-time recovery codes, kept as its SHA-256 only."""

    __tablename__ = "recovery_codes"

    site_id: str = Field(default="default", primary_key=True, max_length=64)
    username: str = Field(primary_key=True, max_length=64)
    code_hash: str = Field(primary_key=True, max_length=64)
    created_at: datetime
    used_at: datetime | None = None


class SignInAttemptRow(SQLModel, table=True):
    """A sign-in attempt (console or command line), for lock-out: the name given, the
    address it came from, when, and how it ended (ok, failed, locked)."""

    __tablename__ = "signin_attempts"
    __table_args__ = (
        Index("ix_signin_attempts_username_ts", "site_id", "username", "ts"),
        Index("ix_signin_attempts_address_ts", "site_id", "address", "ts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(default="default", max_length=64)
    username: str = Field(max_length=64)
    address: str = Field(max_length=64)
    ts: datetime
    outcome: str = Field(max_length=16)


class WebSessionRow(SQLModel, table=True):
    """A signed-in console session: its id only as a SHA-256, the CSRF token its forms
    carry, and when it was made and last used (idle expiry and maximum age)."""

    __tablename__ = "web_sessions"

    site_id: str = Field(default="default", max_length=64)
    id_hash: str = Field(primary_key=True, max_length=64)
    username: str = Field(index=True, max_length=64)
    created_at: datetime
    last_seen: datetime
    csrf: str = Field(max_length=64)
    address: str = Field(max_length=64)


class ReviewRow(SQLModel, table=True):
    """The school's annual review of its filtering and monitoring (the DfE standard): when,
    who reviewed it (accounts, as JSON), what was checked (the standard's points and notes),
    what was changed, when the next one is due, and who recorded it."""

    __tablename__ = "filtering_reviews"

    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(default="default", index=True, max_length=64)
    reviewed_on: date
    reviewers: str = Field(sa_column=Column(Text, nullable=False))
    checked: str = Field(sa_column=Column(Text, nullable=False))
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    changed: str = Field(sa_column=Column(Text, nullable=False))
    next_review: date
    recorded_by: str = Field(max_length=128)
    recorded_at: datetime
