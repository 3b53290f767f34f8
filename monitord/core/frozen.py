"""A quicker ``__init__`` for the frozen dataclasses made for every line read.

A frozen dataclass's own ``__init__`` sets each field through ``object.__setattr__``, looked
up and called by name: an event's 25 fields cost more than parsing the line that made it.
``quick_init`` gives a frozen dataclass with slots an ``__init__`` of the same signature
(names, order, defaults, factories) that sets each field through its slot directly. The
class stays as it was in every other way: frozen (assignment raises), equal, hashed and
shown as before.
"""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """``cls`` (a frozen dataclass with slots) with the quicker ``__init__``."""
    params = getattr(cls, "__dataclass_params__", None)
    if not is_dataclass(cls) or params is None or not params.frozen:
        raise TypeError(f"{cls.__name__}: quick_init needs a frozen dataclass")
    names: dict[str, Any] = {"_missing": MISSING}
    signature: list[str] = []
    body: list[str] = []
    for i, f in enumerate(fields(cls)):
        slot = cls.__dict__.get(f.name)
        if not f.init or slot is None or not hasattr(slot, "__set__"):
            raise TypeError(f"{cls.__name__}.{f.name}: quick_init needs a slot for each field")
        names[f"_set{i}"] = slot.__set__
        if f.default is not MISSING:
            names[f"_default{i}"] = f.default
            signature.append(f"{f.name}=_default{i}")
        elif f.default_factory is not MISSING:
            names[f"_factory{i}"] = f.default_factory
            signature.append(f"{f.name}=_missing")
            body.append(f" if {f.name} is _missing: {f.name} = _factory{i}()")
        else:
            signature.append(f.name)
        body.append(f" _set{i}(self, {f.name})")
    source = f"def __init__(self, {', '.join(signature)}):\n" + "\n".join(body or [" pass"])
    exec(source, names)  # made from the class's own field names only
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
