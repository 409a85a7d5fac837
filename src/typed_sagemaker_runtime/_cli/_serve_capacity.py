"""``smr serve --capacity``: a busy endpoint's :class:`Capacity` from a one-line spec.

``CONCURRENCY[,latency=S][,queue=N][,growth=G][,jitter=J][,overload=KIND]``, e.g.
``16,latency=0.05,queue=8``: what ``--capacity ENDPOINT=SPEC`` and an endpoint table's
``capacity = "SPEC"`` hold. A spec that cannot be served raises ``ServeConfigError`` with
one line naming the option: ``ValueError`` here, ``ServeConfigError`` once ``_serve_config``
has read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from ..testing._capacity import OVERLOAD_ERRORS, Capacity, Overload

__all__ = ["CAPACITY_SYNTAX", "parse_capacity"]

CAPACITY_SYNTAX = "CONCURRENCY[,latency=S][,queue=N][,growth=G][,jitter=J][,overload=KIND]"
_OPTIONS = ("concurrency", "latency", "queue", "growth", "jitter", "overload")
_OVERLOADS: Mapping[str, Overload] = {name: name for name in OVERLOAD_ERRORS}


def parse_capacity(spec: str, source: str) -> Capacity:
    """The :class:`Capacity` of ``spec``; ``source`` names where it was given, for errors."""
    items = [item.strip() for item in spec.split(",")]
    if items and items[0] and "=" not in items[0]:
        items[0] = f"concurrency={items[0]}"
    options: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if key in options:
            raise ValueError(f"{source}: {key} is given twice in {spec!r}")
        if not sep or key not in _OPTIONS:
            raise ValueError(
                f"{source}: bad option {item!r} in {spec!r} (expected {CAPACITY_SYNTAX})"
            )
        options[key] = value.strip()
    if "concurrency" not in options:
        raise ValueError(f"{source}: {spec!r} has no concurrency ({CAPACITY_SYNTAX})")
    overload = _OVERLOADS.get(options.get("overload", "throttle"))
    if overload is None:
        raise ValueError(
            f"{source}: overload={options['overload']!r} is not one of {', '.join(OVERLOAD_ERRORS)}"
        )
    concurrency = _number(source, options, "concurrency", int, 1)
    latency = _number(source, options, "latency", float, 0.0)
    queue = _number(source, options, "queue", int, 0)
    growth = _number(source, options, "growth", float, 0.0)
    jitter = _number(source, options, "jitter", float, 0.0)
    try:
        return Capacity(concurrency, latency, queue, growth, jitter=jitter, overload=overload)
    except ValueError as exc:  # named as the spec spells it: growth, not latency_growth
        raise ValueError(f"{source}: {str(exc).replace('latency_growth', 'growth')}") from None


_T = TypeVar("_T", int, float)


def _number(
    source: str, options: Mapping[str, str], key: str, kind: Callable[[str], _T], default: _T
) -> _T:
    if key not in options:
        return default
    try:  # int("2.5") fails: an integer is asked for
        return kind(options[key])
    except ValueError:
        noun = "an integer" if key in ("concurrency", "queue") else "a number"
        raise ValueError(f"{source}: {key}={options[key]!r} is not {noun}") from None
