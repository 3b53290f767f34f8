"""The daemon against the real programs whose logs it follows: dnsmasq answering real DNS
queries and Squid proxying real HTTP requests, everything on the loopback address.

Each test starts the peer in the foreground from a config written to a temporary folder (no
system service, nothing off the machine), starts ``monitord run`` following the peer's log,
makes real requests, and reads the SQLite store back. They skip only when the binary is not
installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import contextlib
import http.server
import os
import pwd
import secrets
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitord.service.initdir import init_dir

ROOT = Path(__file__).resolve().parents[3]
SCHOOL_TZ = "Europe/London"  # the zone `monitord init` writes; dnsmasq logs local time in it
QTYPES = {"A": 1, "AAAA": 28, "HTTPS": 65}


# --- the daemon and its store ---------------------------------------------------------------


def site_with_source(tmp_path: Path, name: str, fmt: str, path: Path) -> tuple[Path, Path]:
    """A ``monitord init`` site following ``path``; returns (config, database)."""
    config = init_dir(tmp_path / "site")[0]
    with config.open("a", encoding="utf-8") as fh:
        fh.write(
            f'\n[pipeline]\npoll_interval = 0.2\n\n[[sources]]\nname = "{name}"\n'
            f'format = "{fmt}"\npath = "{path}"\n'
        )
    return config, tmp_path / "site" / "var" / "monitord.db"


class DaemonRun:
    """A running ``monitord run`` whose output is read as it comes."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitord", "--config", str(config), "run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_output(self, text: str, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                return text in self.output
            time.sleep(0.05)
        return True

    def quiesce(self) -> None:
        """Let a delivery round the last alert set off finish before SIGTERM: a stop that
        arrives while ``deliver_due`` runs is lost by ``Daemon._deliver`` (it clears
        ``_mail_now`` after delivering), and the daemon then takes DELIVERY_INTERVAL (30 s)
        to exit."""
        time.sleep(1.0)

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; the exit status (-9: did not stop in 20 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return self.proc.returncode


@contextlib.contextmanager
def running_daemon(config: Path) -> Iterator[DaemonRun]:
    daemon = DaemonRun(config)
    try:
        yield daemon
    finally:
        daemon.stop()


def query(db: Path, sql: str) -> list[sqlite3.Row]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # the daemon has not created the tables yet
        return []
    finally:
        conn.close()


def wait_rows(db: Path, sql: str, want: int, timeout: float = 90.0) -> list[sqlite3.Row]:
    """The rows of ``sql`` once there are ``want`` of them (or whatever there are after
    ``timeout`` s: generous, as a loaded CI machine starts the daemon slowly; a passing
    test waits only as long as the rows take)."""
    deadline = time.monotonic() + timeout
    rows = query(db, sql)
    while len(rows) < want and time.monotonic() < deadline:
        time.sleep(0.1)
        rows = query(db, sql)
    return rows


def stored_ts(value: str) -> datetime:
    ts = datetime.fromisoformat(value)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def assert_clean_exit(daemon: DaemonRun) -> None:
    output = daemon.output
    assert daemon.proc.returncode == 0, output
    assert "Traceback" not in output, output
    assert "rejected" not in output, output


# --- helpers for the peers ------------------------------------------------------------------


def free_port(*kinds: int) -> int:
    """A loopback port free for every socket kind given (UDP and TCP for a DNS server)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kinds[0]) as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            try:
                for kind in kinds[1:]:
                    with socket.socket(socket.AF_INET, kind) as other:
                        other.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port")


def wait_for_text(path: Path, text: str, proc: subprocess.Popen[Any], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(encoding="utf-8", errors="replace"):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- dnsmasq --------------------------------------------------------------------------------


def dns_ask(port: int, name: str, qtype: str) -> tuple[int, bytes]:
    """One real DNS query over UDP to 127.0.0.1:port; returns (rcode, raw reply)."""
    qid = secrets.randbelow(0x10000)
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # recursion desired, 1 question
    qname = b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.split("."))
    packet = header + qname + b"\x00" + struct.pack("!HH", QTYPES[qtype], 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5.0)
        sock.sendto(packet, ("127.0.0.1", port))
        reply, _ = sock.recvfrom(4096)
    assert struct.unpack("!H", reply[:2])[0] == qid, "reply to another query"
    return reply[3] & 0x0F, reply


@contextlib.contextmanager
def running_dnsmasq(workdir: Path, log: Path, extra: tuple[str, ...] = ()) -> Iterator[int]:
    """The real dnsmasq in the foreground on 127.0.0.1:port (yielded), answering only from
    its own records (no upstream, no hosts file, no system config, ``extra`` options),
    logging queries to ``log``."""
    binary = shutil.which("dnsmasq")
    assert binary is not None
    env = {**os.environ, "TZ": SCHOOL_TZ}
    for _ in range(3):  # another program may take the port between choosing and binding it
        port = free_port(socket.SOCK_DGRAM, socket.SOCK_STREAM)
        argv = [
            binary,
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--listen-address=127.0.0.1",
            f"--port={port}",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--address=/school-test.example/127.0.0.2",
            "--address=/bet365.com/0.0.0.0",
            "--log-queries",
            f"--log-facility={log}",
            f"--pid-file={workdir / 'dnsmasq.pid'}",
            *extra,
        ]
        if os.geteuid() == 0:
            argv.append("--user=root")  # keep the log in the root-only test folder writable
        stderr = workdir / "dnsmasq.stderr"
        with stderr.open("w") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
        try:
            # dnsmasq binds its sockets before it logs "started".
            if wait_for_text(log, "started, version", proc, timeout=10.0):
                yield port
                return
        finally:
            stop(proc)
        if log.exists():
            log.unlink()
    pytest.fail(f"dnsmasq did not start: {stderr.read_text()}")


def test_dnsmasq_queries_are_stored_classified_and_alerted(tmp_path: Path) -> None:
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq is not installed (apt-get install dnsmasq)")
    porn = next(
        line.strip()
        for line in (ROOT / "config" / "lists" / "pornography.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    asked = [
        ("school-test.example", "A"),
        ("www.bet365.com", "A"),
        (f"www.{porn}", "A"),
        ("school-test.example", "AAAA"),
        ("www.bet365.com", "HTTPS"),
    ]
    log = tmp_path / "dnsmasq.log"
    config, db = site_with_source(tmp_path, "resolver", "dnsmasq", log)
    sql = "SELECT * FROM all_events WHERE source = 'resolver' ORDER BY offset"

    with running_dnsmasq(tmp_path, log) as port, running_daemon(config) as daemon:
        answers = {(name, qtype): dns_ask(port, name, qtype) for name, qtype in asked}
        wait_rows(db, sql, len(asked))
        # The sinkholed answer (``config www.bet365.com is 0.0.0.0``) marks its query blocked.
        wait_rows(db, "SELECT * FROM all_events WHERE blocked = 1", 1)
        alerts = wait_rows(db, "SELECT * FROM alerts WHERE category = 'pornography'", 1)
        wait_rows(db, "SELECT * FROM alerts", 2)  # and the gambling one
        # A high alert is mailed at once (as an .eml file: no SMTP host is configured).
        mailed = daemon.wait_for_output("mail: 1 sent")
        daemon.quiesce()
        events = query(db, sql)
    lines = log.read_text(encoding="utf-8")
    assert_clean_exit(daemon)

    # dnsmasq answered from its own records, without an upstream.
    rcode, reply = answers[("school-test.example", "A")]
    assert rcode == 0
    assert reply.endswith(bytes([127, 0, 0, 2])), reply
    rcode, reply = answers[("www.bet365.com", "A")]
    assert rcode == 0
    assert reply.endswith(bytes(4)), reply

    assert [(e["domain"], e["qtype"], e["client_ip"]) for e in events] == [
        (name, qtype, "127.0.0.1") for name, qtype in asked
    ], lines
    assert all(e["kind"] == "dns" and e["fmt"] == "dnsmasq" for e in events)
    blocked = {(e["domain"], e["qtype"]): (bool(e["blocked"]), e["action"]) for e in events}
    assert blocked == {
        ("school-test.example", "A"): (False, None),  # a local record, not a block
        ("www.bet365.com", "A"): (True, "config"),
        (f"www.{porn}", "A"): (False, None),  # refused for want of an upstream
        ("school-test.example", "AAAA"): (False, None),
        ("www.bet365.com", "HTTPS"): (False, None),
    }, lines
    category = {(e["domain"], e["qtype"]): e["category"] for e in events}
    assert category[("school-test.example", "A")] is None
    assert category[("www.bet365.com", "A")] == "gambling"
    assert category[("www.bet365.com", "HTTPS")] == "gambling"
    assert category[(f"www.{porn}", "A")] == "pornography"
    # dnsmasq writes local time without a zone; read in the school's zone it is now.
    now = datetime.now(UTC)
    for e in events:
        assert abs(stored_ts(e["ts"]) - now) < timedelta(minutes=2), (e["ts"], now)

    assert len(alerts) == 1, lines
    assert mailed, daemon.output
    assert len(list((tmp_path / "site" / "var" / "outbox-mail").glob("*.eml"))) == 1
    assert porn in alerts[0]["indicator"]
    assert alerts[0]["ip"] == "127.0.0.1"
    assert query(db, "SELECT reason, raw FROM rejected") == []
    assert len(query(db, sql)) == len(asked)


# --- Squid ----------------------------------------------------------------------------------


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/hello":
            self.send_error(404)
            return
        body = b"hello from the test server\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def local_web_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


SQUID_CONF = """\
http_port 127.0.0.1:{port}
visible_hostname monitord-test
pid_filename {dir}/squid.pid
access_log stdio:{dir}/access.log squid
cache_log {dir}/cache.log
cache_store_log none
coredump_dir {dir}
cache deny all
cache_mem 8 MB
pinger_enable off
shutdown_lifetime 0 seconds
# Nothing leaves the machine: no resolver but the loopback one, only loopback targets.
dns_nameservers 127.0.0.1
acl blocked dstdomain -n .bet365.com
http_access deny blocked
http_access deny !to_localhost
http_access allow localhost
http_access deny all
"""


@contextlib.contextmanager
def running_squid(workdir: Path) -> Iterator[int]:
    """The real Squid in the foreground on 127.0.0.1:port (yielded), no disk cache."""
    binary = shutil.which("squid")
    assert binary is not None
    port = free_port(socket.SOCK_STREAM)
    conf = SQUID_CONF.format(port=port, dir=workdir)
    if os.geteuid() == 0:  # Squid will not run as root: it drops to this user
        try:
            user = pwd.getpwnam("proxy")
        except KeyError:
            user = pwd.getpwnam("nobody")
        conf += f"cache_effective_user {user.pw_name}\n"
        os.chown(workdir, user.pw_uid, user.pw_gid)
    (workdir / "squid.conf").write_text(conf, encoding="utf-8")
    with (workdir / "squid.stderr").open("w") as err:
        proc = subprocess.Popen(
            [binary, "-N", "-f", str(workdir / "squid.conf")],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        # Readiness from cache.log, not by connecting: a bare connection is itself logged
        # (NONE_NONE/000 ... error:transaction-end-before-headers).
        if not wait_for_text(workdir / "cache.log", "Accepting HTTP Socket", proc, 20.0):
            cache_log = workdir / "cache.log"
            pytest.fail(
                "squid did not start: "
                + (workdir / "squid.stderr").read_text()
                + (cache_log.read_text() if cache_log.exists() else "")
            )
        yield port
    finally:
        stop(proc)


def through_proxy(proxy: int, url: str) -> int:
    """The HTTP status of ``url`` fetched through the proxy (a refused tunnel: 403)."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler(
            {"http": f"http://127.0.0.1:{proxy}", "https": f"http://127.0.0.1:{proxy}"}
        )
    )
    try:
        with opener.open(url, timeout=10) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as err:
        with err:
            err.read()  # read to the end, or Squid logs the request as aborted
            return int(err.code)
    except urllib.error.URLError as err:  # CONNECT refused by the proxy
        if "403" in str(err.reason):
            return 403
        raise


def test_squid_requests_are_stored_with_status_and_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("squid") is None:
        pytest.skip("squid is not installed (apt-get install squid)")
    for var in ("no_proxy", "NO_PROXY"):  # urllib would go around the proxy for 127.0.0.1
        monkeypatch.delenv(var, raising=False)
    # Squid drops to an unprivileged user, which cannot enter pytest's root-only tmp_path.
    workdir = Path(tempfile.mkdtemp(prefix="monitord-squid-"))
    try:
        access_log = workdir / "access.log"
        config, db = site_with_source(tmp_path, "proxy", "squid", access_log)
        sql = "SELECT * FROM all_events WHERE source = 'proxy' ORDER BY offset"
        with (
            local_web_server() as web,
            running_squid(workdir) as proxy,
            running_daemon(config) as daemon,
        ):
            requests = [
                (f"http://127.0.0.1:{web}/hello", 200),
                (f"http://127.0.0.1:{web}/missing", 404),
                ("http://www.bet365.com/", 403),
                ("https://www.bet365.com/", 403),
            ]
            statuses = [through_proxy(proxy, url) for url, _ in requests]
            events = wait_rows(db, sql, len(requests))
            alerts = wait_rows(db, "SELECT * FROM alerts WHERE category = 'gambling'", 1)
            daemon.quiesce()
        lines = access_log.read_text(encoding="utf-8")
        assert_clean_exit(daemon)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    assert statuses == [status for _, status in requests], lines
    got = [
        (e["method"], e["url"], e["status"], bool(e["blocked"]), e["domain"], e["client_ip"])
        for e in events
    ]
    assert got == [
        ("GET", f"http://127.0.0.1:{web}/hello", 200, False, "127.0.0.1", "127.0.0.1"),
        ("GET", f"http://127.0.0.1:{web}/missing", 404, False, "127.0.0.1", "127.0.0.1"),
        ("GET", "http://www.bet365.com/", 403, True, "www.bet365.com", "127.0.0.1"),
        ("CONNECT", "www.bet365.com:443", 403, True, "www.bet365.com", "127.0.0.1"),
    ], lines
    assert [e["action"] for e in events] == ["TCP_MISS", "TCP_MISS", "TCP_DENIED", "TCP_DENIED"]
    assert all(e["kind"] == "http" and e["fmt"] == "squid" and e["user"] is None for e in events)
    assert [e["category"] for e in events][2:] == ["gambling", "gambling"]
    now = datetime.now(UTC)
    for e in events:
        assert abs(stored_ts(e["ts"]) - now) < timedelta(minutes=2), (e["ts"], now)
    assert len(alerts) == 1
    assert "bet365.com" in alerts[0]["indicator"]
    assert alerts[0]["ip"] == "127.0.0.1"
    assert alerts[0]["blocked"]
    assert query(db, "SELECT reason, raw FROM rejected") == []
    assert len(query(db, sql)) == len(requests)
