"""The compiled host index at the scale of a full UT1 release (about 4.6 million adult domains).

    .venv/bin/python bench/domain_index.py [--domains 5000000] [--lookups 2000000] [--dict]

Builds a list of N domains: every real UT1 domain of ../shared/data/ut1, then synthetic ones
with realistic lengths and label counts (most a registered name under a common TLD, some
under a country's second level, a fifth with a host label in front). Imports it as
``monitord lists import --format domains`` does (store_list, then compile_index), then in a
fresh process, with the index file dropped from the page cache first (posix_fadvise), prints:

- resident memory before and after loading the index and after the lookups (VmRSS, with its
  anonymous and file-backed parts), the extra being what the index costs the daemon;
- the load time from disk (open, map, header), and the time to fault in every page a lookup
  can touch (keys and buckets) from a cold cache;
- domains/s for batch lookups of a realistic mix (10% listed names, most under a subdomain;
  90% other names), through the index alone and through ``classify -`` (JSON lines out);
- with ``--dict``, the resident memory of the same names in a dict of strings, for comparison.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
UT1 = ROOT.parent / "shared" / "data" / "ut1" / "blacklists"
SEED = 4_600_000
TLDS = ["com"] * 52 + ["net"] * 8 + ["org"] * 5 + ["ru"] * 4 + ["de"] * 4 + ["info"] * 2
TLDS += ["xyz", "top", "fr", "nl", "it", "es", "pl", "io", "cz", "online", "site", "club"]
SECOND = ["co.uk", "com.br", "com.au", "co.jp", "com.tr", "co.in", "org.uk", "com.mx"]
ALPHABET = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)


def rss() -> dict[str, int]:
    """VmRSS and its parts, in kB, from /proc/self/status."""
    out: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0])
    return out


def real_domains() -> list[str]:
    names: set[str] = set()
    for path in UT1.glob("*/domains"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            s = line.strip().lower()
            if s and not s.startswith("#") and s.isascii():
                names.add(s)
    return sorted(names)


def synthetic(n: int, seed: int) -> list[str]:
    """Registered names of 2 to 30 characters (log-normal, median about 10), a country's
    second level for 8%, a host label in front for 20%."""
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    lengths = np.clip(rng.lognormal(2.3, 0.45, n).astype(int), 2, 30)
    letters = ALPHABET[rng.integers(0, 26, int(lengths.sum()) + n * 8)].tobytes().decode()
    hosts = ALPHABET[rng.integers(0, 36, n * 8)].tobytes().decode()
    out: list[str] = []
    pos = 0
    for i, length in enumerate(lengths.tolist()):
        name = letters[pos : pos + length]
        pos += length
        if length > 6 and i % 7 == 0:  # some names carry a hyphen
            name = f"{name[:3]}-{name[3:]}"
        tld = pick.choice(SECOND) if i % 12 == 0 else pick.choice(TLDS)
        if i % 5 == 0:
            out.append(f"{hosts[8 * i : 8 * i + 1 + i % 7]}.{name}.{tld}")
        else:
            out.append(f"{name}.{tld}")
    return out


def build(args: argparse.Namespace, work: Path) -> None:
    from monitord.classify.lists import STARTER_LISTS, compile_index, read_plain, store_list
    from monitord.service.initdir import init_dir
    from monitord.settings.config import load_config
    from monitord.store.database import open_store

    t = time.perf_counter()
    real = real_domains()
    fake = synthetic(args.domains - len(real), SEED)
    names = real + fake
    listing = work / "domains.txt"
    listing.write_text("\n".join(names) + "\n", encoding="utf-8")
    print(f"list: {len(names):,} domains ({len(real):,} real UT1, {len(fake):,} synthetic), ")
    print(f"  {listing.stat().st_size / 1e6:.0f} MB, made in {time.perf_counter() - t:.1f} s")
    labels = np.bincount([n.count(".") + 1 for n in fake[:200_000]])
    share = ", ".join(
        f"{k} labels {100 * v / labels.sum():.0f}%" for k, v in enumerate(labels) if v
    )
    mean = sum(map(len, fake[:200_000])) / 200_000
    print(f"  synthetic names: mean length {mean:.1f}, {share}")
    sample = random.Random(SEED).sample(names, 100_000)
    (work / "sample.txt").write_text("\n".join(sample) + "\n", encoding="utf-8")
    del names, fake, real

    cfg = load_config(init_dir(work / "site")[0])
    engine = open_store(cfg.database_url)
    t = time.perf_counter()
    content = read_plain(listing, "domains", "pornography", "bench/adult")
    store_list(engine, cfg.lists_dir, content, "bench", datetime.now(UTC))
    stored = time.perf_counter() - t
    del content
    t = time.perf_counter()
    path, index = compile_index(engine, cfg.lists_dir, STARTER_LISTS)
    compiled = time.perf_counter() - t
    assert path is not None
    print(f"import (read and store_list): {stored:.1f} s; compile_index: {compiled:.1f} s")
    print(f"index file: {path.stat().st_size / 1e6:.0f} MB for {len(index.compiled):,} names")


def lookups(work: Path, n: int) -> list[str]:
    listed = (work / "sample.txt").read_text(encoding="utf-8").split()
    other = synthetic(n, SEED + 1)
    rng = random.Random(SEED + 2)
    out = []
    for i in range(n):
        if rng.random() < 0.10:
            name = rng.choice(listed)
            out.append(rng.choice(["", "www.", "www.", "m.", "cdn.img."]) + name)
        else:
            out.append(other[i])
    return out


def measure(args: argparse.Namespace, work: Path) -> None:
    from monitord.classify.engine import Classifier
    from monitord.classify.explain import Explainer
    from monitord.classify.lists import STARTER_LISTS, index_path, load_index
    from monitord.classify.policy import load_policy
    from monitord.settings.config import load_config
    from monitord.store.database import open_store

    cfg = load_config(work / "site" / "monitord.toml")
    engine = open_store(cfg.database_url)
    policy = load_policy(cfg.policy_file, cfg.tz)
    hosts = lookups(work, args.lookups)
    text = "\n".join(hosts)
    path = index_path(cfg.lists_dir, engine, STARTER_LISTS)
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # from disk, not the page cache
    os.close(fd)
    before = rss()
    t = time.perf_counter()
    index = load_index(engine, STARTER_LISTS, cfg.lists_dir)
    loaded = time.perf_counter() - t
    after_load = rss()
    compiled = index.compiled
    t = time.perf_counter()
    int(compiled.keys[::512].sum()) + int(compiled.buckets[::1024].sum())  # one read a page
    fault_in = time.perf_counter() - t
    print(f"load from disk (open, map, header): {1000 * loaded:.1f} ms")
    print(f"fault in keys and buckets from a cold cache: {fault_in:.2f} s")

    rates = []
    for _ in range(3):
        t = time.process_time()
        wall = time.perf_counter()
        items, _, rows = compiled.batch_hits(hosts)
        kinds = compiled.kinds[rows]
        rates.append(
            (len(hosts) / (time.perf_counter() - wall), len(hosts) / (time.process_time() - t))
        )
    listed = int(np.unique(items).size)
    assert len(kinds) == len(rows)
    after_lookups = rss()
    best_wall = max(r[0] for r in rates)
    best_cpu = max(r[1] for r in rates)
    print(f"lookups: {len(hosts):,} domains, {listed:,} listed ({100 * listed / len(hosts):.1f}%)")
    print(
        f"index batch: {best_wall:,.0f} domains/s wall, {best_cpu:,.0f} domains/s CPU (best of 3)"
    )

    classifier = Classifier(index)
    t = time.process_time()
    for host in hosts[:200_000]:
        classifier.classify_host(host)
    single = 200_000 / (time.process_time() - t)
    print(f"one at a time, as the pipeline asks (Classifier.classify_host): {single:,.0f}/s CPU")
    after_single = rss()

    explainer = Explainer(classifier, policy, None, datetime.now(UTC))
    t = time.process_time()
    wall = time.perf_counter()
    sink = _Discard()
    explainer.stream(io.BytesIO((text + "\n").encode()), sink)
    print(
        f"classify - (JSON lines): {len(hosts) / (time.perf_counter() - wall):,.0f} domains/s "
        f"wall, {len(hosts) / (time.process_time() - t):,.0f} CPU"
    )
    after_all = rss()

    def mb(a: dict[str, int], b: dict[str, int], key: str) -> str:
        return f"{(b[key] - a[key]) / 1024:.0f}"

    print(
        f"RSS before load: {before['VmRSS'] / 1024:.0f} MB (Python, monitord, numpy, the "
        f"{len(hosts):,} lookup names)"
    )
    for label, r in (
        ("after load", after_load),
        ("after index lookups", after_lookups),
        ("after 200,000 single lookups", after_single),
        ("after classify -", after_all),
    ):
        print(
            f"  extra {label}: {mb(before, r, 'VmRSS')} MB "
            f"(anonymous {mb(before, r, 'RssAnon')} MB, file-backed {mb(before, r, 'RssFile')} MB)"
        )


class _Discard(io.StringIO):
    """Where the JSON lines go: counted, not kept (a StringIO would hold them all in RSS)."""

    written = 0

    def write(self, s: str) -> int:
        self.written += len(s)
        return len(s)


def dict_of_strings(work: Path) -> None:
    """The structure one would write first: every name a str key of a dict (names and table
    both counted, as the daemon would hold both)."""
    before = rss()["VmRSS"]
    tag = ("pornography", "bench/adult")
    table: dict[str, tuple[str, str]] = {}
    with (work / "domains.txt").open(encoding="utf-8") as fh:
        for line in fh:
            table[line.rstrip("\n")] = tag
    print(f"dict of strings, {len(table):,} names: {(rss()['VmRSS'] - before) / 1024:.0f} MB extra")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domains", type=int, default=5_000_000)
    p.add_argument("--lookups", type=int, default=2_000_000)
    p.add_argument("--dict", action="store_true", help="also measure a dict of strings")
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--dict-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        measure(args, Path(args.work))
        return
    if args.dict_only:
        dict_of_strings(Path(args.work))
        return
    with tempfile.TemporaryDirectory(prefix="domain-index-") as tmp:
        work = Path(tmp)
        build(args, work)
        me = [sys.executable, __file__, "--work", str(work), "--lookups", str(args.lookups)]
        subprocess.run([*me, "--measure"], check=True)
        if args.dict:
            subprocess.run([*me, "--dict-only"], check=True)


if __name__ == "__main__":
    main()
