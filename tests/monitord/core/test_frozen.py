"""quick_init: the same instances as a frozen dataclass's own ``__init__`` makes, as quickly
as its slots allow, for the classes made for every line read."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field, make_dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.base import ParseContext
from monitord.core import model
from monitord.core.frozen import quick_init


def _spec() -> list[tuple[str, Any, Any]]:
    """Fields of each kind: required, with a default, with a factory."""
    return [
        ("name", str, field()),
        ("count", int, field(default=0)),
        ("tags", tuple[str, ...], field(default_factory=tuple)),
        ("seen", list[int], field(default_factory=list)),
        ("note", str | None, field(default=None)),
    ]


# The same class twice: as the dataclass makes it, and with quick_init.
Plain: Any = make_dataclass("Plain", _spec(), frozen=True, slots=True)
Quick: Any = quick_init(make_dataclass("Quick", _spec(), frozen=True, slots=True))


def _values(x: Any) -> tuple[object, ...]:
    return tuple(getattr(x, f.name) for f in dataclasses.fields(x))


@given(
    st.text(),
    st.none() | st.integers(),
    st.none() | st.lists(st.text(max_size=3), max_size=3).map(tuple),
    st.none() | st.text(),
    st.booleans(),
)
def test_the_same_values_as_the_dataclass_init(
    name: str, count: int | None, tags: tuple[str, ...] | None, note: str | None, positional: bool
) -> None:
    given_args = {"count": count, "tags": tags, "note": note}
    kwargs = {k: v for k, v in given_args.items() if v is not None}
    if positional:
        assert _values(Quick(name, **kwargs)) == _values(Plain(name, **kwargs))
    else:
        assert _values(Quick(name=name, **kwargs)) == _values(Plain(name=name, **kwargs))


def test_a_factory_makes_a_new_value_each_time_and_the_class_stays_frozen() -> None:
    a, b = Quick("a"), Quick("a")
    assert a.seen == []
    assert a.seen is not b.seen
    assert a == b
    assert repr(Quick("a", 2)) == "Quick(name='a', count=2, tags=(), seen=[], note=None)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.name = "b"
    assert replace(a, count=3) == Quick("a", 3)
    with pytest.raises(TypeError):
        Quick()
    with pytest.raises(TypeError):
        Quick("a", colour="red")
    with pytest.raises(TypeError):
        Quick("a", 1, (), [], None, "one too many")


def test_only_a_frozen_dataclass_with_slots_is_taken() -> None:
    @dataclass(slots=True)
    class Open:
        x: int

    @dataclass(frozen=True)
    class NoSlots:
        x: int

    for cls in (Open, NoSlots, int):
        with pytest.raises(TypeError):
            quick_init(cls)


@pytest.mark.parametrize(
    "cls",
    [
        model.Origin,
        model.RawRecord,
        model.Event,
        model.EventUpdate,
        model.Parsed,
        model.Attribution,
        model.Match,
        model.Decision,
        model.Judged,
        ParseContext,
    ],
)
def test_the_models_keep_their_signatures(cls: type) -> None:
    # As the dataclass wrote it: each field by name, in order, with its default.
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [p.name for p in params] == [f.name for f in dataclasses.fields(cls)]
    for p, f in zip(params, dataclasses.fields(cls), strict=True):
        if f.default is not dataclasses.MISSING:
            assert p.default == f.default
        elif f.default_factory is dataclasses.MISSING:
            assert p.default is inspect.Parameter.empty


def test_an_event_is_as_it_was() -> None:
    ts = datetime(2026, 11, 19, 10, 1, 2, tzinfo=UTC)
    ev = model.Event(model.EventKind.DNS, ts, client_ip="10.20.6.7", domain="www.bbc.co.uk")
    assert (ev.kind, ev.ts, ev.client_ip, ev.domain, ev.blocked, ev.user) == (
        model.EventKind.DNS,
        ts,
        "10.20.6.7",
        "www.bbc.co.uk",
        False,
        None,
    )
    judged = model.Judged(
        "id", model.Origin("s", "f", 0), b"raw", ev, "dnsmasq", model.Attribution()
    )
    assert (judged.decisions, judged.matches, judged.top) == ((), (), None)
