"""The log formats this installation reads: the names of the parsers registered as entry
points in the group ``monitord.parsers``.

The registry is the only list of formats. Settings read only its names (a source's ``format``
must be one of them); what each parser asks of the source that feeds it (packets rather than
lines, an option of its own, whether a listener may feed it) is the parser's to say, and is
checked where the sources are built (``monitord.service.formats``).
"""

from __future__ import annotations

from importlib.metadata import entry_points

PARSER_GROUP = "monitord.parsers"

# The keys of a ``[[sources]]`` table that belong to one format or another: a parser names
# those it takes (Windows DNS takes ``date_order``) and the values it accepts.
OPTION_KEYS = ("date_order",)


def format_names() -> tuple[str, ...]:
    """The registered formats' names, sorted."""
    return tuple(sorted({ep.name for ep in entry_points(group=PARSER_GROUP)}))
