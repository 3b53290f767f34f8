"""Helper of bench/classify_vs_squidguard.sh: the squidGuard config, the URLs, the comparison.

    python bench/classify_vs_squidguard.py conf UT1_DIR WORK_DIR       -> WORK_DIR/squidGuard.conf
    python bench/classify_vs_squidguard.py urls UT1_DIR WORK_DIR N     -> urls.txt, squid.txt
    python bench/classify_vs_squidguard.py compare UT1_DIR WORK_DIR "SG_TIMES" "MD_TIMES"

The URLs are a realistic mix, most of them clean: ordinary sites with paths and queries,
then names from the lists (with and without www., other subdomains, paths), URL entries
(with sub-paths and queries), IP literals, UT1 expression URLs, and look-alikes that must
not match on a label boundary (``x<entry>``, ``<entry>munity``).
"""

from __future__ import annotations

import json
import random
import shutil
import string
import sys
from collections import Counter
from pathlib import Path

from monitord.core.categories import ALLOW, UT1_MAP

SEED = 20261121
FILES = (("domains", "domainlist"), ("urls", "urllist"), ("expressions", "expressionlist"))
WORDS = [
    "school",
    "learn",
    "maths",
    "news",
    "sport",
    "weather",
    "games",
    "video",
    "music",
    "shop",
    "book",
    "travel",
    "kids",
    "science",
    "history",
    "art",
    "cloud",
    "mail",
    "docs",
    "drive",
    "maps",
    "photo",
    "recipe",
    "garden",
    "football",
    "cricket",
    "library",
    "council",
    "health",
    "bank",
    "energy",
    "radio",
    "tv",
    "film",
    "story",
    "puzzle",
    "code",
    "robot",
    "space",
    "planet",
    "ocean",
]
TLDS = ["com"] * 40 + ["co.uk"] * 15 + ["org"] * 8 + ["net"] * 8 + ["uk"] * 3 + ["io"] * 3
TLDS += ["de", "fr", "nl", "org.uk", "ac.uk", "gov.uk", "info", "eu", "com.au", "es", "it"]


def listed_folders(ut1: Path) -> list[Path]:
    """The UT1 folders monitord maps to a category that raises something (not allow lists)."""
    return [
        p for p in sorted(ut1.iterdir()) if p.is_dir() and UT1_MAP.get(p.name) not in (None, ALLOW)
    ]


def entries(folder: Path, kind: str) -> list[str]:
    path = folder / kind
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [s.strip() for s in lines if s.strip() and not s.startswith("#")]


def write_conf(ut1: Path, work: Path) -> None:
    """Copies the lists (squidGuard -C writes its .db files beside them) and the config."""
    db = work / "db"
    dests: list[str] = []
    for folder in listed_folders(ut1):
        target = db / folder.name
        target.mkdir(parents=True, exist_ok=True)
        lines = [f"dest {folder.name.replace('-', '_')} {{"]
        for name, keyword in FILES:
            found = entries(folder, name)
            if found:
                (target / name).write_text("\n".join(found) + "\n", encoding="utf-8")
                lines.append(f"    {keyword} {folder.name}/{name}")
        if len(lines) > 1:
            dests.append("\n".join([*lines, "}"]))
    names = [d.split()[1] for d in dests]
    conf = [
        f"dbhome {db}",
        f"logdir {work / 'log'}",
        *dests,
        "acl {",
        "    default {",
        "        pass " + " ".join(f"!{n}" for n in names) + " all",
        "        redirect http://blocked.invalid/?cat=%t&url=%u",
        "    }",
        "}",
    ]
    (work / "log").mkdir(exist_ok=True)
    (work / "squidGuard.conf").write_text("\n".join(conf) + "\n", encoding="utf-8")


def _host(rng: random.Random) -> str:
    name = rng.choice(WORDS) + rng.choice(["", "", rng.choice(WORDS), str(rng.randrange(100))])
    if rng.random() < 0.5:
        name += "-" + "".join(rng.choices(string.ascii_lowercase, k=rng.randrange(3, 9)))
    sub = rng.choice(["www."] * 6 + ["", "", "m.", "cdn.", "static.", "api.", "login."])
    return f"{sub}{name}.{rng.choice(TLDS)}"


def _path(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return "/"
    parts = [rng.choice(WORDS) for _ in range(rng.randrange(1, 4))]
    path = "/" + "/".join(parts)
    if r < 0.5:
        path += rng.choice([".html", ".php", ".js", ".png", "/"])
    if rng.random() < 0.3:
        path += f"?id={rng.randrange(10**6)}&q={rng.choice(WORDS)}"
    return path


def write_urls(ut1: Path, work: Path, n: int) -> None:
    rng = random.Random(SEED)
    domains: list[str] = []
    urls: list[str] = []
    for folder in listed_folders(ut1):
        domains += [d for d in entries(folder, "domains") if d.isascii() and "/" not in d]
        urls += [u for u in entries(folder, "urls") if u.isascii()]
    named = [d for d in domains if not d.rsplit(".", 1)[-1].isdigit()]
    addresses = set(domains) - set(named)
    out: list[str] = []
    tags: list[str] = []
    for _ in range(n):
        scheme = rng.choice(["http", "https", "https"])
        r = rng.random()
        tags.append(
            "ordinary"
            if r < 0.80
            else "listed name"
            if r < 0.92
            else "URL entry"
            if r < 0.955
            else "IP literal"
            if r < 0.97
            else "expression"
            if r < 0.975
            else "look-alike"
        )
        if r < 0.80:  # ordinary traffic
            out.append(f"{scheme}://{_host(rng)}{_path(rng)}")
        elif r < 0.92:  # a listed name, as it is or under a subdomain (not an address)
            name = rng.choice(domains)
            sub = "" if name in addresses else rng.choice(["", "", "www.", "www.", "m.", "a.b."])
            out.append(f"{scheme}://{sub}{name}{_path(rng)}")
        elif r < 0.955:  # a URL entry, as it is or below it
            tail = rng.choice(["", "", "/", "/index.html", "?page=2", "/more/page.html"])
            www = "www." if rng.random() < 0.25 else ""
            out.append(f"http://{www}{rng.choice(urls)}{tail}")
        elif r < 0.97:  # IP literals, a few of them listed
            ip = ".".join(str(rng.randrange(1, 255)) for _ in range(4))
            out.append(f"http://{ip}{_path(rng)}")
        elif r < 0.975:  # the UT1 expressions' kind of URL
            ip = ".".join(str(rng.randrange(1, 255)) for _ in range(4))
            out.append(rng.choice([f"http://{ip}/search?q={rng.randrange(999)}"]))
        else:  # look-alikes: not on a label boundary
            d = rng.choice(named)
            out.append(
                rng.choice(
                    [
                        f"{scheme}://x{d}/",
                        f"{scheme}://{d}munity/",
                        f"{scheme}://{d}.example-cdn.net/",
                        f"{scheme}://{d.split('.', 1)[0]}.example/",
                    ]
                )
            )
    (work / "urls.txt").write_text("\n".join(out) + "\n", encoding="utf-8")
    (work / "kinds.txt").write_text("\n".join(tags) + "\n", encoding="utf-8")
    (work / "squid.txt").write_text(
        "".join(f"{u} 10.20.6.7/- - GET\n" for u in out), encoding="utf-8"
    )


def _why(url: str, sg: bool, domains: set[str], url_entries: set[str]) -> str:
    """A reason for one disagreement, from what each program does."""
    rest = url.split("://", 1)[-1].lower()
    host = rest.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0]
    labels = host.split(".")
    on_labels = {".".join(labels[i:]) for i in range(len(labels))}
    anywhere = {host[i:] for i in range(len(host))}
    prefixes = {rest[:k] for k in range(1, len(rest) + 1)}
    stripped = rest
    for pre in ("www.", "web.", "ftp."):
        stripped = stripped.removeprefix(pre)
    prefixes |= {stripped[:k] for k in range(1, len(stripped) + 1)}
    url_hits = prefixes & url_entries
    if sg:
        if host.rsplit(".", 1)[-1].isdigit() and on_labels & domains:
            return (
                "squidGuard matches an address under a listed one (5.10.1.2.3 under "
                "10.1.2.3); monitord: an IP literal matches only itself"
            )
        if (anywhere - on_labels) & domains and not on_labels & domains:
            return "squidGuard matched across a label boundary; monitord follows label boundaries"
        if url_hits:
            return (
                "squidGuard matches a URL entry as a character prefix (/flash blocks /flashy); "
                "monitord on path segments"
            )
        return "squidGuard only"
    url_hosts = {u.split("/", 1)[0] for u in url_entries}
    if url_hits:
        return (
            "squidGuard compares a URL only with its neighbour in the B-tree, so an entry with "
            "a longer sibling (host/a beside host/a/) misses host/a?x; monitord finds it"
        )
    if {".".join(labels[i:]) for i in range(1, len(labels))} & url_hosts:
        return (
            "monitord matches URL entries on subdomains too; squidGuard only on the host "
            "itself (www., web., ftp. stripped)"
        )
    return "monitord only"


def compare(ut1: Path, work: Path, sg_time: str, md_time: str) -> None:
    """``*_time``: "wall user system" seconds of each run, as bash's time prints them."""
    sg_wall, sg_user, sg_sys = map(float, sg_time.split())
    md_wall, md_user, md_sys = map(float, md_time.split())
    urls = (work / "urls.txt").read_text(encoding="utf-8").splitlines()
    sg_lines = (work / "squid.out").read_text(encoding="utf-8", errors="replace").splitlines()
    md_lines = (work / "monitord.out").read_text(encoding="utf-8").splitlines()
    if not (len(urls) == len(sg_lines) == len(md_lines)):
        sys.exit(f"line counts differ: {len(urls)} URLs, {len(sg_lines)}, {len(md_lines)}")
    domains: set[str] = set()
    url_entries: set[str] = set()
    for folder in listed_folders(ut1):
        domains.update(d.lower() for d in entries(folder, "domains"))
        url_entries.update(u.lower() for u in entries(folder, "urls"))
    tags = (work / "kinds.txt").read_text(encoding="utf-8").splitlines()
    per_tag: dict[str, list[int]] = {}  # URLs, listed by squidGuard, by monitord, agreeing
    both = sg_only = md_only = 0
    reasons: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for url, s, m, tag in zip(urls, sg_lines, md_lines, tags, strict=True):
        sg = s.startswith("OK")
        md = any(not x["allow"] for x in json.loads(m)["matches"])
        counts = per_tag.setdefault(tag, [0, 0, 0, 0])
        counts[0] += 1
        counts[1] += sg
        counts[2] += md
        counts[3] += sg == md
        if sg and md:
            both += 1
        elif sg != md:
            sg_only += sg
            md_only += md
            why = _why(url, sg, domains, url_entries)
            reasons[why] += 1
            examples.setdefault(why, url)
    n = len(urls)
    agree = n - sg_only - md_only
    sg_rate, md_rate = n / sg_wall, n / md_wall
    sg_cpu, md_cpu = n / (sg_user + sg_sys), n / (md_user + md_sys)
    print(f"URLs: {n:,}; listed by both: {both:,}; squidGuard only: {sg_only:,}; ", end="")
    print(f"monitord only: {md_only:,}")
    print(f"agreement: {agree:,} of {n:,} = {100 * agree / n:.3f}%")
    for why, count in reasons.most_common():
        print(f"  {count:>6,}  {why}  (e.g. {examples[why]})")
    print("by kind of URL: URLs, listed by squidGuard, by monitord, agreement")
    for tag, (total, by_sg, by_md, same) in per_tag.items():
        print(f"  {tag:12s} {total:>9,} {by_sg:>9,} {by_md:>9,} {100 * same / total:8.3f}%")
    print(
        f"squidGuard 1.6: {sg_wall:.2f} s wall = {sg_rate:,.0f} URLs/s; "
        f"{sg_user + sg_sys:.2f} s CPU = {sg_cpu:,.0f} URLs/s (one process, one core)"
    )
    print(
        f"monitord classify -: {md_wall:.2f} s wall = {md_rate:,.0f} URLs/s; "
        f"{md_user + md_sys:.2f} s CPU = {md_cpu:,.0f} URLs/s (one process, JSON lines)"
    )
    print(f"ratio: {md_rate / sg_rate:.1f}x wall clock, {md_cpu / sg_cpu:.1f}x CPU")
    across = sum(c for why, c in reasons.items() if "label boundary" in why)
    lookalike = per_tag.get("look-alike", [0, 0, 0, 0])
    print(
        f"Label boundaries: monitord matches a domain entry only on label boundaries (an entry "
        f"bar.com never matches bar.community or foobar.com). Here squidGuard matched across a "
        f"label boundary for {across:,} URLs, and listed {lookalike[1]:,} of the "
        f"{lookalike[0]:,} look-alikes (x<entry>, <entry>munity, <entry>.example-cdn.net), "
        f"monitord {lookalike[2]:,}."
    )


def main() -> None:
    mode, ut1, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if mode == "conf":
        if (work / "db").exists():
            shutil.rmtree(work / "db")
        write_conf(ut1, work)
    elif mode == "urls":
        write_urls(ut1, work, int(sys.argv[4]))
    elif mode == "compare":
        compare(ut1, work, sys.argv[4], sys.argv[5])
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
