"""Each source's parser, set up as its ``[[sources]]`` table asks and as the parser allows.

The parser registry is the only list of formats, and each parser says what it needs of the
source that feeds it (``collectors.parsers.base.Needs``): packets rather than lines (so that
an ``interface`` may feed it), whether a syslog listener may feed it, and the options of its
own it takes (Windows DNS's ``date_order``). The settings know only the formats' names; here
each source is checked against its parser, every problem named by its key path, and the
parsers are set up.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from collectors.parsers.base import (
    Option,
    Parser,
    UnknownFormat,
    load_parser,
    option_problems,
)
from monitord.settings.config import Config, ConfigError
from monitord.settings.formats import OPTION_KEYS, format_names


@cache
def _registered() -> dict[str, Parser]:
    """Every registered format's parser that loads (one that does not is named where a
    source asks for it)."""
    parsers = {}
    for fmt in format_names():
        try:
            parsers[fmt] = load_parser(fmt)
        except UnknownFormat:
            continue
    return parsers


def _taking(key: str) -> list[str]:
    return [fmt for fmt, parser in _registered().items() if parser.needs.option(key)]


def format_options() -> dict[str, tuple[list[str], Option]]:
    """Each option a registered format takes, by key: the formats that take it and how the
    first of them describes it (for ``ingest``'s flags)."""
    out: dict[str, tuple[list[str], Option]] = {}
    for parser in _registered().values():
        for option in parser.needs.options:
            out.setdefault(option.key, (_taking(option.key), option))
    return out


def source_problems(table: Mapping[str, object]) -> list[tuple[str, str]]:
    """What one source (a ``[[sources]]`` table as read, or a validated source's fields)
    asks of its format that the format's parser does not allow, as (key, what is wrong).
    A format that is not registered is left to the settings, which name it."""
    fmt = table.get("format")
    if not isinstance(fmt, str) or fmt not in format_names():
        return []
    try:
        needs = load_parser(fmt).needs
    except UnknownFormat as exc:
        return [("format", str(exc))]
    options = {k: v for k in OPTION_KEYS if isinstance(v := table.get(k), str)}
    problems = []
    for key, problem in option_problems(needs, options):
        if needs.option(key) is None:
            problem = f"{key} applies only to format {' or '.join(_taking(key)) or 'none'}"
        problems.append((key, problem))
    if table.get("interface") and not needs.binary:
        packets = [f for f, p in _registered().items() if p.needs.binary]
        problems.append(
            (
                "interface",
                f"interface applies only to a format read as packets: {', '.join(packets)}",
            )
        )
    if table.get("listen") and not needs.listened:
        problems.append(("listen", f"format {fmt} cannot be received by a listener"))
    return problems


def sources_problems(sources: object) -> list[str]:
    """``sources[i].KEY: problem`` for every source of a config document's ``sources``
    array (anything else there is the settings' to name)."""
    out = []
    for i, table in enumerate(sources if isinstance(sources, list) else []):
        if isinstance(table, Mapping):
            out += [f"sources[{i}].{key}: {problem}" for key, problem in source_problems(table)]
    return out


def parser_for(fmt: str, options: Mapping[str, str] | None = None) -> Parser:
    """The parser for a format, set up with a source's options. Raises UnknownFormat for a
    format not registered and ValueError naming each option the format does not take."""
    parser = load_parser(fmt)
    if not options:
        return parser
    problems = option_problems(parser.needs, options)
    if problems:
        raise ValueError("; ".join(f"{key}: {problem}" for key, problem in problems))
    return parser.configured(options)


def source_parsers(cfg: Config) -> list[Parser]:
    """Each configured source's parser, in order; ConfigError naming every source whose
    format does not allow what it asks."""
    label = cfg.path.name if cfg.path is not None else "config"
    sources = cfg.settings.sources
    problems = sources_problems([src.model_dump() for src in sources])
    if problems:
        raise ConfigError([f"{label}: {p}" for p in problems])
    return [parser_for(src.format, src.options()) for src in sources]
