"""The text engine on the project's labelled corpus: recall per category and per language,
false alarms, and speed.

    .venv/bin/python bench/texts.py [--seconds S] [--failures] [--lexicon-only]

Judges every item of tests/data/texts/tune.tsv (the part the lexicons were tuned on),
heldout.tsv (written before the first tuning, studied in the second), unseen.tsv (written
before the second, never tuned on), the probes of fresh phrasings fresh4-9.tsv (each judged
once before its misses were studied) and ../shared/data/texts/dev-corpus.tsv
as a junior pupil's, by the lexicons and the learned model together (``--lexicon-only``: the
lexicons alone), and prints recall for each category and language and the false alarms
among the harmless items, against the targets (95% for suicide, self-harm, grooming and
pornography, 90% for the rest, false alarms at most 1%). Then the speed on one core (texts per
second of the process's own CPU time, so that other work on a shared machine counts less): short
English texts a second (the whole content path a search takes in the pipeline: lexicons
and phrase lists), and texts in the other languages a second.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest import SEARCHES  # bench/ingest.py: the ordinary searches of its school day

from monitord.classify.content import DEFAULT_PROCESSES, ContentClassifier, ProcessIndex
from monitord.classify.phrases import default_engine
from monitord.classify.textrisk.blend import default_judge
from monitord.classify.textrisk.conversation import Conversations, with_recent
from monitord.classify.textrisk.corpus import (
    CONVERSATION,
    HIGH_RISK,
    NONE,
    Item,
    Tally,
    read_corpus,
    tally,
)
from monitord.classify.textrisk.judge import JUNIOR, TYPED, TextJudge
from monitord.classify.textrisk.lexicon import default_lexicon
from monitord.core.model import Event, EventKind, Person

ROOT = Path(__file__).resolve().parent.parent
CORPORA = {
    "tune": ROOT / "tests" / "data" / "texts" / "tune.tsv",
    "held-out": ROOT / "tests" / "data" / "texts" / "heldout.tsv",
    "held-out 2": ROOT / "tests" / "data" / "texts" / "unseen.tsv",
    "probe 4": ROOT / "tests" / "data" / "texts" / "fresh4.tsv",
    "probe 5": ROOT / "tests" / "data" / "texts" / "fresh5.tsv",
    "probe 6": ROOT / "tests" / "data" / "texts" / "fresh6.tsv",
    "probe 7": ROOT / "tests" / "data" / "texts" / "fresh7.tsv",
    "probe 8": ROOT / "tests" / "data" / "texts" / "fresh8.tsv",
    "probe 20 (English)": ROOT / "tests" / "data" / "texts" / "fresh20.tsv",
    "probe 21 (English)": ROOT / "tests" / "data" / "texts" / "fresh21.tsv",
    "probe 22 (English)": ROOT / "tests" / "data" / "texts" / "fresh22.tsv",
    "probe 23 (English)": ROOT / "tests" / "data" / "texts" / "fresh23.tsv",
    "probe 24 (languages)": ROOT / "tests" / "data" / "texts" / "fresh24.tsv",
    "probe 25 (conversations)": ROOT / "tests" / "data" / "texts" / "fresh25.tsv",
    "probe 26 (conversations, English)": ROOT / "tests" / "data" / "texts" / "fresh26.tsv",
    "probe 27 (languages, English)": ROOT / "tests" / "data" / "texts" / "fresh27.tsv",
    "probe 28 (conversations, languages)": ROOT / "tests" / "data" / "texts" / "fresh28.tsv",
    "probe 29 (English)": ROOT / "tests" / "data" / "texts" / "fresh29.tsv",
    "probe 30 (languages)": ROOT / "tests" / "data" / "texts" / "fresh30.tsv",
    "probe 31 (conversations, languages)": ROOT / "tests" / "data" / "texts" / "fresh31.tsv",
    "probe 32 (conversations, languages)": ROOT / "tests" / "data" / "texts" / "fresh32.tsv",
    "probe 33 (sealed, fifth round)": ROOT / "tests" / "data" / "texts" / "fresh33.tsv",
    "probe 35 (sealed, sixth round)": ROOT / "tests" / "data" / "texts" / "fresh35.tsv",
    "probe 36 (sealed, sixth round)": ROOT / "tests" / "data" / "texts" / "fresh36.tsv",
    "probe 37 (sealed, seventh round)": ROOT / "tests" / "data" / "texts" / "fresh37.tsv",
    "probe 38 (sealed, eighth round)": ROOT / "tests" / "data" / "texts" / "fresh38.tsv",
    "probe 39 (sealed, eighth round)": ROOT / "tests" / "data" / "texts" / "fresh39.tsv",
    "vocabulary checks (languages)": ROOT / "tests" / "data" / "texts" / "vocabulary.tsv",
    "help checks (languages)": ROOT / "tests" / "data" / "texts" / "help.tsv",
    "plans checks (languages)": ROOT / "tests" / "data" / "texts" / "plans.tsv",
    "ambush checks (languages)": ROOT / "tests" / "data" / "texts" / "ambush.tsv",
    "grievance checks (languages)": ROOT / "tests" / "data" / "texts" / "grievance.tsv",
    "coded checks (languages)": ROOT / "tests" / "data" / "texts" / "coded.tsv",
    "help in parts (languages)": ROOT / "tests" / "data" / "texts" / "helpparts.tsv",
    "disclosure checks (languages)": ROOT / "tests" / "data" / "texts" / "disclosure.tsv",
    "unsaid checks (languages)": ROOT / "tests" / "data" / "texts" / "unsaid.tsv",
    "told checks (languages)": ROOT / "tests" / "data" / "texts" / "told.tsv",
    "spoken checks (languages)": ROOT / "tests" / "data" / "texts" / "spoken.tsv",
    "own life checks": ROOT / "tests" / "data" / "texts" / "ownlife.tsv",
    "probe 9 (languages)": ROOT / "tests" / "data" / "texts" / "fresh9.tsv",
    "probe 10 (languages)": ROOT / "tests" / "data" / "texts" / "fresh10.tsv",
    "probe 11 (languages)": ROOT / "tests" / "data" / "texts" / "fresh11.tsv",
    "probe 12 (languages)": ROOT / "tests" / "data" / "texts" / "fresh12.tsv",
    "probe 13 (languages)": ROOT / "tests" / "data" / "texts" / "fresh13.tsv",
    "probe 14 (languages)": ROOT / "tests" / "data" / "texts" / "fresh14.tsv",
    "probe 15 (languages)": ROOT / "tests" / "data" / "texts" / "fresh15.tsv",
    "shared dev": ROOT.parent / "shared" / "data" / "texts" / "dev-corpus.tsv",
}
_T = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
PUPIL = Person("bench.pupil", "Bench Pupil", "pupil", "5", "5A")


def report(name: str, t: Tally, show_failures: bool) -> None:
    positives = sum(t.positives.values())
    caught = sum(t.caught.values())
    print(f"\n{name}: {positives} risks, {t.harmless} harmless")
    for cat in sorted(t.positives):
        floor = 0.95 if cat in HIGH_RISK else 0.90
        r = t.recall(cat)
        mark = "ok" if r >= floor or cat == "help" else "BELOW"
        print(f"  {cat:12} {t.caught.get(cat, 0):4}/{t.positives[cat]:<4} {r:7.1%}  {mark}")
    for lang in sorted(t.lang_positives):
        print(
            f"  lang {lang:7} {t.lang_caught.get(lang, 0):4}/{t.lang_positives[lang]:<4} "
            f"{t.language_recall(lang):7.1%}"
        )
    print(f"  all risks    {caught:4}/{positives:<4} {caught / max(1, positives):7.1%}")
    fa = t.false_alarm_rate
    mark = "ok" if fa <= 0.01 else "ABOVE"
    print(f"  false alarms {t.false_alarms:4}/{t.harmless:<4} {fa:7.1%}  {mark}")
    if show_failures:
        for item, got in t.failures:
            print(f"    {item.where} expected {item.expected}, got {got or 'nothing'}: {item.text}")


# A school's searches as they come: the ordinary ones of bench/ingest.py's school day, and a
# few that must be caught or must not be.
TYPICAL = [
    *SEARCHES,
    "Scunthorpe United",
    "killer whale facts",
    "cocktail sausages recipe",
    "how to kill weeds",
    "how to kill myself",
    "k i l l myself",
    "childline number",
    "where can i get ket",
]


def speed(
    items: list[Item] | list[str],
    seconds: float,
    remember: bool = False,
    lexicon_only: bool = False,
) -> float:
    """Texts a second through the content classifier, as the pipeline calls it; each text
    judged afresh unless ``remember`` (a repeated text is then judged once); with the learned
    model unless ``lexicon_only``."""
    judge = TextJudge(default_lexicon()) if lexicon_only else None
    content = ContentClassifier(default_engine(), ProcessIndex.load(DEFAULT_PROCESSES), judge)
    texts = [i if isinstance(i, str) else i.text for i in items]
    events = [Event(kind=EventKind.SEARCH, ts=_T, text=t, user="b") for t in texts]
    n = 0
    start = time.process_time()
    while time.process_time() - start < seconds:
        if not remember:
            content.forget()
        for ev in events:
            content.classify(ev, PUPIL)
        n += len(events)
    return n / (time.process_time() - start)


def harmless_stream(judge: TextJudge, items: list[Item], seeds: int = 5) -> None:
    """The corpora's harmless searches and typed texts typed by one pupil in one app, 30 s
    apart, shuffled (one order a seed): how many messages raise something with the ones
    before them (a conversation window), and which grooming signals made the pattern."""
    texts = [i.text for i in items if i.expected == NONE and i.kind != CONVERSATION]
    raised = 0
    made: Counter[str] = Counter()
    for seed in range(seeds):
        order = texts[:]
        random.Random(seed).shuffle(order)
        talk = Conversations()
        for n, text in enumerate(order):
            recent = talk.add("pupil", "app", _T + timedelta(seconds=30 * n), text)
            verdict = judge.judge(text, TYPED, JUNIOR)
            if recent.messages > 1:
                verdict = with_recent(judge, verdict, recent, JUNIOR, None)
            if verdict.categories:
                raised += 1
                made[" + ".join(sorted(verdict.signals)) or ", ".join(verdict.categories)] += 1
    n = len(texts) * seeds
    print(f"\nharmless stream: {len(texts)} texts 30 s apart, {seeds} orders")
    print(f"  raised {raised}/{n} ({raised / n:.2%}); by what: {dict(made.most_common(6))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--failures", action="store_true", help="list every item that failed")
    ap.add_argument(
        "--lexicon-only", action="store_true", help="the lexicons without the learned model"
    )
    args = ap.parse_args()
    lexicon_only = args.lexicon_only
    judge = TextJudge(default_lexicon()) if lexicon_only else default_judge()
    everything: list[Item] = []
    for name, path in CORPORA.items():
        if not path.is_file():
            print(f"\n{name}: {path} not found, left out")
            continue
        items = read_corpus(path)
        everything += items
        report(name, tally(judge, items), args.failures)
    harmless_stream(judge, [i for i in everything if not i.where.startswith(("dev", "fresh"))])
    harmless_stream(judge, [i for i in everything if not i.where.startswith("dev")])
    short = [i for i in everything if i.lang == "en" and i.kind == "search" and len(i.text) <= 60]
    harmless = [i for i in short if i.expected == NONE]
    foreign = [i for i in everything if i.lang != "en" and i.kind != "conversation"]

    def rate_of(texts: list[Item] | list[str]) -> float:
        return speed(texts, args.seconds, lexicon_only=lexicon_only)

    print("\nspeed on one core (the content path of the pipeline: lexicons and phrase lists)")
    print(f"  typical school searches:          {rate_of(TYPICAL):10,.0f} texts/s")
    again = speed(TYPICAL, args.seconds, True, lexicon_only)
    print(f"  (the same, repeats remembered:    {again:10,.0f} texts/s)")
    base = default_engine()
    n, start = 0, time.process_time()
    while time.process_time() - start < args.seconds:
        for t in TYPICAL:
            base.score(t, "junior")
        n += len(TYPICAL)
    rate = n / (time.process_time() - start)
    print(f"  (the phrase lists alone, as before: {rate:10,.0f} texts/s)")
    print(f"  short English searches, all:      {rate_of(short):10,.0f} texts/s")
    print(f"  short English searches, harmless: {rate_of(harmless):10,.0f} texts/s")
    print(f"  other languages:                  {rate_of(foreign):10,.0f} texts/s")


if __name__ == "__main__":
    main()
