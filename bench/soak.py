"""Soak and fault test: the real daemon under a steady feed, rotation, a flapping mail server
and SIGKILL, then every line and every mail counted against what was fed.

    .venv/bin/python bench/soak.py                      # 10,000,000 lines, about 40 minutes
    .venv/bin/python bench/soak.py --lines 20000        # a quick try, about a minute

What it does:

- builds a site with ``monitord init`` in a temporary folder (or ``--dir``): a roster of
  pupils and staff, a device for each with a reserved address, and three followed sources:
  a Pi-hole log (``dnsmasq``, rotated by rename, the older copies gzipped), a Squid access.log
  (``squid``, rotated by copytruncate, the older copies gzipped) and a Suricata eve.json
  (``suricata``, rotated by rename), each rotated every few minutes once monitord follows it
  (no copy is removed, so that any line lost is lost by monitord);
- appends lines to them at a steady rate (after the first lines of each log, holding until
  monitord follows them all, so that a slow start on a loaded machine does not leave a short
  soak without kills or rotations): ordinary lookups and requests, the lines a resolver
  writes after a query, DNS answers after their queries, records that give no event, a share
  of malformed lines (which must be stored as rejected), lines written in two parts, and
  lines that must raise alerts (starter-list domains looked up by a person of the roster);
- runs an SMTP server on the loopback address that goes down, refuses mail with 451 and
  comes back on a schedule, keeping the Message-ID of everything it accepts;
- runs ``monitord run`` and kills it with SIGKILL at random intervals, starting it again after
  a random pause; when the writer is done and the daemon has caught up (its checkpoints at the
  end of every file) and the mail has gone, stops it with SIGTERM (mail still waiting for its
  retry then is sent with ``monitord outbox flush``, and counted as such);
- feeds a share of poison records (``--poison-share``: a NUL in a name, a lone surrogate, a
  size past 64 bits, a time in the year 9999; see bench/soakhostile.py), each of which must
  become exactly one event or one rejected line, and holds ``--flood`` slow clients against
  the agents' endpoint while asking its /v1/health every two seconds;
- counts: every line carries a number (dnsmasq's process id field, Squid's elapsed-time field,
  Suricata's ``pcap_cnt``), so each stored event and rejected line is traced to the line it
  came from: none may be missing and none stored twice; the alerts per person and category
  against the ones the fed lines must give; every outbox message against the Message-IDs the
  server received (an alert's first mail once, an update only as ``realert_interval`` allows).
  Mail is counted as a reader sees it, by Message-ID: a message is doubled when a second,
  different message says the same thing, or when the server got one Message-ID twice with no
  SIGKILL or outage between the two (nothing monitord could not know explains that). The same
  message sent again across a SIGKILL or an outage (the server had it; monitord could not
  know: SMTP cannot be asked) is counted apart as redelivered, with whether monitord's audit
  trail names it (``mail.interrupted``, when a kill caught it while it went).

It prints what was fed, stored, lost and doubled, the mail figures, the rate held, the
restarts survived and the daemon's peak memory, and exits 1 if anything was lost or doubled.
Loopback only; every process it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import gzip
import itertools
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from aiosmtpd.controller import Controller
from alert_latency import free_port
from soakhostile import SlowFlood, poison_dnsmasq, poison_squid, poison_suricata

from collectors.files import identify
from monitord.service.initdir import init_dir
from monitord.store.lookups import unpack_block

TZ = ZoneInfo("Europe/London")
SKIP, EVENT, REJECT = 0, 1, 2  # what a fed line must become
GROUP_WINDOW = 60  # seconds: [alerts] group_window of the site
REALERT = 120  # seconds: [alerts] realert_interval
# Categories each role hears of at any time (medium or above for pupils and staff alike).
HITS = {
    "pornography": ("www.pornhub.com", "xvideos.com", "cdn.xnxx.com"),
    "gambling": ("www.bet365.com", "sports.williamhill.com"),
    "violence": ("bestgore.fun", "www.theync.com"),
    "filter_bypass": ("www.hotspotshield.com", "psiphon.ca"),
}
# Listed, but low or safe: matched and stored, no alert.
QUIET_LISTED = ("www.roblox.com", "www.youtube.com", "i.ytimg.com", "classroom.google.com")
ORDINARY = (
    "bbc.co.uk",
    "gov.uk",
    "wikipedia.org",
    "microsoft.com",
    "office.com",
    "apple.com",
    "amazon.co.uk",
    "cloudflare.com",
    "akamaized.net",
    "sharepoint.com",
    "oaknational.org.uk",
    "purplemash.com",
    "timestables.co.uk",
    "spellingshed.com",
    "natgeokids.com",
    "nasa.gov",
    "metoffice.gov.uk",
    "example-school.sch.uk",
    "doubleclick.net",
    "gstatic.com",
)
PREFIXES = ("www", "m", "api", "static", "img", "cdn1", "cdn2", "login")
# How often each source is picked: a dnsmasq query comes with 1.6 more lines on average and a
# Suricata record with 0.5, so the lines are about half Pi-hole, a third Squid, a sixth IDS.
UNIT_WEIGHTS = (0.30, 0.54, 0.16)


# --- the site ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    username: str
    role: str
    ip: str  # the address of their laptop (reserved in the inventory), or their proxy address


@dataclass
class Source:
    """One followed log and how it is written and rotated."""

    name: str
    fmt: str
    path: Path
    rotation: str  # "rename" or "copytruncate"
    compress: bool  # gzip the copies older than .1 (logrotate's delaycompress)
    people: list[Person]
    fh: BinaryIO | None = None
    carry: bytes = b""  # the rest of a line written in two parts
    compressing: threading.Thread | None = None
    fed: int = 0
    rotations: int = 0


def mail_to_loopback(text: str, port: int) -> str:
    """The config ``monitord init`` wrote, its mail sent to an SMTP server on 127.0.0.1."""
    for old, new in (
        ('host = ""', 'host = "127.0.0.1"'),
        ("port = 587", f"port = {port}"),
        ('security = "starttls"', 'security = "none"'),
    ):
        if old not in text:
            raise SystemExit(f"the config monitord init wrote has no {old!r}")
        text = text.replace(old, new, 1)
    return text


def site_config(
    text: str, port: int, folder: Path, sources: list[Source], agents_port: int = 0
) -> str:
    text = mail_to_loopback(text, port)
    text += (
        f'\n[alerts]\ngroup_window = "{GROUP_WINDOW}s"\nrealert_interval = "{REALERT}s"\n'
        'batch_interval = "2m"\nmax_mails_per_hour = 0\nout_of_hours_medium = "immediate"\n'
        "\n[pipeline]\npoll_interval = 0.5\n"
    )
    if agents_port:
        text += f'\n[agents]\nlisten = "127.0.0.1:{agents_port}"\n'

    for src in sources:
        text += (
            f'\n[[sources]]\nname = "{src.name}"\nformat = "{src.fmt}"\n'
            f'path = "{src.path.relative_to(folder)}"\nmax_silence = "2h"\n'
        )
    return text


def build_site(
    folder: Path, port: int, per_source: int, agents_port: int = 0
) -> tuple[Path, list[Source]]:
    """The site: config, roster, inventory and three sources with their people."""
    config = init_dir(folder)[0]
    logs = folder / "logs"
    logs.mkdir()
    people = ["username,display_name,role,year_group,class,email"]
    devices = ["device_id,mac,hostname,ownership,assigned_to,ip"]
    sources = [
        Source("pihole", "dnsmasq", logs / "pihole.log", "rename", True, []),
        Source("proxy", "squid", logs / "access.log", "copytruncate", True, []),
        Source("ids", "suricata", logs / "eve.json", "rename", False, []),
    ]
    for s, src in enumerate(sources):
        for i in range(per_source):
            staff = i % 10 == 9
            user = f"{'staff' if staff else 'pupil'}{s}{i:03d}"
            year = "" if staff else str(1 + i % 6)
            role = "staff" if staff else "pupil"
            people.append(f"{user},{user.title()} Example,{role},{year},C{i % 8},")
            ip = f"10.{20 + 10 * s}.{i // 200}.{10 + i % 200}"
            if src.fmt != "squid":  # the proxy names its users; the others need the device
                mac = f"02:00:00:{s:02x}:{i // 256:02x}:{i % 256:02x}"
                devices.append(f"LT-{s}{i:03d},{mac},lt-{s}{i:03d},school_single,{user},{ip}")
            src.people.append(Person(user, role, ip))
    (folder / "people.csv").write_text("\n".join(people) + "\n", encoding="utf-8")
    (folder / "devices.csv").write_text("\n".join(devices) + "\n", encoding="utf-8")
    text = site_config(config.read_text(encoding="utf-8"), port, folder, sources, agents_port)
    config.write_text(text, encoding="utf-8")
    for src in sources:
        src.path.touch()
    cli(config, "people", "import", str(folder / "people.csv"))
    cli(config, "devices", "import", str(folder / "devices.csv"))
    return config, sources


def cli(config: Path, *args: str, check: bool = True) -> str:
    """What a monitord command printed; with ``check``, a failure stops the soak with it."""
    cmd = [sys.executable, "-m", "monitord", "--config", str(config), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    said = (done.stdout + done.stderr).strip()
    if check and done.returncode != 0:
        raise SystemExit(f"monitord {' '.join(args)}: exit {done.returncode}\n{said}")
    return said


# --- what is fed -------------------------------------------------------------------------


@dataclass
class Fed:
    """Every line written: what it must become, and from which source; and the alerting
    lookups per (person, category) with their times as the parser reads them."""

    kind: npt.NDArray[np.uint8]
    source: npt.NDArray[np.uint8]
    hits: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    seq: int = 0

    def take(self, src: int, kind: int) -> int:
        n = self.seq
        self.kind[n] = kind
        self.source[n] = src
        self.seq = n + 1
        return n


def syslog_stamp(t: float) -> str:
    d = datetime.fromtimestamp(t, TZ)
    return f"{d:%b} {d.day:2d} {d:%H:%M:%S}"


def eve_stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


class Lines:
    """Makes the lines of each format; each takes its numbers from ``fed``."""

    def __init__(
        self,
        fed: Fed,
        rng: random.Random,
        hit_share: float,
        bad_share: float,
        poison_share: float = 0.0,
    ) -> None:
        self.poison_share = poison_share  # see bench/soakhostile.py
        self.poisoned = 0
        self.fed = fed
        self.rng = rng
        self.hit_share = hit_share
        self.bad_share = bad_share
        self.names = [f"{p}.{d}" for d in ORDINARY for p in PREFIXES]
        self.flow = 1_000_000_000

    def _name(self) -> str:
        r = self.rng.random()
        return self.rng.choice(QUIET_LISTED) if r < 0.05 else self.rng.choice(self.names)

    def _hit(self, src: Source, t: float, stamp: float) -> tuple[Person, str] | None:
        """A person and a listed name that must raise (or grow) an alert, now and then. Half
        come from the source's first three people, each always in one category: their
        alerts keep growing and are mailed again every realert_interval."""
        if self.rng.random() >= self.hit_share:
            return None
        if self.rng.random() < 0.5:
            n = self.rng.randrange(3)
            person, category = src.people[n], list(HITS)[n]
        else:
            person = self.rng.choice(src.people[3:])
            category = self.rng.choice(list(HITS))
        self.fed.hits[(person.username, category)].append(stamp)
        return person, self.rng.choice(HITS[category])

    def _client(self, src: Source) -> str:
        if self.rng.random() < 0.7:
            return self.rng.choice(src.people).ip
        return f"10.99.{self.rng.randrange(4)}.{self.rng.randrange(2, 250)}"  # guests

    def dnsmasq(self, i: int, src: Source, t: float) -> list[str]:
        stamp = syslog_stamp(t)
        take = self.fed.take
        if self.rng.random() < self.poison_share:
            self.poisoned += 1
            return poison_dnsmasq(take, i, stamp, self._client(src))
        if self.rng.random() < self.bad_share:
            n = take(i, REJECT)
            garbled = self.rng.choice(
                (
                    f"query[A] {self._name()}",  # no client
                    f"frobnicated {self._name()} by 10.1.2.3",
                    "\udcff\udcfe binary noise",
                )
            )
            return [f"{stamp} dnsmasq[{n}]: {garbled}"]
        hit = self._hit(src, t, float(int(t)))
        name, client = (hit[1], hit[0].ip) if hit else (self._name(), self._client(src))
        qtype = "AAAA" if self.rng.random() < 0.3 else "A"
        out = [f"{stamp} dnsmasq[{take(i, EVENT)}]: query[{qtype}] {name} from {client}"]
        if self.rng.random() < 0.6:
            out.append(f"{stamp} dnsmasq[{take(i, SKIP)}]: forwarded {name} to 1.1.1.3")
            out.append(f"{stamp} dnsmasq[{take(i, SKIP)}]: reply {name} is 104.16.1.1")
        else:
            out.append(f"{stamp} dnsmasq[{take(i, SKIP)}]: cached {name} is 104.16.1.1")
        return out

    def squid(self, i: int, src: Source, t: float) -> list[str]:
        stamp = f"{t:.3f}"
        if self.rng.random() < self.poison_share:
            self.poisoned += 1
            return poison_squid(self.fed.take, i, t, self._client(src), self.rng.random())
        if self.rng.random() < self.bad_share:
            n = self.fed.take(i, REJECT)
            return [
                self.rng.choice(
                    (
                        f"{stamp} {n} 10.40.0.9 TCP_MISS/200",
                        f"{stamp} {n} 10.40.0.9 TCP_MISS/abc 512 GET http://x.example/ - -",
                    )
                )
            ]
        hit = self._hit(src, t, float(stamp))
        if hit is not None:
            person, name = hit
            user, client = person.username, person.ip
        else:
            name = self._name()
            who = self.rng.choice(src.people)
            user, client = (who.username, who.ip) if self.rng.random() < 0.8 else ("-", "10.99.5.5")
        n = self.fed.take(i, EVENT)
        size = self.rng.randrange(200, 90_000)
        if self.rng.random() < 0.7:
            return [
                f"{stamp} {n} {client} TCP_TUNNEL/200 {size} CONNECT {name}:443 {user} "
                "HIER_DIRECT/104.16.1.1 -"
            ]
        path = self.rng.choice(("/", "/index.html", "/news/item", "/img/logo.png", "/api/v2/x"))
        return [
            f"{stamp} {n} {client} TCP_MISS/200 {size} GET http://{name}{path} {user} "
            "HIER_DIRECT/104.16.1.1 text/html"
        ]

    def suricata(self, i: int, src: Source, t: float) -> list[str]:
        stamp = eve_stamp(t)
        take = self.fed.take
        if self.rng.random() < self.poison_share:
            self.poisoned += 1
            self.flow += 1
            pick = self.rng.random()
            return [poison_suricata(take, i, stamp, self._client(src), self.flow, pick)]
        if self.rng.random() < self.bad_share:
            n = take(i, REJECT)
            return [
                self.rng.choice(
                    (
                        f'{{"timestamp":"{stamp}","pcap_cnt":{n},"event_type":"dns","dns":{{"ty',
                        f'{{"timestamp":"yesterday","pcap_cnt":{n},"event_type":"tls",'
                        '"src_ip":"10.30.0.9","tls":{"sni":"www.bbc.co.uk"}}',
                    )
                )
            ]
        self.flow += 1
        flow = self.flow
        hit = self._hit(src, t, _eve_seconds(stamp))
        name, client = (hit[1], hit[0].ip) if hit else (self._name(), self._client(src))
        kind = self.rng.random()
        head = f'{{"timestamp":"{stamp}","flow_id":{flow},"in_iface":"eth1","pcap_cnt":'
        if hit is not None or kind < 0.5:
            qid = self.rng.randrange(65536)
            query = (
                f'{head}{take(i, EVENT)},"event_type":"dns","src_ip":"{client}",'
                f'"src_port":5{qid % 10000:04d},"dest_ip":"10.0.0.53","dest_port":53,'
                f'"proto":"UDP","dns":{{"type":"query","id":{qid},"rrname":"{name}",'
                '"rrtype":"A","tx_id":0}}'
            )
            answer = (
                f'{head}{take(i, SKIP)},"event_type":"dns","src_ip":"10.0.0.53","src_port":53,'
                f'"dest_ip":"{client}","dest_port":5{qid % 10000:04d},"proto":"UDP",'
                f'"dns":{{"version":2,"type":"answer","id":{qid},"flags":"8180","qr":true,'
                f'"rrname":"{name}","rrtype":"A","rcode":"NOERROR","answers":[{{"rrname":'
                f'"{name}","rrtype":"A","ttl":300,"rdata":"104.16.1.1"}}]}}}}'
            )
            return [query, answer]
        if kind < 0.8:
            return [
                f'{head}{take(i, EVENT)},"event_type":"tls","src_ip":"{client}","src_port":'
                f'50123,"dest_ip":"104.16.1.1","dest_port":443,"proto":"TCP","tls":'
                f'{{"sni":"{name}","version":"TLS 1.3"}}}}'
            ]
        if kind < 0.9:
            return [
                f'{head}{take(i, EVENT)},"event_type":"http","src_ip":"{client}","src_port":'
                f'50124,"dest_ip":"104.16.1.1","dest_port":80,"proto":"TCP","http":'
                f'{{"hostname":"{name}","url":"/index.html","http_method":"GET","status":200,'
                '"length":5120}}'
            ]
        return [
            f'{head}{take(i, SKIP)},"event_type":"flow","src_ip":"{client}","src_port":50125,'
            '"dest_ip":"104.16.1.1","dest_port":443,"proto":"TCP","flow":{"pkts_toserver":9}}'
        ]


def _eve_seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


# --- writing and rotating ----------------------------------------------------------------


def _generation(path: Path, n: int) -> Path:
    return path.with_name(f"{path.name}.{n}")


def _gz(path: Path) -> Path:
    return path.with_name(path.name + ".gz")


def compress(plain: Path) -> None:
    """As logrotate does: the .gz written under its final name and given the plain copy's
    times, then the plain copy removed."""
    with plain.open("rb") as src, gzip.open(_gz(plain), "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    st = plain.stat()
    os.utime(_gz(plain), ns=(st.st_atime_ns, st.st_mtime_ns))
    plain.unlink()


def rotate(src: Source) -> None:
    """logrotate: the copies shifted up, the log renamed or copied and truncated to
    ``name.1``, and with delaycompress the copy that became ``name.2`` gzipped. No copy is
    removed: a line monitord had not read when logrotate deleted it would be lost to
    rotation, not to monitord, and the soak counts only what monitord loses."""
    if src.compressing is not None:
        src.compressing.join()
    for n in range(src.rotations, 0, -1):
        for p in (_generation(src.path, n), _gz(_generation(src.path, n))):
            if p.exists():
                suffix = ".gz" if p.name.endswith(".gz") else ""
                p.rename(src.path.with_name(f"{src.path.name}.{n + 1}{suffix}"))
    assert src.fh is not None
    if src.rotation == "rename":
        src.fh.close()
        src.path.rename(_generation(src.path, 1))
        src.fh = src.path.open("ab")
    else:
        shutil.copyfile(src.path, _generation(src.path, 1))
        src.fh.truncate(0)  # appends go on at the new end, as a program's O_APPEND writes do
    src.rotations += 1
    second = _generation(src.path, 2)
    if src.compress and second.exists():
        src.compressing = threading.Thread(target=compress, args=(second,), daemon=True)
        src.compressing.start()


@dataclass
class Plan:
    lines: int
    rate: float
    rotate_every: tuple[float, float]
    weights: tuple[float, float, float]
    split_share: float


class Writer(threading.Thread):
    """Appends lines at a steady rate, twenty times a second, and rotates the logs."""

    TICK = 0.05

    def __init__(self, plan: Plan, sources: list[Source], fed: Fed, lines: Lines) -> None:
        super().__init__(name="writer", daemon=True)
        self.plan = plan
        self.sources = sources
        self.fed = fed
        self.lines = lines
        self.rng = random.Random(lines.rng.random())
        self.started = 0.0
        self.finished = 0.0
        self.failed: BaseException | None = None
        self.stop_asked = threading.Event()
        # Set once monitord has committed a position in every log: a file rotated before
        # that is one a first start never knew of (it begins at the file at the path).
        self.followed = threading.Event()
        self.makers: list[Callable[[int, Source, float], list[str]]] = [
            lines.dnsmasq,
            lines.squid,
            lines.suricata,
        ]

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.failed = exc
            raise

    def _run(self) -> None:
        plan = self.plan
        for src in self.sources:
            src.fh = src.path.open("ab")
        self.started = time.monotonic()
        due = [self.started + self.rng.uniform(*plan.rotate_every) for _ in self.sources]
        total = 0
        while total < plan.lines and not self.stop_asked.is_set():
            now = time.monotonic()
            target = min(plan.lines, int((now - self.started) * plan.rate) + 1)
            out: list[list[str]] = [[] for _ in self.sources]
            while total < target:
                i = self.rng.choices(range(len(self.sources)), plan.weights)[0]
                made = self.makers[i](i, self.sources[i], time.time())
                out[i].extend(made)
                total += len(made)
            for i, src in enumerate(self.sources):
                # never rotating before monitord follows the log, nor to end on an empty one
                due_now = now >= due[i] and total < plan.lines and self.followed.is_set()
                self._write(src, out[i], due_now)
                if due_now and not src.carry:
                    rotate(src)
                    due[i] = now + self.rng.uniform(*plan.rotate_every)
            if not self.followed.is_set() and all(s.fed and not s.carry for s in self.sources):
                # Held until monitord follows every log: on a loaded machine its start can
                # take longer than a short soak's whole feed, which would leave no kill and
                # no rotation to survive.
                while not self.followed.wait(0.2) and not self.stop_asked.is_set():
                    pass
                self.started = time.monotonic() - total / plan.rate
                due = [self.started + self.rng.uniform(*plan.rotate_every) for _ in due]
            time.sleep(max(0.0, self.TICK - (time.monotonic() - now)))
        for src in self.sources:
            self._write(src, [], True)
        self.finished = time.monotonic()
        for src in self.sources:
            assert src.fh is not None
            src.fh.close()
            if src.compressing is not None:
                src.compressing.join()

    def _write(self, src: Source, lines: list[str], whole: bool) -> None:
        """The lines in one write, now and then the last of them cut in two, its rest
        written with the next tick (never across a rotation)."""
        src.fed += len(lines)
        data = src.carry + "".join(f"{x}\n" for x in lines).encode("utf-8", "surrogateescape")
        src.carry = b""
        if lines and not whole and self.rng.random() < self.plan.split_share:
            cut = len(data) - self.rng.randrange(1, len(lines[-1]) + 1)
            data, src.carry = data[:cut], data[cut:]
        assert src.fh is not None
        src.fh.write(data)
        src.fh.flush()


# --- the mail server ---------------------------------------------------------------------


class Mailbox:
    """An SMTP handler that keeps the Message-ID and arrival time of each message it accepts,
    and refuses every message with 451 while ``refusing`` is set."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrived: list[tuple[float, str]] = []
        self.refusing = False
        self.refused = 0
        self._headers = email.parser.BytesHeaderParser(policy=email.policy.default)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusing:
            self.refused += 1
            return "451 4.3.0 soak: try again later"
        msg = self._headers.parsebytes(bytes(envelope.original_content))
        with self.lock:
            self.arrived.append((time.monotonic(), str(msg["Message-ID"])))
        return "250 2.0.0 OK"

    def ids(self) -> list[tuple[float, str]]:
        with self.lock:
            return list(self.arrived)


class FlappingServer(threading.Thread):
    """The mail server: up for a while, then down (stopped, or answering 451), then up."""

    def __init__(
        self, port: int, up: tuple[float, float], down: tuple[float, float], rng: random.Random
    ) -> None:
        super().__init__(name="smtp-flaps", daemon=True)
        self.port = port
        self.up_for = up
        self.down_for = down
        self.rng = rng
        self.box = Mailbox()
        self.controller: Controller | None = None
        self.flaps = 0
        self.downs: list[float] = []  # when each outage began (monotonic)
        self.steady = threading.Event()  # set: stay up from now on
        self.lock = threading.Lock()

    def start_serving(self) -> None:
        with self.lock:
            self.box.refusing = False
            if self.controller is None:
                self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port)
                self.controller.start()

    def stop_serving(self) -> None:
        with self.lock:
            if self.controller is not None:
                self.controller.stop()
                self.controller = None

    def run(self) -> None:
        self.start_serving()
        while not self.steady.wait(self.rng.uniform(*self.up_for)):
            self.flaps += 1
            self.downs.append(time.monotonic())
            self.box.refusing = True
            if self.rng.random() < 0.5:
                # Shut down as a mail server is stopped: what it has accepted has had its
                # reply (a server killed between keeping a message and saying so makes any
                # client send it again), then no connections at all.
                time.sleep(0.5)
                self.stop_serving()
            if self.steady.wait(self.rng.uniform(*self.down_for)):
                break
            self.start_serving()
        self.start_serving()


# --- the daemon --------------------------------------------------------------------------


class Daemon:
    """``monitord run`` as a child process, its output appended to a log file, its memory
    sampled from /proc."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.peak_hwm_kb = 0
        self.peak_rss_kb = 0
        self.starts = 0

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitord", "--config", str(self.config), "run"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.starts += 1

    def sample(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                kb = int(value.split()[0])
                if key == "VmHWM":
                    self.peak_hwm_kb = max(self.peak_hwm_kb, kb)
                else:
                    self.peak_rss_kb = max(self.peak_rss_kb, kb)

    def kill(self) -> None:
        assert self.proc is not None
        self.sample()
        self.proc.kill()
        self.proc.wait()

    def terminate(self, timeout: float = 120.0) -> int:
        assert self.proc is not None
        self.sample()
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self) -> int:
        assert self.proc is not None
        return self.proc.wait()


# --- the store ---------------------------------------------------------------------------


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows from the store, read-only; nothing while it is being created."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []


def ingested(db: Path) -> int:
    rows = query(db, "SELECT sum(lines) FROM checkpoints")
    return int(rows[0][0] or 0) if rows else 0


def caught_up(db: Path, sources: list[Source]) -> bool:
    """Every source's checkpoint at the end of its current file; or, where a rotation left the
    current file empty (no line was fed after it: monitord has nothing there to commit a
    position in), at the end of the copy it was renamed to."""
    points = {
        r[0]: (r[1], int(r[2]))
        for r in query(db, "SELECT source, file_id, offset FROM checkpoints")
    }
    for src in sources:
        try:
            want = [(identify(src.path), src.path.stat().st_size)]
            older = src.path.with_name(src.path.name + ".1")
            if want[0][1] == 0 and older.exists():
                want.append((identify(older), older.stat().st_size))
        except (OSError, EOFError):
            return False
        if points.get(src.name) not in want:
            return False
    return True


def started_all(db: Path, sources: list[Source]) -> bool:
    """Every source has a committed position."""
    return len(query(db, "SELECT source FROM checkpoints")) >= len(sources)


def queued_mail(db: Path) -> int:
    rows = query(db, "SELECT count(*) FROM outbox WHERE status = 'queued'")
    return int(rows[0][0]) if rows else -1


# --- counting ----------------------------------------------------------------------------

SEQ = {
    "dnsmasq": re.compile(rb"dnsmasq\[(\d+)\]"),
    "squid": re.compile(rb"^\S+\s+(\d+)\s"),
    "suricata": re.compile(rb'"pcap_cnt":(\d+)'),
}


def traced(db: Path, table: str, sources: list[Source], size: int) -> tuple[Any, int]:
    """How many times each fed line is in ``table`` (events or rejected), found by its
    number; and how many rows named no number."""
    counts = np.zeros(size, dtype=np.int64)
    unnamed = 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        for src in sources:
            rx = SEQ[src.fmt]
            cur = conn.execute(f"SELECT raw FROM {table} WHERE source = ?", (src.name,))
            while rows := cur.fetchmany(200_000):
                found = [rx.search(r[0]) for r in rows]
                seqs = [int(m.group(1)) for m in found if m is not None]
                unnamed += len(rows) - len(seqs)
                arr = np.array(seqs, dtype=np.int64)
                arr = arr[arr < size]
                counts += np.bincount(arr, minlength=size)
            if table == "events":  # and the lookups that matched nothing, from their blocks
                unnamed += _traced_lookups(conn, src, counts, size)
    return counts, unnamed


def _traced_lookups(conn: sqlite3.Connection, src: Source, counts: Any, size: int) -> int:
    """Add each stored lookup of ``src`` to ``counts`` by the number its line carries (read
    from its block); return how many named no number."""
    rx = SEQ[src.fmt]
    unnamed = 0
    seqs: list[int] = []
    current, lines = None, {}
    cur = conn.execute(
        'SELECT l.block, l."offset" FROM lookups AS l JOIN lookup_parties AS p '
        "ON p.id = l.party WHERE p.source = ? ORDER BY l.block",
        (src.name,),
    )
    for block, offset in cur:
        if block != current:
            data = conn.execute("SELECT data FROM raw_blocks WHERE id = ?", (block,)).fetchone()
            current, lines = block, unpack_block(data[0])
        m = rx.search(lines[offset])
        if m is None:
            unnamed += 1
        else:
            seqs.append(int(m.group(1)))
    arr = np.array(seqs, dtype=np.int64)
    arr = arr[arr < size]
    counts += np.bincount(arr, minlength=size)
    return unnamed


def expected_alerts(hits: dict[tuple[str, str], list[float]]) -> dict[tuple[str, str], int]:
    """Alerts per (person, category): a lookup more than the group window after the last one
    of an open alert opens a new one (each person's lookups come from one file, in order)."""
    out: dict[tuple[str, str], int] = {}
    for key, times in hits.items():
        n, last = 0, None
        for t in times:
            if last is None or t - last > GROUP_WINDOW:
                n += 1
            last = t
        out[key] = n
    return out


@dataclass
class Tally:
    lost: int = 0
    doubled: int = 0

    def say(self, text: str) -> None:
        print(text, flush=True)


def count_lines(tally: Tally, db: Path, sources: list[Source], fed: Fed) -> None:
    size = fed.seq
    kind, origin = fed.kind[:size], fed.source[:size]
    events, unnamed_events = traced(db, "events", sources, size)
    rejected, unnamed_rejected = traced(db, "rejected", sources, size)
    points = {
        r[0]: r[1:] for r in query(db, "SELECT source, lines, events, rejected FROM checkpoints")
    }
    tally.say("lines, by source:")
    tally.say(
        f"  {'source':<8} {'format':<9} {'fed':>11} {'events':>11} {'stored':>11} "
        f"{'rejected':>9} {'stored':>9} {'skipped':>10} {'lost':>5} {'doubled':>7}"
    )
    for i, src in enumerate(sources):
        mine = origin == i
        want_ev = mine & (kind == EVENT)
        want_rj = mine & (kind == REJECT)
        lost = int(np.count_nonzero(want_ev & (events == 0)))
        lost += int(np.count_nonzero(want_rj & (rejected == 0)))
        extra = int(np.clip(events[mine] - (kind[mine] == EVENT), 0, None).sum())
        extra += int(np.clip(rejected[mine] - (kind[mine] == REJECT), 0, None).sum())
        tally.lost += lost
        tally.doubled += extra
        tally.say(
            f"  {src.name:<8} {src.fmt:<9} {int(mine.sum()):>11,} {int(want_ev.sum()):>11,} "
            f"{int(events[mine].sum()):>11,} {int(want_rj.sum()):>9,} "
            f"{int(rejected[mine].sum()):>9,} {int((mine & (kind == SKIP)).sum()):>10,} "
            f"{lost:>5} {extra:>7}"
        )
        cp = points.get(src.name)
        if cp is not None and (int(cp[0]), int(cp[2])) != (int(mine.sum()), int(want_rj.sum())):
            tally.say(
                f"  {src.name}: the checkpoint counts {cp[0]:,} lines and {cp[2]:,} rejected "
                f"({int(mine.sum()):,} and {int(want_rj.sum()):,} fed)"
            )
    total_events = query(
        db, "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM lookups)"
    )[0][0]
    tally.say(
        f"  all: {size:,} lines fed, {int(events.sum()):,} events traced to them "
        f"({total_events:,} in the store), {int(rejected.sum()):,} rejected; "
        f"rows naming no fed line: {unnamed_events} events, {unnamed_rejected} rejected"
    )
    tally.doubled += unnamed_events + unnamed_rejected


def count_alerts(tally: Tally, db: Path, fed: Fed) -> None:
    want = expected_alerts(fed.hits)
    got: Counter[tuple[str, str]] = Counter()
    grown: Counter[tuple[str, str]] = Counter()
    nobody = 0
    for key, person, n in query(db, "SELECT group_key, person, count FROM alerts"):
        _, who, category = key.split("|")
        user = who.partition(":")[2]
        got[(user, category)] += 1
        grown[(user, category)] += int(n)
        nobody += person is None
    missing = sum(max(0, n - got[k]) for k, n in want.items())
    doubled = sum(max(0, n - want.get(k, 0)) for k, n in got.items())
    hits = sum(len(v) for v in fed.hits.values())
    linked = query(db, "SELECT count(*), count(DISTINCT event_id) FROM alert_events")[0]
    tally.say(
        f"alerts: expected {sum(want.values()):,}, stored {sum(got.values()):,} "
        f"({nobody} without a person), missing {missing}, doubled {doubled}; alerting lookups "
        f"fed {hits:,}, counted in alerts {sum(grown.values()):,}, linked {linked[0]:,} "
        f"({linked[1]:,} distinct events)"
    )
    tally.lost += missing + max(0, hits - int(linked[1]))
    tally.doubled += doubled + max(0, sum(grown.values()) - hits) + int(linked[0] - linked[1])


def count_mail(
    tally: Tally, db: Path, box: Mailbox, kills: list[float], downs: list[float], flushed: int
) -> None:
    outbox = query(
        db, "SELECT alert_id, message_id, status, created_at FROM outbox ORDER BY alert_id, id"
    )
    expected = Counter(str(r[1]) for r in outbox)
    arrivals = box.ids()
    received = Counter(mid for _, mid in arrivals)
    missing = sum(max(0, n - received[m]) for m, n in expected.items())
    doubled = sum(max(0, n - expected.get(m, 0)) for m, n in received.items())
    status = Counter(str(r[2]) for r in outbox)
    first = {int(a) for (a,) in query(db, "SELECT id FROM alerts")}
    opened = {
        int(r[0]) for r in outbox if r[1] == f"<alert-{r[0]}.default.monitord@school.example>"
    }
    updates = sum(1 for r in outbox if r[0] is not None) - len(opened)
    soon = 0
    by_alert: dict[int, list[datetime]] = defaultdict(list)
    for alert_id, _, _, created in outbox:
        if alert_id is None:
            continue
        by_alert[int(alert_id)].append(datetime.fromisoformat(str(created)))
    for created_times in by_alert.values():
        gaps = (b - a for a, b in itertools.pairwise(created_times))
        soon += sum(1 for gap in gaps if gap.total_seconds() < REALERT)
    # A double is explained when a kill or an outage fell between its two arrivals (the
    # server had it, the daemon had not recorded it).
    when: dict[str, list[float]] = defaultdict(list)
    for t, mid in arrivals:
        when[mid].append(t)
    across_kill = across_flap = 0
    told: list[str] = []
    named = {
        json.loads(str(d)).get("message_id")
        for (d,) in query(db, "SELECT detail FROM audit WHERE action = 'mail.interrupted'")
    }
    declared = 0
    for mid, times in when.items():
        for a, b in itertools.pairwise(times):
            killed = [k for k in kills if a <= k <= b]
            if killed:
                across_kill += 1
                declared += mid in named
                told.append(
                    f"  {mid} again {b - a:.2f} s later: the server had it "
                    f"{(killed[0] - a) * 1000:.0f} ms before a SIGKILL"
                    + (" (named in the audit trail)" if mid in named else "")
                )
            elif any(a <= d <= b for d in downs):
                across_flap += 1
                told.append(f"  {mid} again {b - a:.2f} s later, across an outage")
            else:
                told.append(f"  {mid} again {b - a:.2f} s later, with nothing between")
    # What a reader sees: one message per Message-ID. Copies of one Message-ID are doubled
    # only when nothing (no kill, no outage) lies between them.
    seen_twice = max(0, doubled - across_kill - across_flap)
    tally.say(
        f"mail: expected {sum(expected.values()):,} ({len(opened):,} first mails for "
        f"{len(first):,} alerts, {updates:,} updates), received {len(arrivals):,} "
        f"({len(received):,} distinct Message-IDs), doubled as a reader sees it "
        f"{seen_twice + soon}, missing {missing}; redelivered with the same Message-ID "
        f"{across_kill + across_flap} ({across_kill} across a kill, {declared} of them named "
        f"in the audit trail; {across_flap} across an outage); outbox "
        + ", ".join(f"{n:,} {s}" for s, n in sorted(status.items()))
        + f"; sent by `outbox flush` at the end {flushed}; refused with 451 {box.refused:,}"
    )
    for line in told[:10]:
        tally.say(line)
    if first - opened:
        tally.say(f"  alerts with no first mail: {sorted(first - opened)[:20]}")
    if soon:
        tally.say(f"  updates sooner than realert_interval after the mail before: {soon}")
    tally.lost += missing + len(first - opened)
    tally.doubled += seen_twice + soon


# --- the run -----------------------------------------------------------------------------


def scaled(
    given: list[float] | None, default: tuple[float, float], scale: float
) -> tuple[float, float]:
    if given is not None:
        return (given[0], given[1])
    return (max(1.0, default[0] * scale), max(2.0, default[1] * scale))


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def soak(args: argparse.Namespace, folder: Path) -> int:
    rng = random.Random(args.seed)
    rate = args.rate or (5000.0 if args.lines >= 300_000 else max(100.0, args.lines / 25))
    duration = args.lines / rate
    scale = min(1.0, duration / 1800)
    kill_every = scaled(args.kill_every, (120, 300), scale)
    down = scaled(args.down, (1, 10), scale)
    rotate_every = scaled(args.rotate_every, (120, 300), scale)
    up_for = scaled(args.flap_up, (60, 180), scale)
    down_for = scaled(args.flap_down, (10, 60), scale)
    port = free_port()
    agents_port = free_port() if args.flood else 0
    config, sources = build_site(folder / "site", port, args.people, agents_port)
    db = folder / "site" / "var" / "monitord.db"
    fed = Fed(np.zeros(args.lines + 8, np.uint8), np.zeros(args.lines + 8, np.uint8))
    hit_every = args.hit_every or min(2000.0, max(20.0, args.lines / 300))
    lines = Lines(
        fed, random.Random(rng.random()), 1 / hit_every, args.bad_share, args.poison_share
    )
    plan = Plan(args.lines, rate, rotate_every, UNIT_WEIGHTS, 0.05)
    mail_wait = args.mail_wait or max(15.0, min(300.0, duration))
    print(
        f"soak: {args.lines:,} lines at {rate:,.0f}/s (about {duration / 60:.1f} min) into "
        f"{folder}; SIGKILL every {kill_every[0]:.0f}-{kill_every[1]:.0f} s, down "
        f"{down[0]:.0f}-{down[1]:.0f} s; rotation every {rotate_every[0]:.0f}-"
        f"{rotate_every[1]:.0f} s; SMTP up {up_for[0]:.0f}-{up_for[1]:.0f} s, down "
        f"{down_for[0]:.0f}-{down_for[1]:.0f} s; load {load()}",
        flush=True,
    )
    server = FlappingServer(port, up_for, down_for, random.Random(rng.random()))
    daemon = Daemon(config, folder / "daemon.log")
    writer = Writer(plan, sources, fed, lines)
    flood = SlowFlood(agents_port, args.flood) if args.flood else None
    kills: list[float] = []
    lags: list[int] = []
    exits: list[int] = []  # exit statuses of a daemon that stopped without being asked
    flushed = 0
    started = time.monotonic()
    try:
        server.start()
        daemon.start()
        writer.start()
        if flood is not None:
            flood.start()
        next_kill = time.monotonic() + rng.uniform(*kill_every)
        next_report = time.monotonic() + args.report_every
        while writer.is_alive():
            time.sleep(0.5)
            now = time.monotonic()
            daemon.sample()
            if not daemon.alive():
                exits.append(daemon.exit_status())
                daemon.start()
            if not writer.followed.is_set() and started_all(db, sources):
                writer.followed.set()
            # Not before then either, for the same reason.
            if now >= next_kill and writer.followed.is_set():
                daemon.kill()
                kills.append(now)
                time.sleep(rng.uniform(*down))
                daemon.start()
                next_kill = time.monotonic() + rng.uniform(*kill_every)
            if now >= next_report:
                done = ingested(db)
                lags.append(fed.seq - done)
                print(
                    f"  {now - started:7.0f} s: fed {fed.seq:,}, read {done:,} (behind "
                    f"{fed.seq - done:,}), mail {len(server.box.arrived):,}, restarts "
                    f"{len(kills)}, SMTP outages {server.flaps}, RSS "
                    f"{daemon.peak_rss_kb / 1024:.0f} MiB, load {load()}",
                    flush=True,
                )
                next_report = now + args.report_every
        writer.join()
        print(f"  {time.monotonic() - started:7.0f} s: all {fed.seq:,} lines written", flush=True)
        if writer.failed is not None:
            raise SystemExit(f"the writer failed: {writer.failed!r}")
        write_time = writer.finished - writer.started
        deadline = time.monotonic() + args.catchup_timeout
        while not caught_up(db, sources) and time.monotonic() < deadline:
            time.sleep(1.0)
            daemon.sample()
        caught = caught_up(db, sources)
        read_time = time.monotonic() - writer.started
        print(f"  {time.monotonic() - started:7.0f} s: caught up: {caught}", flush=True)
        server.steady.set()
        server.join()
        deadline = time.monotonic() + mail_wait
        while queued_mail(db) != 0 and time.monotonic() < deadline:
            time.sleep(1.0)
            daemon.sample()
        print(f"  {time.monotonic() - started:7.0f} s: mail queued {queued_mail(db)}", flush=True)
        stopped = daemon.terminate()
        print(f"  {time.monotonic() - started:7.0f} s: SIGTERM: exit {stopped}", flush=True)
        left = queued_mail(db)
        if left > 0:
            m = re.search(r"sent (\d+)", cli(config, "outbox", "flush", check=False))
            flushed = int(m.group(1)) if m else 0
        time.sleep(1.0)  # anything sent twice would arrive now
    finally:
        writer.stop_asked.set()
        if flood is not None:
            flood.stop_asked.set()
            flood.join()
        server.steady.set()
        if daemon.alive():
            daemon.terminate()
        server.stop_serving()

    tally = Tally()
    tally.say("")
    tally.say(f"soak finished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load {load()}")
    verified = cli(config, "evidence", "verify", check=False)
    count_lines(tally, db, sources, fed)
    count_alerts(tally, db, fed)
    count_mail(tally, db, server.box, kills, server.downs, flushed)
    log = (folder / "daemon.log").read_text(encoding="utf-8", errors="replace")
    tracebacks = log.count("Traceback")
    tally.say(
        f"rate: fed {fed.seq / write_time:,.0f} lines/s for {write_time:,.0f} s (asked "
        f"{rate:,.0f}); read {fed.seq / read_time:,.0f} lines/s to the end "
        f"({'caught up' if caught else 'NOT caught up'} {read_time - write_time:,.0f} s after "
        f"the last line); behind at most {max(lags, default=0):,} lines, median "
        f"{int(statistics.median(lags)) if lags else 0:,}"
    )
    tally.say(
        f"faults: {len(kills)} SIGKILLs survived, {server.flaps} SMTP outages, rotations "
        + ", ".join(f"{s.name} {s.rotations}" for s in sources)
        + f"; SIGTERM exit {stopped}; exits unasked {exits or 'none'}; daemon log: "
        f"{tracebacks} tracebacks"
    )
    tally.say(
        f"memory: daemon peak RSS {daemon.peak_hwm_kb / 1024:,.0f} MiB (VmHWM; largest VmRSS "
        f"sampled {daemon.peak_rss_kb / 1024:,.0f} MiB); store "
        f"{sum(p.stat().st_size for p in db.parent.glob('monitord.db*')) / 1e9:,.2f} GB"
    )
    tally.say(f"evidence verify: {verified}")
    tally.say(
        f"poison records: {lines.poisoned:,} fed (NUL, lone surrogates, a size past 64 bits, "
        "the year 9999), each counted above as the one event or rejected line it must be"
    )
    if flood is not None:
        tally.say(flood.summary())
    ok = tally.lost == 0 and tally.doubled == 0 and caught and stopped == 0 and not exits
    tally.say(f"RESULT: {'PASS' if ok else 'FAIL'}: lost {tally.lost}, doubled {tally.doubled}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=10_000_000, help="lines to feed (10,000,000)")
    p.add_argument("--rate", type=float, help="lines a second (5,000; small runs: 25 s worth)")
    p.add_argument("--kill-every", nargs=2, type=float, metavar=("MIN", "MAX"), help="seconds")
    p.add_argument("--down", nargs=2, type=float, metavar=("MIN", "MAX"), help="seconds killed")
    p.add_argument("--rotate-every", nargs=2, type=float, metavar=("MIN", "MAX"))
    p.add_argument("--flap-up", nargs=2, type=float, metavar=("MIN", "MAX"))
    p.add_argument("--flap-down", nargs=2, type=float, metavar=("MIN", "MAX"))
    p.add_argument(
        "--hit-every", type=float, help="one alerting lookup in N (2,000; small runs: more)"
    )
    p.add_argument("--bad-share", type=float, default=0.002, help="share of malformed lines")
    p.add_argument(
        "--poison-share", type=float, default=0.001, help="share of poison records (0.001)"
    )
    p.add_argument(
        "--flood", type=int, default=300, help="slow clients held against the agents' endpoint"
    )
    p.add_argument("--people", type=int, default=40, help="people per source")
    p.add_argument("--seed", type=int, default=9)
    p.add_argument("--report-every", type=float, default=30.0)
    p.add_argument("--catchup-timeout", type=float, default=1800.0)
    p.add_argument("--mail-wait", type=float, help="seconds to wait for the last mail (300)")
    p.add_argument("--dir", help="the folder for the site and logs (default: a new temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the folder afterwards")
    args = p.parse_args(argv)
    if args.dir:
        folder = Path(args.dir)
        folder.mkdir(parents=True, exist_ok=True)
        if any(folder.iterdir()):
            p.error(f"{folder} is not empty")
    else:
        folder = Path(tempfile.mkdtemp(prefix="monitord-soak-"))
    try:
        return soak(args, folder)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
