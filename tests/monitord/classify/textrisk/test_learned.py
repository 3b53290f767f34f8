"""The learned text model: its features, its file (loaded with the standard library, a bad one
named), its scores, the rule that says when it raises, and training that gives the same bytes
from the same texts."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

from monitord.classify.lists import ListError
from monitord.classify.textrisk.corpus import read_corpus
from monitord.classify.textrisk.learned import (
    DEFAULT_MODEL,
    FORMAT,
    Guess,
    TextModel,
    alone_in,
    decide,
    default_model,
    features,
    load_model,
    parse_model,
)
from tests.conftest import ROOT


def tiny(high: float = 0.9, low: float = 0.6) -> TextModel:
    """A model by hand: "zorblax" is a risk, most like suicide; "glim" a little risk."""
    return TextModel(
        bias=-4.0,
        weights={"zorblax": 8.0, "glim": 4.5},
        categories=("drugs", "suicide"),
        category_bias=(0.0, 0.0),
        category_weights={"zorblax": (-1.0, 2.0), "glim": (1.0, -1.0)},
        high=high,
        low=low,
    )


def test_features_are_words_stems_pieces_and_pairs() -> None:
    got = features("unalive myself")
    assert "unalive" in got
    assert "myself" in got
    assert "unali~" in got
    assert "#<una" in got
    assert "#ive>" in got
    assert "^_unalive" in got
    assert "unalive_myself" in got
    assert features("") == []


def test_scores_are_the_logistic_sums_and_the_word_memory_changes_nothing() -> None:
    m = tiny()
    assert m.risk("nothing here") == pytest.approx(1 / (1 + 2.718281828**4), rel=1e-6)
    first = m.risk("zorblax now")
    assert first > 0.98
    assert m.risk("zorblax now") == first  # the word's part remembered
    g = m.guess("zorblax")
    assert g.category == "suicide"
    assert g.likeness > 0.8
    assert m.guess("glim").category == "drugs"


def test_messages_read_together_score_as_their_text_joined() -> None:
    m = tiny()
    parts = ["hi there", "zorblax now", "", "ok"]
    assert m.risk_joined(parts) == pytest.approx(m.risk("hi there zorblax now ok"), rel=1e-9)
    assert m.risk_joined(parts) == m.risk_joined(parts)  # each part's sum remembered
    shipped = default_model()
    said = ["yes im home alone", "my parents are out till 10", "what do you want me to show you"]
    joined = " ".join(said)
    assert shipped.risk_joined(said) == pytest.approx(shipped.risk(joined), rel=1e-9)


def test_the_rule_high_alone_low_beside_a_word_of_the_category_never_when_quiet() -> None:
    m = tiny()
    high = Guess(0.95, "suicide", 0.9)
    middle = Guess(0.7, "suicide", 0.9)
    assert decide(m, high, {}, quiet=False) == "suicide"
    assert decide(m, middle, {}, quiet=False) is None
    assert decide(m, middle, {"suicide": 60}, quiet=False) == "suicide"
    assert decide(m, middle, {"drugs": 60}, quiet=False) is None  # another category's word
    assert decide(m, Guess(0.5, "suicide", 0.9), {"suicide": 60}, quiet=False) is None
    assert decide(m, high, {"suicide": 60}, quiet=True) is None
    # outside English the model raises only beside the lexicon's words
    assert decide(m, high, {}, False, None, alone=False) is None
    assert decide(m, middle, {"suicide": 60}, False, None, alone=False) == "suicide"
    # ... unless the model has a bar of its own for them, and the score reaches it
    assert alone_in(m, True, 0.5)
    assert not alone_in(m, False, 0.99)
    other = replace(m, elsewhere=0.97)
    assert alone_in(other, False, 0.98)
    assert not alone_in(other, False, 0.96)
    # one grooming signal never lowers the bar
    assert decide(m, Guess(0.7, "grooming", 0.9), {"grooming": 60}, quiet=False) is None
    assert decide(m, Guess(0.95, "grooming", 0.9), {"grooming": 60}, quiet=False) == "grooming"
    # ... and what is left beyond the signal's own words must read as a risk too
    assert decide(m, Guess(0.95, "grooming", 0.9), {"grooming": 60}, False, 0.2) is None


def test_the_shipped_model_loads_and_reads_fresh_phrasings() -> None:
    m = default_model()
    assert m.categories
    assert 0 < m.low <= m.high < 1
    assert m.risk("i am going to unalive myself tonight") > m.risk("what time is lunch")
    assert m.guess("i am going to unalive myself tonight").category == "suicide"
    assert DEFAULT_MODEL.stat().st_size < 3_000_000


def model_json(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "format": FORMAT,
        "high": 0.9,
        "low": 0.6,
        "risk": {"bias": -1.0, "weights": {"a": 1.0}},
        "category": {"names": ["suicide"], "bias": [0.0], "weights": {"a": [1.0]}},
    }
    data.update(changes)
    return data


def test_a_bad_model_file_is_named(tmp_path: Path) -> None:
    assert parse_model(model_json()).weights == {"a": 1.0}
    with pytest.raises(ListError, match="not a text model"):
        parse_model({"format": "other"})
    with pytest.raises(ListError, match="not a category id"):
        parse_model(model_json(category={"names": ["sadness"], "bias": [0.0], "weights": {}}))
    with pytest.raises(ListError, match="do not match"):
        parse_model(model_json(category={"names": ["suicide"], "bias": [0.0, 1.0], "weights": {}}))
    with pytest.raises(ListError, match="thresholds"):
        parse_model(model_json(low=0.95))
    with pytest.raises(ListError, match="malformed"):
        parse_model(model_json(risk={"weights": {}}))
    assert parse_model(model_json(elsewhere=0.95)).elsewhere == 0.95
    assert parse_model(model_json()).elsewhere is None
    assert parse_model(model_json(harmless=0.05)).harmless == 0.05
    assert parse_model(model_json()).harmless is None
    with pytest.raises(ListError, match="harmless"):
        parse_model(model_json(harmless=0.7))  # not under low
    with pytest.raises(ListError, match="elsewhere"):
        parse_model(model_json(elsewhere=0.8))
    path = tmp_path / "model.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ListError, match=r"model.json: cannot read"):
        load_model(path)


def bench_module() -> ModuleType:
    path = ROOT / "bench" / "textmodel.py"
    spec = importlib.util.spec_from_file_location("bench_textmodel", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_textmodel"] = module
    spec.loader.exec_module(module)
    return module


def test_training_gives_the_same_bytes_from_the_same_texts_and_a_usable_model(
    tmp_path: Path,
) -> None:
    pytest.importorskip("sklearn", reason="training needs scikit-learn (pip install '.[test]')")
    bench = bench_module()
    items = read_corpus(ROOT / "tests" / "data" / "texts" / "heldout.tsv")
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    bench.write(bench.train(items), one)
    bench.write(bench.train(list(items)), two)
    assert one.read_bytes() == two.read_bytes()
    model = load_model(one)
    data = json.loads(one.read_text(encoding="utf-8"))
    assert data["trained_on"].startswith(f"{len(items)} labelled texts")
    risky = [i for i in items if bench.is_risk(i)]
    harmless = [i for i in items if i.expected == "none"]
    mean = sum(model.risk(bench.text_of(i)) for i in risky) / len(risky)
    assert mean > sum(model.risk(bench.text_of(i)) for i in harmless) / len(harmless)


def test_blind_probes_are_never_trained_on() -> None:
    bench = bench_module()
    trained = {p.name for p in bench.corpus_files()}
    assert "fresh22.tsv" in trained
    assert "tune.tsv" in trained
    assert "everyday.tsv" in trained
    assert "senses.tsv" not in trained  # a check set of the lexicons' everyday senses
    assert not any((bench.probe_number(ROOT / n) or 0) >= bench.BLIND_FROM for n in trained)
    assert all(bench.probe_number(p) >= bench.BLIND_FROM for p in bench.corpus_files(blind=True))


def test_help_is_a_third_score_read_only_where_the_file_has_one() -> None:
    assert parse_model(model_json()).help("who can i tell") == 0.0  # no help model: never
    m = parse_model(model_json(help={"at": 0.9, "bias": -3.0, "weights": {"tell": 6.0}}))
    assert m.help_at == 0.9
    assert m.help("who can i tell") == pytest.approx(1 / (1 + 2.718281828**-3), rel=1e-6)
    assert m.help("nothing here") < 0.05
    with pytest.raises(ListError, match=r"help\.at"):
        parse_model(model_json(help={"at": 1.5, "bias": 0.0, "weights": {}}))
    with pytest.raises(ListError, match="malformed"):
        parse_model(model_json(help={"bias": 0.0, "weights": {}}))
