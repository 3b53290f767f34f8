"""Conversations seen for the first time: today's conversation reading with the lexicons a
blind probe first met.

    .venv/bin/python bench/conversations.py [--failures] [--probe fresh25.tsv ...]

Each blind probe (``tests/data/texts/fresh23.tsv`` on) was judged once, when it was added, by
the engine of that day; its misses were then fixed in the lexicons, so today's lexicons know
its phrasings and today's figures on it say nothing of phrasings never met. This bench takes
the lexicons and phrase lists of the commit that added each probe (``git show``), compiles
them with today's code, and judges the probe's items as a junior pupil's with today's judge,
learned model and conversation reading: the nearest measure of what a change to how
messages are read together does for conversations nobody has written down. (Today's code
holds fixes made for the probes too, in the judge itself; the lexicons hold most.)

Then the harmless stream of ``bench/texts.py`` (the corpora's harmless texts typed by one
pupil 30 s apart) with today's lexicons, where false alarms of reading messages together
show. The learned model was trained on those harmless texts, so it knows them: with
``--folds K`` the stream is judged a fifth at a time (K parts) by a model trained without
that part's texts (``bench/textmodel.py``'s training; scikit-learn needed), so that what the
model makes of harmless chat it has never seen shows too.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from textmodel import ROOT, TEXTS  # bench/textmodel.py
from texts import CORPORA, harmless_stream  # bench/texts.py

from monitord.classify.phrases import load_phrase_dir
from monitord.classify.textrisk.blend import BlendedJudge, default_judge
from monitord.classify.textrisk.corpus import (
    CONVERSATION,
    HELP,
    NONE,
    Item,
    judge_item,
    read_corpus,
)
from monitord.classify.textrisk.learned import default_model, parse_model
from monitord.classify.textrisk.lexicon import load_lexicons

BLIND = ("fresh25.tsv", "fresh26.tsv", "fresh28.tsv", "fresh31.tsv", "fresh32.tsv")


def _git(*args: str) -> bytes:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True).stdout


def judge_of(commit: str) -> BlendedJudge:
    """Today's judge and model with the lexicons and phrase lists of ``commit``."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = _git("archive", commit, "config/lexicon", "config/phrases")
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        base = Path(tmp) / "config"
        lexicon = load_lexicons(base / "lexicon", load_phrase_dir(base / "phrases"))
    return BlendedJudge(lexicon, default_model())


def added(path: Path) -> str:
    rel = path.relative_to(ROOT).as_posix()
    return _git("log", "--diff-filter=A", "--format=%H", "--", rel).decode().split()[-1]


def probe(judge: BlendedJudge, items: list[Item], failures: bool) -> tuple[int, int, int, int]:
    caught = risks = alarms = harmless = 0
    by_lang: Counter[str] = Counter()
    of_lang: Counter[str] = Counter()
    for item in items:
        if item.expected == HELP:
            continue
        got = judge_item(judge, item).categories
        if item.expected == NONE:
            harmless += 1
            alarms += bool(got)
            bad = bool(got)
        else:
            risks += 1
            ok = item.expected in got
            caught += ok
            of_lang[item.lang] += 1
            by_lang[item.lang] += ok
            bad = not ok
        if bad and failures:
            print(f"    {item.where} {item.expected}, got {got or 'nothing'}: {item.text}")
    langs = ", ".join(f"{lang} {by_lang[lang]}/{n}" for lang, n in sorted(of_lang.items()))
    print(f"  risks {caught}/{risks}, false alarms {alarms}/{harmless}  ({langs})")
    return caught, risks, alarms, harmless


def held_out_stream(folds: int) -> None:
    """The harmless stream a part at a time, each part judged by a model trained without
    its texts."""
    import random

    from textmodel import corpus_files, train

    from monitord.classify.textrisk.lexicon import default_lexicon

    training = [i for p in corpus_files() for i in read_corpus(p)]
    stream = [
        i
        for p in CORPORA.values()
        if p.is_file()
        for i in read_corpus(p)
        if i.expected == NONE and i.kind != CONVERSATION and not i.where.startswith("dev")
    ]
    texts = sorted({i.text for i in stream})
    random.Random(0).shuffle(texts)
    for k in range(folds):
        part = set(texts[k::folds])
        model = parse_model(train([i for i in training if i.text not in part]))
        judge = BlendedJudge(default_lexicon(), model)
        print(f"\npart {k + 1} of {folds}, the model trained without its texts:", end="")
        harmless_stream(judge, [i for i in stream if i.text in part])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--failures", action="store_true")
    ap.add_argument("--probe", action="append", help="a probe's file name (default: the blind)")
    ap.add_argument("--no-stream", action="store_true")
    ap.add_argument("--today", action="store_true", help="today's lexicons, not first sight")
    ap.add_argument("--folds", type=int, default=0, help="the stream judged out of sample")
    args = ap.parse_args()
    totals = [0, 0, 0, 0]
    for name in args.probe or BLIND:
        path = TEXTS / name
        if not path.is_file():
            continue
        commit = "HEAD" if args.today else added(path)
        judge = default_judge() if args.today else judge_of(commit)
        items = read_corpus(path)
        convs = [i for i in items if i.kind == CONVERSATION]
        print(f"\n{name}, lexicons of {commit[:10]}: conversations")
        for n, v in enumerate(probe(judge, convs, args.failures)):
            totals[n] += v
        if len(convs) < len(items):
            print(f"{name}: single texts")
            probe(judge, [i for i in items if i.kind != CONVERSATION], args.failures)
    c, r, a, h = totals
    print(f"\nconversations, first sight: {c}/{r} ({c / max(1, r):.1%}), false alarms {a}/{h}")
    if not args.no_stream:
        everything = [i for p in CORPORA.values() if p.is_file() for i in read_corpus(p)]
        judge = default_judge()
        harmless_stream(judge, [i for i in everything if not i.where.startswith(("dev", "fresh"))])
        harmless_stream(judge, [i for i in everything if not i.where.startswith("dev")])
    if args.folds:
        held_out_stream(args.folds)


if __name__ == "__main__":
    main()
