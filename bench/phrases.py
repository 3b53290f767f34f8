"""Phrase engine speed: search queries scored per second on one core.

    .venv/bin/python bench/phrases.py [--seconds S] [--e2guardian PATH]

Scores a mix of typical pupil searches (mostly ordinary, some disguised, some that must be
caught) for the junior band, with the project's own lists, then with the e2guardian
ukenglish lists imported as well (from ../shared/data, or --e2guardian PATH), and prints
queries/s for each.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from monitord.classify.e2guardian import read_e2guardian
from monitord.classify.phrases import PhraseEngine, default_engine, load_engine

E2G = (
    Path(__file__).resolve().parent.parent.parent
    / "shared"
    / "data"
    / "e2guardian-phraselists"
    / "ukenglish"
)

QUERIES = [
    "how to draw a cat",
    "minecraft seeds",
    "roblox promo codes",
    "year 5 fractions worksheet",
    "bbc bitesize ks2 maths",
    "why is the sky blue",
    "the tudors for kids",
    "fortnite skins",
    "how to make slime without glue",
    "what time is it in australia",
    "how many legs does a spider have",
    "premier league table",
    "Scunthorpe United",
    "I want to cut my hair",
    "holocaust year 6 lesson",
    "how to kill myself",
    "k i l l myself",
    "su1c1de",
    "childline number",
    "ways to self harm without anyone knowing",
]


def rate(engine: PhraseEngine, seconds: float) -> float:
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for q in QUERIES:
            engine.score(q, "junior")
        n += len(QUERIES)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--e2guardian", type=Path, default=E2G)
    args = ap.parse_args()
    engines = [("project lists", default_engine())]
    if args.e2guardian.exists():
        lists, _ = read_e2guardian(args.e2guardian)
        engines.append(("project + e2guardian ukenglish", load_engine(extra=lists)))
    for label, engine in engines:
        print(f"{label}: {engine.rule_count} rules, {rate(engine, args.seconds):,.0f} queries/s")


if __name__ == "__main__":
    main()
