"""Files with personal data are 0600 in 0700 folders whatever the umask, temporary files
follow no link, and root's commands leave the service's files to the service user."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import pwd
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerting.delivery import PickupNotifier, SentLog
from collectors.agent_http import AgentEndpoint, IngestSettings
from collectors.screenshots import store_blob
from monitord.casework.evidence import export_bundle
from monitord.casework.rights import backup, pg_dump_command, subject_access
from monitord.cli.main import main
from monitord.core.private import (
    OwnerError,
    append_private,
    ensure_private_file,
    hand_over,
    lookup_owner,
    open_new,
    private_dir,
    private_temp,
    private_workdir,
    service_owner,
    write_private,
)
from monitord.service.app import App, ingest_files
from monitord.store.database import make_engine, open_store
from tests.monitord.service.test_pipeline import log, school


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask a shell could pass on: every file readable by everyone."""
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


@pytest.mark.usefixtures("open_umask")
def test_written_files_are_0600_in_0700_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "bundle.zip"
    write_private(target, b"personal data")
    assert target.read_bytes() == b"personal data"
    assert mode(target) == 0o600
    assert (mode(tmp_path / "a"), mode(tmp_path / "a" / "b")) == (0o700, 0o700)
    assert [p.name for p in target.parent.iterdir()] == ["bundle.zip"]  # no temporary left
    write_private(target, b"newer")  # replacing keeps it private
    assert (target.read_bytes(), mode(target)) == (b"newer", 0o600)


def test_an_existing_folder_is_left_as_it_is(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    write_private(shared / "digest.txt", b"x")
    assert (mode(shared), mode(shared / "digest.txt")) == (0o755, 0o600)


def test_never_written_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    link = tmp_path / "planted"
    link.symlink_to(victim)
    with pytest.raises(FileExistsError):
        open_new(link)  # O_EXCL | O_NOFOLLOW: a link under a temporary's name stops the write
    write_private(link, b"backup")  # a link at the target itself is replaced, not followed
    assert victim.read_bytes() == b"untouched"
    assert not link.is_symlink()
    assert (link.read_bytes(), mode(link)) == (b"backup", 0o600)


def test_never_over_an_existing_file_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "000001.eml"
    target.write_bytes(b"earlier")
    with pytest.raises(FileExistsError):
        write_private(target, b"later", replace=False)
    assert target.read_bytes() == b"earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["000001.eml"]


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    def fail() -> None:
        with private_temp(tmp_path / "out.zip") as fh:
            fh.write(b"half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        fail()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("open_umask")
def test_appending_creates_and_tightens(tmp_path: Path) -> None:
    path = tmp_path / "state" / "monitord.db.mail-sent.1"
    with append_private(path) as fh:
        fh.write(b"one\n")
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
    os.chmod(path, 0o644)  # an older file others could read
    with append_private(path) as fh:
        fh.write(b"two\n")
    assert (path.read_bytes(), mode(path)) == (b"one\ntwo\n", 0o600)
    link = tmp_path / "link"
    link.symlink_to(path)
    with pytest.raises(OSError, match="Too many levels of symbolic links") as caught:
        append_private(link)
    assert caught.value.errno == errno.ELOOP


@pytest.mark.usefixtures("open_umask")
def test_the_store_and_its_wal_are_private(tmp_path: Path) -> None:
    db = tmp_path / "var" / "monitord.db"
    engine = open_store(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT 1")
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        assert wal.exists()
        assert shm.exists()
        assert (mode(db), mode(wal), mode(shm), mode(db.parent)) == (0o600, 0o600, 0o600, 0o700)
    finally:
        engine.dispose()


def test_an_older_store_others_could_read_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "monitord.db"
    open_store(f"sqlite:///{db}").dispose()
    os.chmod(db, 0o644)
    assert not ensure_private_file(db)
    make_engine(f"sqlite:///{db}").dispose()
    assert mode(db) == 0o600


def test_a_private_workdir_is_0700_and_goes_away(tmp_path: Path) -> None:
    with private_workdir(tmp_path) as work:
        assert mode(work) == 0o700
        (work / "backup").write_bytes(b"x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("open_umask")
def test_every_writer_of_personal_data_is_private(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Backups, subject access exports, evidence bundles, digests and reports written with
    --out, outbox .eml files, the sent-mail log, screenshots and agents' reports."""
    app = school(app, tmp_path)
    line = "Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7"
    ingest_files(app, [log(tmp_path, [line])], "dnsmasq", "resolver")
    now = app.clock.now()
    out = tmp_path / "out"
    written = [
        out / "backups" / "monitord.db",
        out / "sar" / "jayden.s.zip",
        out / "bundle.zip",
        out / "mail" / "000001.eml",
        out / "evidence" / "screenshots",
    ]
    assert backup(app.engine, written[0]) > 0
    subject_access(app.engine, "jayden.s", written[1], "dsl", "SAR 4", now)
    export_bundle(app.engine, app.cfg, 1, written[2], "dsl", now)
    where = asyncio.run(PickupNotifier(out / "mail").send(b"Subject: x\n\nx\n", "a@b", ["c@d"]))
    assert where.where == str(written[3])
    data = b"\x89PNG screenshot"
    shot = store_blob(data, hashlib.sha256(data).hexdigest(), out / "evidence")
    sent = SentLog.of(app.engine)
    assert sent is not None
    sent.write(1, 1, {"status": "sent"}, [])
    endpoint = AgentEndpoint(
        app.engine, app.clock, IngestSettings(out / "spool", out / "evidence"), app.cfg.tz
    )
    spooled = out / "spool" / endpoint._spool("lap-7", '{"kind": "typed_text"}\n')
    config = str(app.cfg.path)
    digest, report = out / "digest", out / "report"
    assert main(["--config", config, "digest", "--out", str(digest)]) == 0
    args = ["--from", "2026-11-01", "--to", "2026-11-30", "--out", str(report)]
    assert main(["--config", config, "report", *args]) == 0
    capsys.readouterr()
    files = [*written[:4], shot, sent.path, spooled, *digest.iterdir(), *report.iterdir()]
    assert len(files) > 10
    assert {str(p): mode(p) for p in files} == {str(p): 0o600 for p in files}
    folders = [written[0].parent, written[1].parent, written[3].parent, shot.parent, digest]
    assert {str(p): mode(p) for p in folders} == {str(p): 0o700 for p in folders}
    with zipfile.ZipFile(written[1]) as z:
        assert "person.json" in z.namelist()


def test_pg_dump_gets_its_password_from_the_environment(tmp_path: Path) -> None:
    engine = make_engine("postgresql+psycopg://monitord:s3cret%20pw@db.trust.example:5433/mon")
    try:
        argv, env = pg_dump_command(engine, tmp_path / "dump")
    finally:
        engine.dispose()
    assert not any("s3cret" in a for a in argv)
    assert env["PGPASSWORD"] == "s3cret pw"
    conninfo = argv[argv.index("--dbname") + 1]
    assert conninfo == "host='db.trust.example' port='5433' user='monitord' dbname='mon'"
    assert "--no-password" in argv


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files over needs root")
def test_root_gives_the_service_its_files(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, nobody.pw_uid, nobody.pw_gid)
    # As root, without a service user, a folder of another account's is refused with the fix.
    with pytest.raises(OwnerError, match=r"belongs to nobody.*\[service\] user = 'nobody'"):
        service_owner("", [state], euid=0)
    assert service_owner("", [tmp_path], euid=0) is None  # root's own folder: nothing to do
    assert service_owner("", [state], euid=1000) is None  # not root: the files are the user's
    owner = service_owner("nobody", [state], euid=0)
    assert owner == lookup_owner("nobody")
    assert owner is not None
    db = state / "monitord.db"
    db.write_bytes(b"")
    (state / "lists").mkdir()
    (state / "lists" / "index.bin").write_bytes(b"")
    changed = hand_over(owner, [db, state / "lists"])
    assert sorted(p.name for p in changed) == ["index.bin", "lists", "monitord.db"]
    for p in (db, state / "lists", state / "lists" / "index.bin"):
        assert (os.stat(p).st_uid, os.stat(p).st_gid) == (nobody.pw_uid, nobody.pw_gid)
    with pytest.raises(OwnerError, match="no account named 'no-such-user'"):
        service_owner("no-such-user", [state], euid=0)


def test_the_helpers_make_missing_folders_only(tmp_path: Path) -> None:
    assert private_dir(tmp_path) == tmp_path
    with pytest.raises(NotADirectoryError):
        private_dir(Path(__file__))


def test_opening_the_store_again_keeps_another_engines_locks(tmp_path: Path) -> None:
    """A second engine on a SQLite store the process already has open must not drop the
    first one's POSIX locks (closing any descriptor of a file drops them): another process
    would then take itself for the store's last user, checkpoint and delete the WAL on
    closing, and what the first engine wrote afterwards would go to a deleted file."""
    import subprocess
    import sys

    from sqlalchemy import text

    db = tmp_path / "var" / "monitord.db"
    db.parent.mkdir()
    db.write_bytes(b"")
    db.chmod(0o644)  # an older store others could read: tightened as it is opened
    count = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "print(c.execute('SELECT count(*) FROM t').fetchone()[0]); c.close()"
    )

    def seen_by_another_process() -> str:
        run = subprocess.run([sys.executable, "-c", count, str(db)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    first = make_engine(f"sqlite:///{db}")
    with first.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with first.connect() as held:  # an open connection, as the daemon keeps
        held.execute(text("SELECT 1")).scalar_one()
        (db.parent / "monitord.db-wal").chmod(0o644)
        make_engine(f"sqlite:///{db}").dispose()
        assert stat.S_IMODE((db.parent / "monitord.db-wal").stat().st_mode) == 0o600
        assert seen_by_another_process() == "1"
        held.execute(text("INSERT INTO t VALUES (2)"))
        held.commit()
        assert seen_by_another_process() == "2"
    first.dispose()
