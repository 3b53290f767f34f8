"""Files that hold personal data: the store, backups, exports, evidence, digests and mail.

Every such file is created 0600 and every folder monitord makes for them 0700, whatever the
process's umask (a command run from a shell with umask 022 included). A file is first written
under a temporary name opened with O_EXCL and O_NOFOLLOW (a link planted under that name makes
the open fail instead of redirecting the data), then renamed into place, so a reader never sees
half a file and nobody can point the write elsewhere.

When a command runs as root, the files it leaves in the service's folders are handed to the
service user (``[service] user``), or the command refuses before it writes anything
(``service_owner``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o600
DIR_MODE = 0o700
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def private_dir(path: Path) -> Path:
    """``path`` as a folder; every folder missing on the way is made 0700. A folder that is
    already there is left as it is (it may be the operator's own, like /tmp)."""
    missing: list[Path] = []
    p = path
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            continue  # made by another process meanwhile
        os.chmod(folder, DIR_MODE, follow_symlinks=False)
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder")
    return path


def open_new(path: Path) -> int:
    """A new file at ``path`` opened for writing, 0600: never an existing file, never through
    a symbolic link (FileExistsError if anything is there)."""
    fd = os.open(path, _NEW, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd


def _temp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")


@contextlib.contextmanager
def private_temp(target: Path, *, replace: bool = True) -> Iterator[BinaryIO]:
    """Write ``target`` through the handle yielded: the data goes to a new private file
    beside it, synced to disk and renamed over ``target`` when the block ends (removed if it
    fails). ``replace=False`` never replaces anything already at ``target``
    (FileExistsError)."""
    private_dir(target.parent)
    tmp = _temp_name(target)
    fd = open_new(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, target)  # a link at target is replaced, never followed
        else:
            os.link(tmp, target, follow_symlinks=False)  # fails if anything is there
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_private(target: Path, data: bytes, *, replace: bool = True) -> Path:
    """Write ``data`` to ``target`` (0600, through a temporary file renamed into place)."""
    with private_temp(target, replace=replace) as fh:
        fh.write(data)
    return target


def append_private(path: Path) -> BinaryIO:
    """``path`` opened to append (created 0600 if missing, never through a link); a file of
    ours that others could read is made 0600 first."""
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, FILE_MODE)
    try:
        _tighten_fd(fd, path)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "ab")


def _tighten_fd(fd: int, path: Path) -> None:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"{path} is not a regular file")
    if st.st_mode & 0o077 and st.st_uid == os.geteuid():
        os.fchmod(fd, FILE_MODE)


def ensure_private_file(path: Path) -> bool:
    """Make ``path`` an empty 0600 file if nothing is there (so that a program that creates
    files of its own, like SQLite, finds it private); an existing file of ours that others
    could read is made 0600. Returns whether the file was created."""
    private_dir(path.parent)
    try:
        os.close(open_new(path))
        return True
    except FileExistsError:
        pass
    tighten(path)
    return False


def tighten(path: Path) -> None:
    """Make an existing regular file of ours 0600 (no link is followed); nothing if missing.

    The file is changed by name, never opened: closing a descriptor of a file drops every
    POSIX lock this process holds on it, and SQLite's locks on a store (and its WAL and
    shared memory) that another engine of the same process has open are such locks."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or not st.st_mode & 0o077:
        return  # missing, a link, not a regular file, not ours, or private already
    with contextlib.suppress(OSError):
        os.chmod(path, FILE_MODE)


@contextlib.contextmanager
def private_workdir(parent: Path) -> Iterator[Path]:
    """A new 0700 folder inside ``parent``, removed afterwards: for programs that open files
    by name (SQLite's backup, pg_dump), no one else can plant a link inside it."""
    private_dir(parent)
    folder = Path(tempfile.mkdtemp(prefix=".monitord-", dir=parent))
    os.chmod(folder, DIR_MODE)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class Owner:
    """The account whose files the service's are: the service user and its group."""

    name: str
    uid: int
    gid: int


class OwnerError(Exception):
    """A command run as root would leave files the service cannot use; the message has the
    fix."""


def lookup_owner(user: str) -> Owner:
    """The service user named in the config, with its primary group."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise OwnerError(f"service.user: no account named {user!r} on this server") from None
    return Owner(entry.pw_name, entry.pw_uid, entry.pw_gid)


def service_owner(user: str, folders: Iterable[Path], *, euid: int | None = None) -> Owner | None:
    """Who the files a command leaves in the service's ``folders`` must belong to.

    None unless the command runs as root. As root with a service user configured, that user
    (the command hands its files over when it ends). As root without one, a folder that
    belongs to another account means the service runs as that account: the command refuses,
    since it would leave files the service cannot open, and says how to put it right."""
    if (os.geteuid() if euid is None else euid) != 0:
        return None
    if user:
        return lookup_owner(user)
    for folder in folders:
        try:
            st = folder.stat()
        except OSError:
            continue
        if st.st_uid != 0:
            try:
                name = pwd.getpwuid(st.st_uid).pw_name
            except KeyError:
                name = str(st.st_uid)
            raise OwnerError(
                f"{folder} belongs to {name}, and a command run as root would leave files "
                f"there that {name} cannot open: run it as that user "
                f"(sudo -u {name} monitord ...), or add [service] user = {name!r} to the config "
                "so that root's commands hand their files over"
            )
    return None


def hand_over(owner: Owner, paths: Iterable[Path]) -> list[Path]:
    """Give every root-owned file or folder among ``paths`` (folders: and what they hold)
    to ``owner``, without following links. Returns what was changed."""
    changed: list[Path] = []

    def give(p: Path) -> None:
        try:
            st = os.lstat(p)
        except OSError:
            return
        if st.st_uid == 0 and not stat.S_ISLNK(st.st_mode):
            os.chown(p, owner.uid, owner.gid, follow_symlinks=False)
            changed.append(p)

    for path in paths:
        give(path)
        if path.is_dir() and not path.is_symlink():
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    give(Path(root) / name)
    return changed
