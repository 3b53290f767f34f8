"""``monitord run`` receiving syslog from real senders on the loopback address: util-linux's
``logger`` over UDP, and a real rsyslog forwarding over TCP through a disk-assisted queue
while monitord is stopped and started again (nothing lost, nothing doubled).

rsyslog runs in the foreground from a config and work folder of the test's own (not the
system service); both skip when the program is missing outside CI (``.ci/run`` installs
them).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitord.service.initdir import init_dir
from tests.monitord.service.test_real_peers import (
    assert_clean_exit,
    free_port,
    query,
    running_daemon,
    stop,
    stored_ts,
    wait_rows,
)


def need(program: str, package: str) -> str:
    found = shutil.which(program) or (
        f"/usr/sbin/{program}" if os.path.exists(f"/usr/sbin/{program}") else None
    )
    if found is None:
        if os.environ.get("MONITORD_TEST_PEERS") == "required":
            pytest.fail(
                f"{program} is required here (.ci/run installs it) (apt-get install {package})"
            )
        pytest.skip(f"{program} is not installed (apt-get install {package})")
    return found


def listening_site(tmp_path: Path, listen: str) -> tuple[Path, Path]:
    config = init_dir(tmp_path / "site")[0]
    with config.open("a", encoding="utf-8") as fh:
        fh.write(
            '\n[pipeline]\npoll_interval = 0.2\n\n[[sources]]\nname = "fw"\nformat = "syslog"\n'
            f'listen = "{listen}"\nallow = ["127.0.0.0/8"]\n'
        )
    return config, tmp_path / "site" / "var" / "monitord.db"


def test_logger_over_udp_to_the_daemon(tmp_path: Path) -> None:
    logger = need("logger", "bsdutils")
    port = free_port(socket.SOCK_DGRAM)
    config, db = listening_site(tmp_path, f"udp://127.0.0.1:{port}")
    with running_daemon(config) as daemon:
        assert daemon.wait_for_output("fw: listening on", timeout=60), daemon.output
        for proto, name in (("-d", "udp.example"), ("-d", "five.example")):
            framing = ["--rfc5424"] if name == "five.example" else ["--rfc3164"]
            subprocess.run(
                [logger, "-n", "127.0.0.1", "-P", str(port), proto, *framing, "-t", "dnsmasq",
                 f"query[A] {name} from 10.0.0.7"],
                check=True,
            )  # fmt: skip
        subprocess.run(
            [logger, "-n", "127.0.0.1", "-P", str(port), "-d", "-t", "sshd", "Invalid user x"],
            check=True,
        )
        rows = wait_rows(db, "SELECT * FROM all_events ORDER BY offset", 2)
        wait_rows(db, "SELECT * FROM source_counts WHERE name = 'sshd'", 1)
    assert_clean_exit(daemon)
    assert [(r["domain"], r["client_ip"], r["fmt"]) for r in rows] == [
        ("udp.example", "10.0.0.7", "syslog"),
        ("five.example", "10.0.0.7", "syslog"),
    ]
    now = datetime.now(UTC)
    for r in rows:
        assert r["sender"] == socket.gethostname()
        assert abs(stored_ts(r["received_at"]) - now) < timedelta(minutes=2)
        assert abs(stored_ts(r["ts"]) - stored_ts(r["received_at"])) < timedelta(seconds=5)
    assert query(db, "SELECT count FROM source_counts WHERE name = 'sshd'")[0]["count"] == 1
    assert query(db, "SELECT * FROM rejected") == []


# As README gives it: RFC 5424 over TCP, each message numbered (mmsequence) in a
# [meta sequenceId] element, so that one rsyslog sends again is known as the same.
TEMPLATE = (
    "<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% - "
    '[meta sequenceId=\\"%$.seq%\\"] %msg:::drop-last-lf%'
)
RSYSLOG_CONF = f"""\
global(workDirectory="{{work}}" maxMessageSize="64k")
module(load="imtcp")
module(load="mmsequence")
input(type="imtcp" address="127.0.0.1" port="{{port_in}}")
template(name="monitord" type="string" string="{TEMPLATE}")
action(type="mmsequence" mode="instance" from="1" to="2147483647" var="$.seq")
action(type="omfwd" target="127.0.0.1" port="{{port_out}}" protocol="tcp"
       TCP_Framing="octet-counted" template="monitord"
       queue.type="LinkedList" queue.filename="to-monitord" queue.saveOnShutdown="on"
       queue.maxDiskSpace="64m" action.resumeRetryCount="-1" action.resumeInterval="1")
"""


@contextlib.contextmanager
def running_rsyslog(workdir: Path, port_out: int, conf_text: str = RSYSLOG_CONF) -> Iterator[int]:
    """A real rsyslogd in the foreground taking syslog over TCP on a loopback port (yielded)
    and forwarding it to ``port_out`` through a disk-assisted queue."""
    binary = need("rsyslogd", "rsyslog")
    work = workdir / "rsyslog"
    work.mkdir()
    port_in = free_port(socket.SOCK_STREAM)
    conf = work / "rsyslog.conf"
    conf.write_text(
        conf_text.format(
            work=work, port_in=port_in, port_out=port_out, pihole=workdir / "pihole.log"
        )
    )
    err = (work / "stderr").open("w")
    proc = subprocess.Popen(
        [binary, "-n", "-f", str(conf), "-i", str(work / "rsyslogd.pid")],
        stdout=err,
        stderr=err,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port_in), 1):
                break
            assert proc.poll() is None, (work / "stderr").read_text()
            time.sleep(0.05)
        yield port_in
    finally:
        stop(proc)
        err.close()


class Feeder:
    """Sends numbered dnsmasq query lines to rsyslog at a steady rate from a thread."""

    def __init__(self, port: int, rate: float) -> None:
        self.port = port
        self.interval = 1.0 / rate
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            while not self._stop.is_set():
                line = (
                    f"<30>{time.strftime('%b %e %H:%M:%S')} school-pi dnsmasq[7]: "
                    f"query[A] n{self.sent}.example from 10.0.0.9\n"
                )
                sock.sendall(line.encode())
                self.sent += 1
                time.sleep(self.interval)

    def __enter__(self) -> Feeder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_rsyslog_over_tcp_loses_and_doubles_nothing_across_a_restart(tmp_path: Path) -> None:
    """rsyslog sends all the time; monitord is stopped (SIGTERM, as systemd does) for three
    seconds and started again. Every message is stored once: those in flight at the stop
    were read before monitord closed (it half-closes, rsyslog notices and keeps the rest in
    its queue), those sent while it was down came from rsyslog's queue after the restart."""
    need("rsyslogd", "rsyslog")
    port = free_port(socket.SOCK_STREAM)
    config, db = listening_site(tmp_path, f"tcp://127.0.0.1:{port}")
    sql = "SELECT domain, offset, file_id FROM all_events ORDER BY offset"
    with running_rsyslog(tmp_path, port) as port_in, Feeder(port_in, rate=300) as feeder:
        with running_daemon(config) as first:
            assert first.wait_for_output("fw: listening on", timeout=60), first.output
            wait_rows(db, sql, 300, timeout=60)
        assert_clean_exit(first)
        stopped_with = len(query(db, sql))
        time.sleep(3)  # rsyslog queues what it is given meanwhile
        with running_daemon(config) as second:
            assert second.wait_for_output("fw: listening on", timeout=60), second.output
            time.sleep(2)
            feeder.__exit__()
            sent = feeder.sent
            rows = wait_rows(db, sql, sent, timeout=30)
        assert_clean_exit(second)
    names = [r["domain"] for r in rows]
    assert len(names) == sent, (len(names), sent)
    assert sorted(names) == sorted(f"n{i}.example" for i in range(sent))
    assert stopped_with < sent - 600  # a good part of the messages came after the restart
    # Each message is known by rsyslog's number for it: one sent again is the same event.
    assert sorted(r["offset"] for r in rows) == list(range(1, sent + 1))
    assert all(r["file_id"].startswith("tcp:127.0.0.1@fw#") for r in rows)
    assert query(db, "SELECT * FROM rejected") == []
    # The receive order went on from where the first run's last batch left it.
    (cp,) = query(db, "SELECT offset, lines FROM checkpoints WHERE source = 'fw'")
    assert cp["offset"] == cp["lines"] >= sent


def readme_pihole_conf() -> str:
    """The rsyslog set-up README gives for a Pi-hole, pointed at the test's ports and file."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Pi-hole", 1)[1]
    block = section.split("```\n", 2)[1]
    block = block.replace("{", "{{").replace("}", "}}")
    block = block.replace('"/var/log/pihole/pihole.log"', '"{pihole}"')
    block = block.replace('target="10.20.0.5" port="5514"', 'target="127.0.0.1" port="{port_out}"')
    head = 'global(workDirectory="{work}")\nmodule(load="imtcp")\n'
    head += 'input(type="imtcp" address="127.0.0.1" port="{port_in}")\n'
    return head + block


def test_pihole_log_forwarded_by_rsyslog_as_the_readme_says(tmp_path: Path) -> None:
    """rsyslog follows Pi-hole's log (imfile) and sends each line, numbered, to monitord."""
    need("rsyslogd", "rsyslog")
    port = free_port(socket.SOCK_STREAM)
    config, db = listening_site(tmp_path, f"tcp://127.0.0.1:{port}")
    pihole = tmp_path / "pihole.log"
    pihole.write_text("")
    stamp = time.strftime("%b %e %H:%M:%S")
    lines = [
        f"{stamp} dnsmasq[539]: 625 192.168.1.185/60568 query[A] www.bet365.com from 192.168.1.185",
        f"{stamp} dnsmasq[539]: 625 192.168.1.185/60568 gravity blocked www.bet365.com is 0.0.0.0",
        f"{stamp} dnsmasq[539]: 626 192.168.1.186/41000 query[AAAA] example.org from 192.168.1.186",
    ]
    with running_daemon(config) as daemon:
        assert daemon.wait_for_output("fw: listening on", timeout=60), daemon.output
        with running_rsyslog(tmp_path, port, readme_pihole_conf()):
            with pihole.open("a") as fh:
                fh.write("\n".join(lines) + "\n")
            rows = wait_rows(db, "SELECT * FROM all_events ORDER BY ts, domain", 2)
            wait_rows(db, "SELECT * FROM all_events WHERE blocked = 1", 1)
        daemon.quiesce()
    assert_clean_exit(daemon)
    got = {
        (r["domain"], r["client_ip"], bool(r["blocked"]))
        for r in query(db, "SELECT * FROM all_events")
    }
    assert got == {
        ("www.bet365.com", "192.168.1.185", True),
        ("example.org", "192.168.1.186", False),
    }
    assert {r["sender"] for r in rows} == {socket.gethostname()}
    assert query(db, "SELECT * FROM rejected") == []
