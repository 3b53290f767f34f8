"""A realistic synthetic school day: roster, devices, DHCP leases, resolver and proxy logs,
with a handful of planted incidents among thousands of ordinary lookups.
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

FIRST = [
    "Amelia",
    "Olivia",
    "Isla",
    "Ava",
    "Mia",
    "Ivy",
    "Lily",
    "Freya",
    "Florence",
    "Willow",
    "Grace",
    "Sophia",
    "Evie",
    "Poppy",
    "Ella",
    "Noah",
    "Oliver",
    "George",
    "Arthur",
    "Leo",
    "Muhammad",
    "Harry",
    "Oscar",
    "Archie",
    "Jack",
    "Henry",
    "Charlie",
    "Freddie",
    "Theo",
    "Alfie",
    "Jayden",
    "Aisha",
    "Zara",
    "Priya",
    "Kacper",
    "Zofia",
    "Tomasz",
    "Amara",
    "Kwame",
    "Sienna",
]
LAST = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Wright",
    "Robinson",
    "Thompson",
    "Evans",
    "Walker",
    "Khan",
    "Hughes",
    "Green",
    "Lewis",
    "Wood",
    "Harris",
    "Martin",
    "Jackson",
    "Clarke",
    "Ali",
    "Nowak",
    "Okafor",
    "Begum",
    "Shah",
    "Murphy",
    "Kelly",
]

# Ordinary traffic of a primary school: learning platforms, search, updates, CDNs.
ORDINARY = [
    "www.bbc.co.uk",
    "bitesize.bbc.co.uk",
    "classroom.google.com",
    "teams.microsoft.com",
    "login.microsoftonline.com",
    "www.google.com",
    "www.google.co.uk",
    "fonts.gstatic.com",
    "www.purplemash.com",
    "play.ttrockstars.com",
    "app.seesaw.me",
    "en.wikipedia.org",
    "classroom.thenational.academy",
    "www.spellingshed.com",
    "accounts.google.com",
    "ocsp.digicert.com",
    "ctldl.windowsupdate.com",
    "edge.microsoft.com",
    "www.apple.com",
    "gateway.icloud.com",
    "www.natgeokids.com",
    "www.topmarks.co.uk",
    "www.educationcity.com",
    "kids.britannica.com",
    "www.twinkl.co.uk",
    "clients4.google.com",
    "update.googleapis.com",
    "www.gstatic.com",
]
PUPIL_EXTRA = ["www.youtube.com", "i.ytimg.com", "www.coolmathgames.com", "www.roblox.com"]
STAFF_EXTRA = ["outlook.office365.com", "www.gov.uk", "www.tes.com", "www.amazon.co.uk"]


@dataclass(frozen=True)
class Member:
    username: str
    name: str
    role: str
    year: str
    klass: str
    device: str
    mac: str
    ip: str


@dataclass(frozen=True)
class Incident:
    at: time
    who: str  # username, or device id for a shared device
    hosts: tuple[str, ...]
    via_proxy: bool = False
    blocked: bool = False
    note: str = ""


@dataclass(frozen=True)
class SchoolDay:
    day: date
    members: tuple[Member, ...]
    shared: tuple[Member, ...]
    incidents: tuple[Incident, ...]
    files: dict[str, Path]


def school_day_before(now: datetime, tz: ZoneInfo) -> date:
    d = now.astimezone(tz).date() - timedelta(days=1)
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d


def _mac(rng: random.Random) -> str:
    return "02:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(5))


def build_people(rng: random.Random) -> tuple[list[Member], list[Member]]:
    members: list[Member] = []
    used: set[str] = set()

    def username(first: str, last: str) -> str:
        base = f"{first}.{last[0]}".lower()
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}{n}"
        used.add(name)
        return name

    host = 10
    for year in ("4", "5", "6"):
        for i in range(12):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            u = username(first, last)
            host += 1
            members.append(
                Member(
                    u,
                    f"{first} {last}",
                    "pupil",
                    year,
                    f"{year}B",
                    f"Y{year}-LT-{i + 1:02d}",
                    _mac(rng),
                    f"10.20.{year}.{host}",
                )
            )
    staff = [
        ("Sarah", "Mitchell", "headteacher"),
        ("David", "Owen", "staff"),
        ("Helen", "Price", "staff"),
        ("Rebecca", "Cole", "staff"),
        ("Tom", "Baker", "staff"),
        ("Nadia", "Hussain", "staff"),
    ]
    for i, (first, last, role) in enumerate(staff):
        u = username(first, last)
        members.append(
            Member(
                u,
                f"{first} {last}",
                role,
                "",
                "",
                f"STAFF-LT-{i + 1:02d}",
                _mac(rng),
                f"10.20.9.{20 + i}",
            )
        )
    shared = [
        Member("", "", "", "", "", f"SUITE-PC-{i + 1:02d}", _mac(rng), f"10.20.7.{40 + i}")
        for i in range(8)
    ]
    return members, shared


def incidents_for(members: list[Member], shared: list[Member]) -> list[Incident]:
    y6 = [m for m in members if m.year == "6"]
    y5 = [m for m in members if m.year == "5"]
    staff = [m for m in members if m.role == "staff"]
    head = next(m for m in members if m.role == "headteacher")
    return [
        Incident(
            time(9, 47),
            y6[2].username,
            ("www.pornhub.com", "pornhub.com", "ci.phncdn.com", "www.pornhub.com"),
            note="adult site from a Year 6 laptop in a lesson",
        ),
        Incident(
            time(10, 33),
            y5[4].username,
            ("www.bet365.com", "bet365.com"),
            note="betting at morning break",
        ),
        Incident(
            time(11, 5),
            y6[7].username,
            ("www.croxyproxy.com",),
            via_proxy=True,
            blocked=True,
            note="web proxy to get round the filter (blocked)",
        ),
        Incident(
            time(11, 16),
            staff[1].username,
            ("www.skybet.com",),
            via_proxy=True,
            note="betting by a member of staff in lesson time",
        ),
        Incident(
            time(12, 31),
            head.username,
            ("nordvpn.com", "downloads.nordvpn.com"),
            note="VPN by the headteacher",
        ),
        Incident(
            time(13, 22),
            shared[3].device,
            ("www.tiktok.com", "v16.tiktokcdn.com"),
            note="TikTok on a shared suite PC",
        ),
        Incident(
            time(12, 10),
            staff[2].username,
            ("www.facebook.com",),
            note="Facebook at lunch: staff free time, recorded only",
        ),
    ]


def _syslog(ts: datetime) -> str:
    return ts.strftime("%b ") + f"{ts.day:2d}" + ts.strftime(" %H:%M:%S")


def write_day(folder: Path, now: datetime, tz: ZoneInfo, seed: int = 7) -> SchoolDay:
    rng = random.Random(seed)
    day = school_day_before(now, tz)
    members, shared = build_people(rng)
    incidents = incidents_for(members, shared)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "roster": folder / "roster.csv",
        "devices": folder / "devices.csv",
        "leases": folder / "dnsmasq.leases",
        "dns": folder / "dnsmasq.log",
        "proxy": folder / "access.log",
    }
    with files["roster"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["username", "display_name", "role", "year_group", "class", "email"])
        for m in members:
            w.writerow(
                [m.username, m.name, m.role, m.year, m.klass, f"{m.username}@school.example"]
            )
    with files["devices"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["device_id", "mac", "hostname", "ownership", "assigned_to"])
        for m in members:
            w.writerow([m.device, m.mac, m.device.lower(), "school_single", m.username])
        for s in shared:
            w.writerow([s.device, s.mac, s.device.lower(), "school_shared", ""])
    end_of_day = datetime.combine(day, time(18, 0), tzinfo=tz)
    with files["leases"].open("w", encoding="utf-8") as fh:
        for m in [*members, *shared]:
            fh.write(f"{int(end_of_day.timestamp())} {m.mac} {m.ip} {m.device.lower()} *\n")

    dns: list[tuple[datetime, str]] = []
    proxy: list[tuple[datetime, str]] = []
    start = datetime.combine(day, time(8, 30), tzinfo=tz)
    by_name = {m.username: m for m in members} | {s.device: s for s in shared}
    everyone = [*members, *shared]
    for _ in range(2600):
        m = rng.choice(everyone)
        ts = start + timedelta(seconds=rng.randrange(7 * 3600))
        extra = STAFF_EXTRA if m.role in ("staff", "headteacher") else PUPIL_EXTRA
        host = rng.choice(ORDINARY + extra)
        dns.append((ts, f"query[A] {host} from {m.ip}"))
        if m.year == "6" or m.role == "staff":
            url = f"https://{host}:443" if rng.random() < 0.7 else f"http://{host}/"
            proxy.append((ts, _squid(ts, m, url, False, rng)))
    for inc in incidents:
        m = by_name[inc.who]
        ts = datetime.combine(day, inc.at, tzinfo=tz)
        for host in inc.hosts:
            ts += timedelta(seconds=rng.randrange(20, 90))
            if inc.via_proxy:
                proxy.append((ts, _squid(ts, m, f"http://{host}/", inc.blocked, rng)))
            dns.append((ts, f"query[A] {host} from {m.ip}"))
    dns.sort()
    with files["dns"].open("w", encoding="utf-8") as fh:
        for ts, msg in dns:
            local = ts.astimezone(tz)
            fh.write(f"{_syslog(local)} dnsmasq[811]: {msg}\n")
            name = msg.split()[1]
            fh.write(f"{_syslog(local)} dnsmasq[811]: forwarded {name} to 1.1.1.3\n")
            fh.write(
                f"{_syslog(local)} dnsmasq[811]: reply {name} is 203.0.113.{rng.randrange(1, 254)}"
                "\n"
            )
    proxy.sort()
    files["proxy"].write_text("".join(line + "\n" for _, line in proxy), encoding="utf-8")
    stamp = end_of_day.timestamp()
    for p in files.values():
        os.utime(p, (stamp, stamp))
    return SchoolDay(day, tuple(members), tuple(shared), tuple(incidents), files)


def _squid(ts: datetime, m: Member, url: str, blocked: bool, rng: random.Random) -> str:
    user = f"EXAMPLE%5C{m.username}" if m.username else "-"
    code = "TCP_DENIED/403" if blocked else "TCP_MISS/200"
    method = "CONNECT" if url.endswith(":443") else "GET"
    target = url.removeprefix("https://") if method == "CONNECT" else url
    size = 3900 if blocked else rng.randrange(800, 90000)
    peer = "HIER_NONE/-" if blocked else "HIER_DIRECT/203.0.113.7"
    return (
        f"{ts.timestamp():.3f} {rng.randrange(5, 900):6d} {m.ip} {code} {size} {method} "
        f"{target} {user} {peer} text/html"
    )
