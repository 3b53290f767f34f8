"""Train the text engine's learned model, and measure it honestly: leave one probe out.

    .venv/bin/python bench/textmodel.py train [--out PATH]
    .venv/bin/python bench/textmodel.py first-sight     # rebuild bench/textmodel_first.json
    .venv/bin/python bench/textmodel.py lopo [--held-out]
    .venv/bin/python bench/textmodel.py blind

``train`` fits the model on every labelled corpus of ``tests/data/texts`` (never a probe
numbered 23 or above: those are written blind and kept to measure; nor ``senses.tsv``, a
check set of the lexicons' everyday senses: ``UNTRAINED``), among them
``everyday.tsv``, ordinary harmless chat and searches in the nine languages, there to teach
it what everyday talk looks like, and writes the weights that monitord ships
(``config/model/textrisk.json``). Training needs scikit-learn (a test
dependency); the daemon reads the weights with the standard library.

``first-sight`` judges each probe of fresh phrasings with the engine as it was when the probe
was committed (before anything was changed for it: ``git archive`` of that commit, run in a
subprocess) and keeps each item's verdict: what the lexicons alone caught at first sight.

``lopo``: for each probe k, trains without it and judges it with the model beside probe k's
first-sight lexicon verdicts, by the rule the judge applies
(:func:`monitord.classify.textrisk.learned.decide`): recall per category and language and
false alarms, against the lexicon alone at first sight (``--other``: the score from which
the other languages raise alone, ``ELSEWHERE`` unless told; 1 for never). ``--held-out``
adds the probes numbered 23 and above, judged by today's lexicon and the model trained on
everything else.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from monitord.classify.textrisk.blend import MIN_WORDS
from monitord.classify.textrisk.conversation import FRAGMENTS, JOIN
from monitord.classify.textrisk.corpus import CONVERSATION, HELP, NONE, SEPARATOR, Item, read_corpus
from monitord.classify.textrisk.judge import TYPED
from monitord.classify.textrisk.learned import (
    DEFAULT_MODEL,
    FORMAT,
    PATTERN,
    Guess,
    TextModel,
    decide,
    features,
    parse_model,
)
from monitord.classify.textrisk.normal import readings

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ROOT / "tests" / "data" / "texts"
FIRST = Path(__file__).resolve().parent / "textmodel_first.json"
# Probes from this number on are written blind after the model and never trained on.
BLIND_FROM = 23
HIGH, LOW = 0.9, 0.8
# The score from which the model raises alone in the other eight languages (it needs a word
# of the category's lexicon there below this).
ELSEWHERE = 0.93
# The score under which a pupil's typed message the lexicons raised is read as harmless (in
# any category but grooming; chosen by ``lopo``'s table of it).
HARMLESS = 0.05
# The help score from which a pupil's text the lexicons did not read as help is help.
HELP_AT = 0.9
C_RISK, C_CATEGORY = 2.0, 2.0  # the inverse of regularisation (1.0 measured worse)
DIGITS = 4  # weights kept to four decimals
# A feature is learned only when this many training texts have it: one text's own words teach
# nothing about another's, and every feature kept is read when the daemon starts.
MIN_TEXTS = 2
_FRESH = re.compile(r"fresh(\d+)\.tsv")
# Check sets of the lexicons that the model is not trained on: senses.tsv's harmless texts
# share their words with risks said outright ("cut myself", "want to disappear"), and
# trained on they lowered the first sight of lopo's risks (453 -> 446 of 652, false alarms
# 17 both): the lexicons' joins read the context, the model's words cannot.
UNTRAINED = frozenset({"senses.tsv"})


def probe_number(path: Path) -> int | None:
    m = _FRESH.fullmatch(path.name)
    return int(m.group(1)) if m else None


def corpus_files(blind: bool = False) -> list[Path]:
    """The labelled corpora the model learns from, in name order (not the lexicons' own
    check sets); with ``blind`` only the blind probes."""
    out = []
    for p in sorted(TEXTS.glob("*.tsv")):
        n = probe_number(p)
        if (n is not None and n >= BLIND_FROM) == blind and p.name not in UNTRAINED:
            out.append(p)
    return out


def text_of(item: Item) -> str:
    """What the model reads of an item: its canonical reading (of a conversation, the last
    messages typed close together, joined as the judge joins them)."""
    text = item.text
    if item.kind == CONVERSATION:
        text = JOIN.join(text.split(SEPARATOR)[-FRAGMENTS:])
    return readings(text)[0]


def is_risk(item: Item) -> bool:
    return item.expected not in (NONE, HELP)


def train(
    items: list[Item],
    high: float = HIGH,
    low: float = LOW,
    elsewhere: float | None = ELSEWHERE,
    help_at: float = HELP_AT,
    harmless: float | None = HARMLESS,
) -> dict[str, Any]:
    """The model's JSON form, fitted to ``items`` (the same items give the same bytes)."""
    import numpy as np
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    rows = [features(text_of(i)) for i in items]
    seen = Counter(f for r in rows for f in set(r))
    vocab = {f: n for n, f in enumerate(sorted(f for f, k in seen.items() if k >= MIN_TEXTS))}

    def matrix(chosen: Iterable[int]) -> Any:
        data, cols, ptr = [], [], [0]
        for n in chosen:
            counts = Counter(vocab[f] for f in rows[n] if f in vocab)
            for col in sorted(counts):
                cols.append(col)
                data.append(float(counts[col]))
            ptr.append(len(cols))
        return csr_matrix((data, cols, ptr), shape=(len(ptr) - 1, len(vocab)))

    names = sorted(vocab, key=vocab.__getitem__)
    everyone = matrix(range(len(items)))
    y = np.array([is_risk(i) for i in items], dtype=int)
    # Each language's risks and harmless texts weigh the same: where a language has more risks
    # than harmless texts, its common words ("nie", "sie") would otherwise read as risks.
    count = Counter((i.lang, is_risk(i)) for i in items)
    weight = np.array(
        [
            (count[(i.lang, True)] + count[(i.lang, False)]) / (2 * count[(i.lang, is_risk(i))])
            for i in items
        ]
    )
    risk = LogisticRegression(C=C_RISK, solver="liblinear", random_state=0, max_iter=1000)
    risk.fit(everyone, y, sample_weight=weight)
    weights = {
        names[c]: round(float(w), DIGITS)
        for c, w in enumerate(risk.coef_[0])
        if round(float(w), DIGITS) != 0.0
    }
    # Help asked against everything else, its few examples weighed as much as the rest.
    asks = np.array([i.expected == HELP for i in items], dtype=int)
    helps: dict[str, Any] = {}
    if asks.any():
        h = LogisticRegression(
            C=C_RISK, solver="liblinear", random_state=0, max_iter=1000, class_weight="balanced"
        )
        h.fit(everyone, asks)
        helps = {
            "help": {
                "at": help_at,
                "bias": round(float(h.intercept_[0]), DIGITS),
                "weights": {
                    names[c]: round(float(w), DIGITS)
                    for c, w in enumerate(h.coef_[0])
                    if round(float(w), DIGITS) != 0.0
                },
            }
        }
    positives = [n for n, i in enumerate(items) if is_risk(i)]
    cats = sorted({items[n].expected for n in positives})
    pos = matrix(positives)
    used = sorted(set(pos.indices.tolist()))
    cbias, cols = [], []
    for cat in cats:
        yc = np.array([items[n].expected == cat for n in positives], dtype=int)
        m = LogisticRegression(C=C_CATEGORY, solver="liblinear", random_state=0, max_iter=1000)
        m.fit(pos, yc)
        cbias.append(round(float(m.intercept_[0]), DIGITS))
        cols.append(m.coef_[0])
    crows = {}
    for c in used:
        row = [round(float(col[c]), DIGITS) for col in cols]
        if any(row):
            crows[names[c]] = row
    return {
        "format": FORMAT,
        "trained_on": f"{len(items)} labelled texts ({int(y.sum())} risks)",
        "high": high,
        "low": low,
        **({} if elsewhere is None else {"elsewhere": elsewhere}),
        **({} if harmless is None else {"harmless": harmless}),
        "risk": {"bias": round(float(risk.intercept_[0]), DIGITS), "weights": weights},
        "category": {"names": cats, "bias": cbias, "weights": crows},
        **helps,
    }


def write(model: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model, ensure_ascii=False, sort_keys=True, separators=(",", ":")))


# -- first sight -------------------------------------------------------------------------

_DUMP = """
import json, sys
from pathlib import Path
from monitord.classify.textrisk.corpus import read_corpus, judge_item
from monitord.classify.textrisk.judge import TextJudge
from monitord.classify.textrisk.lexicon import default_lexicon
from monitord.classify.textrisk.normal import readings
def beyond(texts):
    found = [h for h in judge.find(texts)
             if h.entry.category == "grooming" and h.entry.cls in ("signal", "part")]
    if not found:
        return None
    r = getattr(found[0], "reading", 0)  # older engines found every hit in the first reading
    drop = {n for h in found if getattr(h, "reading", 0) == r for n in range(h.first, h.last + 1)}
    return " ".join(w for n, w in enumerate(texts[r].split()) if n not in drop)
judge = TextJudge(default_lexicon())
out = []
for it in read_corpus(Path(sys.argv[1])):
    v = judge_item(judge, it)
    hinted = {s.category: s.total for s in v.scores if s.total > 0 and not s.over}
    text = " . ".join(it.text.split(" || ")[-3:]) if it.kind == "conversation" else it.text
    found = judge.find(readings(text))
    quiet = any(h.entry.cls in ("benign", "support", "context") for h in found)
    out.append({"where": it.where, "categories": list(v.categories),
                "support": list(v.support), "hinted": hinted, "quiet": quiet,
                "beyond": beyond(readings(text))})
print(json.dumps(out))
"""


def first_sight() -> dict[str, list[dict[str, Any]]]:
    """Each probe judged by the engine of the commit that added it."""
    out = {}
    for path in corpus_files():
        if probe_number(path) is None:
            continue
        rel = path.relative_to(ROOT).as_posix()
        log = ["git", "-C", str(ROOT), "log", "--diff-filter=A", "--format=%H", "--", rel]
        commit = subprocess.run(log, check=True, capture_output=True, text=True).stdout.split()[-1]
        with tempfile.TemporaryDirectory() as tmp:
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            done = subprocess.run(
                [sys.executable, "-c", _DUMP, rel],
                cwd=tmp,
                env={"PYTHONPATH": tmp, "PATH": "/usr/bin:/bin"},
                check=True,
                capture_output=True,
                text=True,
            )
        out[path.name] = json.loads(done.stdout)
        print(f"{path.name}: judged at {commit[:10]}", file=sys.stderr)
    return out


# -- leave one probe out ----------------------------------------------------------------


class Tally:
    def __init__(self) -> None:
        self.pos: Counter[str] = Counter()
        self.lex: Counter[str] = Counter()
        self.both: Counter[str] = Counter()
        self.neg: Counter[str] = Counter()
        self.lex_fa: Counter[str] = Counter()
        self.both_fa: Counter[str] = Counter()

    def add(self, item: Item, lexicon: Iterable[str], both: Iterable[str], keys: list[str]) -> None:
        lex, comb = set(lexicon), set(both)
        for k in keys:
            if item.expected == NONE:
                self.neg[k] += 1
                self.lex_fa[k] += bool(lex)
                self.both_fa[k] += bool(comb)
            elif is_risk(item):
                self.pos[k] += 1
                self.lex[k] += item.expected in lex
                self.both[k] += item.expected in comb

    def line(self, k: str) -> str:
        p, n = self.pos[k], self.neg[k]
        return (
            f"{k:22} lexicon {self.lex[k]:4}/{p:<4} {self.lex[k] / max(1, p):6.1%}"
            f"  with model {self.both[k]:4}/{p:<4} {self.both[k] / max(1, p):6.1%}"
            f"  false alarms {self.lex_fa[k]:3}/{n:<4} -> {self.both_fa[k]:3}/{n:<4}"
        )


def combined(
    model: TextModel,
    guess: Guess,
    lexicon: list[str],
    hinted: dict[str, int],
    quiet: bool,
    beyond: float | None,
    alone: bool,
    calm: bool = False,
) -> list[str]:
    """What the judge raises: the lexicons' categories (none where ``calm``: the model reads
    the typed message as harmless), or the model's by the judge's rule."""
    if lexicon:
        return [] if calm else list(lexicon)
    cat = decide(model, guess, hinted, quiet, beyond, alone)
    return [] if cat is None else [cat]


HIGH_RISK = ("suicide", "self_harm", "grooming", "pornography")


def keys_of(item: Item, probe: str) -> list[str]:
    lang = "English" if item.lang == "en" else "other languages"
    group = "high-risk" if item.expected in HIGH_RISK else "other risks"
    keys = ["all", f"{probe}", f"lang {item.lang}", lang]
    if is_risk(item):
        keys += [f"cat {item.expected}", f"{lang}, {group}"]
    return keys


GRID = [(h, lo) for h in (0.8, 0.85, 0.9, 0.95) for lo in (0.5, 0.6, 0.7, 0.8) if lo <= h]


def lopo(
    high: float, low: float, held_out: bool, dump: Path | None = None, other: float | None = None
) -> None:
    firsts = json.loads(FIRST.read_text(encoding="utf-8"))
    corpora = {p.name: read_corpus(p) for p in corpus_files()}
    judged: list[tuple[str, Item, Guess, float | None, dict[str, Any]]] = []
    asked: list[tuple[Item, float, bool]] = []  # each item's help score, lexicon help
    for name, verdicts in firsts.items():
        rest = [i for n, its in corpora.items() if n != name for i in its]
        model = parse_model(train(rest, high, low, other))
        # In order: a probe's items keep their order when a header line or a label changes.
        if len(verdicts) != len(corpora[name]):
            sys.exit(f"{name}: {len(corpora[name])} items, {len(verdicts)} first-sight verdicts")
        for item, v in zip(corpora[name], verdicts, strict=True):
            rest = None if v["beyond"] is None else model.risk(v["beyond"])
            judged.append((name, item, model.guess(text_of(item)), rest, v))
            asked.append((item, model.help(text_of(item)), bool(v["support"])))
        print(f"{name}: trained without it", file=sys.stderr, flush=True)
    if dump is not None:
        rows = [
            (n, i.where, i.expected, i.lang, g.risk, g.category, b, v, g.likeness)
            for n, i, g, b, v in judged
        ]
        dump.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")

    def tally(h: float, lo: float, o: float | None = other, calm: float | None = HARMLESS) -> Tally:
        rule = replace(model, high=h, low=lo)
        elsewhere = rule if o is None else replace(model, high=o, low=lo)
        t = Tally()
        for name, item, g, rest, v in judged:
            quiet = v["quiet"] or bool(v["support"])
            english = item.lang == "en"  # as the judge tells an English text (sure for these)
            alone = english or o is not None
            r = rule if english else elsewhere
            # as the judge calms a pupil's typed message (a conversation's are judged one by
            # one there, and its window is the lexicons': not modelled here)
            calmed = (
                calm is not None
                and item.kind == TYPED
                and g.risk < calm
                and not v["support"]
                and PATTERN not in v["categories"]
                and len(text_of(item).split()) >= MIN_WORDS
            )
            both = combined(r, g, v["categories"], v["hinted"], quiet, rest, alone, calmed)
            t.add(item, v["categories"], both, keys_of(item, name))
        return t

    print("thresholds (high, low): first-sight recall and false alarms of the probes")
    for h, lo in GRID:
        t = tally(h, lo)
        print(f"  {h:.2f} {lo:.2f}  {t.line('all')}")
    for o in (None, 0.9, 0.93, 0.95, 0.97, 0.99):
        t = tally(high, low, o)
        at = "never" if o is None else f"at {o:.2f}"
        print(f"  {high:.2f} {low:.2f} other languages alone {at}  {t.line('all')}")
    for c in (None, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2):
        t = tally(high, low, other, c)
        at = "never" if c is None else f"under {c:.2f}"
        print(f"  typed messages the lexicons raised calmed {at:10}  {t.line('all')}")
    print("help asked (the model's help score beside the lexicons' help at first sight):")
    for at in (0.5, 0.7, 0.8, 0.9, 0.95):
        asks = [(s, lex) for i, s, lex in asked if i.expected == HELP]
        calm = [s for i, s, lex in asked if i.expected == NONE and not lex]
        risky = [s for i, s, lex in asked if is_risk(i)]
        print(
            f"  from {at:.2f}: help {sum(lex for _, lex in asks)}/{len(asks)} -> "
            f"{sum(lex or s >= at for s, lex in asks)}/{len(asks)}; harmless read as help "
            f"{sum(s >= at for s in calm)}/{len(calm)}, risks read as help "
            f"{sum(s >= at for s in risky)}/{len(risky)}"
        )
    t = tally(high, low)
    print(f"\nleave one probe out, thresholds high {high}, low {low}: first sight")
    for k in sorted(t.pos, key=lambda k: (k != "all", k.startswith(("cat", "lang", "fresh")), k)):
        print("  " + t.line(k))
    if held_out:
        blind(corpora, high, low, other)


def blind(
    corpora: dict[str, list[Item]], high: float, low: float, other: float | None = ELSEWHERE
) -> None:
    """The blind probes: today's lexicon alone, and with the model trained on the rest."""
    paths = corpus_files(blind=True)
    if not paths:
        print("\nno blind probe yet")
        return
    from monitord.classify.textrisk.blend import BlendedJudge
    from monitord.classify.textrisk.corpus import judge_item
    from monitord.classify.textrisk.judge import TextJudge
    from monitord.classify.textrisk.lexicon import default_lexicon

    model = parse_model(train([i for its in corpora.values() for i in its], high, low, other))
    lexicon = default_lexicon()
    alone, both = TextJudge(lexicon), BlendedJudge(lexicon, model)
    b = Tally()
    for p in paths:
        for item in read_corpus(p):
            lex = judge_item(alone, item).categories
            b.add(item, lex, judge_item(both, item).categories, keys_of(item, p.name))
    print("\nblind probes, today's lexicon alone and with the model")
    for k in sorted(b.pos, key=lambda k: (k != "all", k)):
        print("  " + b.line(k))


def main() -> None:
    global C_RISK, C_CATEGORY
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("train", "first-sight", "lopo", "blind"))
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--high", type=float, default=HIGH)
    ap.add_argument("--low", type=float, default=LOW)
    ap.add_argument("--held-out", action="store_true")
    ap.add_argument(
        "--other",
        type=float,
        default=ELSEWHERE,
        help="let the other languages raise alone from here (1: never)",
    )
    ap.add_argument("--dump", type=Path, help="write each probe item's model scores here")
    ap.add_argument("--c", type=float, default=C_RISK, help="the inverse of regularisation")
    args = ap.parse_args()
    C_RISK = C_CATEGORY = args.c
    other = None if args.other >= 1 else args.other
    if args.what == "train":
        items = [i for p in corpus_files() for i in read_corpus(p)]
        model = train(items, args.high, args.low, other)
        write(model, args.out)
        print(f"{args.out}: {model['trained_on']}, {len(model['risk']['weights'])} risk weights")
    elif args.what == "first-sight":
        FIRST.write_text(json.dumps(first_sight(), ensure_ascii=False, indent=0), encoding="utf-8")
    elif args.what == "blind":
        blind({p.name: read_corpus(p) for p in corpus_files()}, args.high, args.low, other)
    else:
        lopo(args.high, args.low, args.held_out, args.dump, other)


if __name__ == "__main__":
    main()
