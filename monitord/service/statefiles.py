"""What a command leaves in the service's state: whose files they are, and the anchor of the
audit trail it writes as it ends.

Run as root (``sudo monitord people import ...``) a command would leave a store, a WAL, a
compiled list or an outbox file that only root can open, and the daemon, running as the
service user, would stop storing. With ``[service] user`` set, what root's command leaves in
the service's folders is handed to that user when it ends; without it, a command run as root
where those folders belong to another account refuses before it writes anything, and says
how to put it right (``monitord.core.private.service_owner``).
"""

from __future__ import annotations

import logging
import pwd
from datetime import datetime
from pathlib import Path

from monitord.casework.totpkey import key_file
from monitord.casework.trail import anchor_file, write_anchor
from monitord.core.private import Owner, hand_over, service_owner
from monitord.settings.config import Config
from monitord.store.database import make_engine, sqlite_file, store_files

log = logging.getLogger("monitord.service.statefiles")


def login_name(uid: int) -> str:
    """The login name of a user id: who a command's actions are recorded as. Taken from the
    real user id the kernel gives the process, never from $SUDO_USER, $USER or $LOGNAME,
    which whoever runs the command sets as they like."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def state_folders(cfg: Config) -> list[Path]:
    """The folders the service keeps its state in."""
    a = cfg.settings.agents
    folders = [cfg.lists_dir, cfg.pickup_dir, cfg.resolve(a.spool), cfg.resolve(a.evidence)]
    db = sqlite_file(cfg.database_url)
    if db is not None:
        folders.insert(0, db.parent)
    return folders


def state_paths(cfg: Config) -> list[Path]:
    """The files and folders a command may leave for the service: the store's files, the
    anchors and sent-mail logs beside it, the TOTP key, and the lists, outbox and evidence
    folders."""
    paths: list[Path] = [anchor_file(cfg), key_file(cfg)]
    db = sqlite_file(cfg.database_url)
    if db is not None:
        paths += store_files(db)
        paths += sorted(db.parent.glob(db.name + ".mail-sent.*"))
    paths += [cfg.lists_dir, cfg.pickup_dir, cfg.resolve(cfg.settings.agents.evidence)]
    return paths


def owner_for(cfg: Config) -> Owner | None:
    """Whom root's command must leave its files to (None when not root); raises OwnerError
    when it must not run as root at all."""
    return service_owner(cfg.settings.service.user, state_folders(cfg))


def missing_folders(cfg: Config) -> list[Path]:
    """The state folders not made yet: those a command makes are the service's too."""
    return [f for f in state_folders(cfg) if not f.exists()]


def finish(
    cfg: Config, owner: Owner | None, why: str, now: datetime, made: list[Path] | None = None
) -> list[str]:
    """At the end of a command: anchor the audit trail, then hand root's files over (with
    ``made``, the state folders it made). Returns warnings (one line each): neither may turn
    a done command into a failure."""
    warnings: list[str] = []
    db = sqlite_file(cfg.database_url)
    if db is None or db.exists():
        path = anchor_file(cfg)
        engine = make_engine(cfg.database_url)
        try:
            write_anchor(engine, path, why, now)
        except Exception as exc:  # a store or file we cannot reach: said, not fatal
            warnings.append(f"warning: could not anchor the audit trail in {path}: {exc}")
        finally:
            engine.dispose()
    if owner is not None:
        try:
            changed = hand_over(owner, [*(made or []), *state_paths(cfg)])
        except OSError as exc:
            warnings.append(f"warning: could not give the service's files to {owner.name}: {exc}")
        else:
            if changed:
                log.info("gave %d file(s) to %s", len(changed), owner.name)
    return warnings
