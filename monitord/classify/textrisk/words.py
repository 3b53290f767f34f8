"""A text judgement in words: the sentences ``monitord classify`` prints and alerts carry, and
the same facts as JSON for ``classify --json``."""

from __future__ import annotations

from typing import Any

from monitord.classify.textrisk.judge import SEARCH, TITLE, Score, TextVerdict

KIND_NAMES = {SEARCH: "a search", TITLE: "a window title", "typed_text": "typed text"}


def language_sentence(v: TextVerdict, name: str) -> str:
    return f"Language: {name} ({v.language.how})."


def score_sentence(v: TextVerdict, s: Score) -> str:
    """One category's judgement as a sentence."""
    why = "; ".join(s.reasons) if s.reasons else "no phrase of its own"
    if s.support and s.over:
        outcome = "reported as a pupil looking for help, never as a risk"
    elif s.over and s.learned:
        outcome = f"reported on the learned model's score of {s.learned:.2f}"
    elif s.over:
        outcome = "reported"
    else:
        outcome = "not reported"
    kind = KIND_NAMES.get(v.kind, v.kind)
    return (
        f"{s.category}: {why}. Total {s.total} against the {v.band} limit of {s.limit} "
        f"for {kind}: {outcome}."
    )


def sentences(v: TextVerdict, language_name: str) -> list[str]:
    """The whole judgement, a sentence a line."""
    out = [language_sentence(v, language_name)]
    if v.messages > 1:
        out.append(
            f"Judged with the {v.messages - 1} message{'s' if v.messages > 2 else ''} "
            "the same person typed just before it in the same app."
        )
    out.extend(f"Context: {c}." for c in v.context)
    if not v.scores:
        out.append("No word or phrase of any lexicon was found: nothing to report.")
    out.extend(score_sentence(v, s) for s in v.scores)
    return out


def summary(v: TextVerdict, category: str, language_name: str) -> str:
    """One line for an alert: why ``category`` was raised by this text."""
    s = next(x for x in v.scores if x.category == category)
    parts = [score_sentence(v, s)]
    if v.language.code != "en":
        parts.append(language_sentence(v, language_name))
    if v.messages > 1:
        parts.append(f"Judged with the {v.messages - 1} message(s) typed just before it.")
    parts.extend(f"Context: {c}." for c in v.context)
    return " ".join(parts)


def as_json(v: TextVerdict, language_name: str) -> dict[str, Any]:
    """The judgement as JSON-able values."""
    return {
        "kind": v.kind,
        "age_band": v.band,
        "normalised": v.normalised,
        "language": {"code": v.language.code, "name": language_name, "how": v.language.how},
        "messages": v.messages,
        "context": list(v.context),
        "phrases": [
            {
                "phrase": h.entry.phrase,
                "typed": h.typed or None,
                "class": h.entry.cls,
                "kind": h.entry.kind or None,
                "category": h.entry.category or None,
                "language": h.entry.lang,
            }
            for h in v.hits
        ],
        "scores": [
            {
                "category": s.category,
                "total": s.total,
                "limit": s.limit,
                "over": s.over,
                "support": s.support,
                "reasons": list(s.reasons),
                "learned_score": s.learned or None,
            }
            for s in v.scores
        ],
        "categories": list(v.categories),
        "support_seeking": v.support_seeking,
        "signals": {k: list(x) for k, x in v.signals.items()},
        "sentences": sentences(v, language_name),
    }
