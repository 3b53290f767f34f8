"""No task of the daemon dies silently: each long-running one (every source, the writer,
mail delivery, the scheduler, the agents' endpoint, the health check) runs under a
supervisor.

An unexpected exception is logged at once with its traceback and the task started again
after a pause that doubles with each failure in a row (1 s up to a minute). A task that
keeps failing (``UNHEALTHY_AFTER`` times in a row without doing its work in between) makes
the daemon unhealthy: ``/v1/health`` answers 503, ``monitord status`` and systemd's STATUS=
name the task and its error, and the watchdog is no longer fed, so that systemd restarts
the daemon. What the daemon reports is also written, every few seconds, to a small JSON file
in its state folder (``HEALTH_FILE``) for ``monitord status`` to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitord.core.clock import Clock
from monitord.settings.config import Config

log = logging.getLogger("monitord.service.supervise")
BACKOFF = 1.0
BACKOFF_MAX = 60.0
UNHEALTHY_AFTER = 5
# A task that ran this long before failing starts counting its failures afresh.
STEADY = 300.0
HEALTH_FILE = "monitord.service.health.json"
# A health file older than this was left by a daemon that is no longer running.
STALE = timedelta(minutes=2)


def health_path(cfg: Config) -> Path:
    """Where the daemon writes its health: its state folder (``var/`` beside the config, or
    ``/var/lib/monitord``), the folder that holds the lists' folder."""
    return cfg.lists_dir.parent / HEALTH_FILE


def one_line(exc: BaseException) -> str:
    """An error in one line: its type and the first line of its message."""
    text = str(exc).strip().split("\n", 1)[0][:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class TaskHealth:
    name: str
    state: str = "running"  # running, restarting, stopped
    failures: int = 0  # in a row, since the task last did its work
    restarts: int = 0
    last_error: str | None = None
    failed_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "failures_in_a_row": self.failures,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "failed_at": self.failed_at.isoformat().replace("+00:00", "Z")
            if self.failed_at
            else None,
        }


class Supervisor:
    def __init__(
        self,
        clock: Clock,
        *,
        backoff: float = BACKOFF,
        backoff_max: float = BACKOFF_MAX,
        unhealthy_after: int = UNHEALTHY_AFTER,
    ) -> None:
        self.clock = clock
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.unhealthy_after = unhealthy_after
        self.tasks: dict[str, TaskHealth] = {}
        self.started = clock.now()

    def spawn(
        self, name: str, run: Callable[[], Awaitable[None]], stopping: asyncio.Event
    ) -> asyncio.Task[None]:
        """Run ``run()`` as the task ``name``, again after each failure, until it returns
        or ``stopping`` is set (a task that fails while the daemon stops is not restarted:
        what it had not committed is read again at the next start)."""
        self.tasks[name] = TaskHealth(name)
        return asyncio.create_task(self._supervise(name, run, stopping), name=name)

    async def _supervise(
        self, name: str, run: Callable[[], Awaitable[None]], stopping: asyncio.Event
    ) -> None:
        health = self.tasks[name]
        while True:
            health.state = "running"
            began = time.monotonic()
            try:
                await run()
            except asyncio.CancelledError:
                health.state = "stopped"
                raise
            except Exception as exc:
                if time.monotonic() - began >= STEADY:
                    health.failures = 0
                self.failed(name, exc)
                if stopping.is_set():
                    health.state = "stopped"
                    return
                health.state = "restarting"
                pause = min(self.backoff * 2 ** (health.failures - 1), self.backoff_max)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), pause)
                if stopping.is_set():
                    health.state = "stopped"
                    return
                health.restarts += 1
                log.warning("%s: starting again (failure %d in a row)", name, health.failures)
                continue
            health.state = "stopped"
            return

    def failed(self, name: str, exc: BaseException, *, logged: bool = False) -> None:
        """Count a failure of ``name`` and log it at once, with its traceback unless
        ``logged`` (whoever caught it logged it already)."""
        health = self.tasks.setdefault(name, TaskHealth(name))
        health.failures += 1
        health.last_error = one_line(exc)
        health.failed_at = self.clock.now()
        if not logged:
            log.error(
                "%s failed (%d in a row): %s",
                name,
                health.failures,
                health.last_error,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        if health.failures == self.unhealthy_after:
            log.error("%s keeps failing: monitord is unhealthy", name)

    def ok(self, name: str) -> None:
        """``name`` did its work: its failures in a row are over."""
        health = self.tasks.get(name)
        if health is not None and health.failures:
            if health.failures >= self.unhealthy_after:
                log.warning("%s works again after %d failures", name, health.failures)
            health.failures = 0

    def unhealthy(self) -> list[TaskHealth]:
        return [h for h in self.tasks.values() if h.failures >= self.unhealthy_after]

    def summary(self) -> str:
        """One line for systemd's STATUS=."""
        bad = self.unhealthy()
        if not bad:
            return f"running: {len(self.tasks)} task(s) healthy"
        return "UNHEALTHY: " + "; ".join(
            f"{h.name} failing ({h.failures} in a row): {h.last_error}" for h in bad
        )

    def report(self) -> dict[str, Any]:
        """What ``/v1/health`` answers and the health file holds."""
        return {
            "ok": not self.unhealthy(),
            "pid": os.getpid(),
            "started_at": self.started.isoformat().replace("+00:00", "Z"),
            "updated_at": self.clock.now().isoformat().replace("+00:00", "Z"),
            "unhealthy": [h.name for h in self.unhealthy()],
            "tasks": [h.as_json() for h in self.tasks.values()],
        }


def write_health(path: Path, report: dict[str, Any]) -> None:
    """Replace the health file whole (a reader never sees half of one)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_health(path: Path, now: datetime) -> dict[str, Any]:
    """The daemon's health as ``monitord status`` shows it: ``running`` true when its file
    is fresh and its process alive."""
    try:
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        updated = datetime.fromisoformat(str(report["updated_at"]).replace("Z", "+00:00"))
        pid = int(report["pid"])
    except FileNotFoundError:
        return {"running": False, "reason": "no daemon has run here yet"}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return {"running": False, "reason": f"{path} cannot be read: {one_line(exc)}"}
    alive = True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        alive = False
    except PermissionError:
        pass  # someone else's process: it exists
    if not alive or now - updated > STALE:
        return {"running": False, "reason": f"last seen {report['updated_at']}", **report}
    return {"running": True, **report}
