"""What ``smr serve`` serves: endpoint and fault specifications and config files, parsed.

``--endpoint NAME=BACKEND``, ``--fault ENDPOINT:KIND[:OPTION=VALUE,...]``, the other flags
and a JSON or TOML config file become one :class:`Settings`: host, port, seed, pace, how
streams are cut into PayloadParts, the connection limits and each endpoint's backend,
options and faults (the syntax is in ``_serve``'s docstring).
Anything that cannot be served raises :class:`ServeConfigError` with a one-line message.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..testing._codes import known_codes
from ..testing._faults import (
    ALL_OPERATIONS,
    BIDI_ERROR_STATUS,
    ConnectionReset,
    CorruptFrame,
    ErrorResponse,
    Fault,
    SlowTokens,
    Stall,
    StreamErrorEvent,
    StreamFailureEvent,
    StreamReset,
    TruncatedFrame,
    error_problem,
)
from ..testing._rechunk import Rechunk
from ._serve_capacity import parse_capacity

if TYPE_CHECKING:
    from ..testing._capacity import Capacity
    from ..testing._model import Operation

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_TOKENS_PER_SECOND",
    "DEFAULT_RECHUNK",
    "EndpointSpec",
    "ServeConfigError",
    "Settings",
    "parse_fault",
    "parse_rechunk",
    "parse_settings",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_TOKENS_PER_SECOND = 50.0
DEFAULT_RECHUNK = "random"
_LIMITS = ("idle_timeout", "request_timeout", "max_connections")


class ServeConfigError(ValueError):
    """An endpoint, fault or config file that ``smr serve`` cannot use."""


@dataclass
class EndpointSpec:
    """One endpoint to serve: its backend (demo, echo or container), options and faults."""

    name: str
    backend: str
    options: dict[str, Any] = field(default_factory=dict[str, Any])
    faults: list[Fault] = field(default_factory=list[Fault])
    capacity: Capacity | None = None


@dataclass
class Settings:
    """What ``smr serve`` runs: its address, the seed of faults, the demo pace, the endpoints."""

    host: str = DEFAULT_HOST
    port: int = 0
    bidi_port: int = 0
    """The port of the HTTP/2 listener of bidirectional streams (0: a free port)."""
    seed: int | None = 0
    tokens_per_second: float | None = DEFAULT_TOKENS_PER_SECOND
    endpoints: dict[str, EndpointSpec] = field(default_factory=dict[str, EndpointSpec])
    rechunk: str = DEFAULT_RECHUNK
    """How streams are cut into PayloadParts (see :func:`parse_rechunk`)."""
    idle_timeout: float | None = 60.0
    """Seconds an idle keep-alive connection is kept (``None``: forever)."""
    request_timeout: float | None = 30.0
    """Seconds a request may take to arrive whole (``None``: forever)."""
    max_connections: int = 100
    """Connections served at once."""


def parse_rechunk(spec: str, seed: int | None) -> Rechunk | None:
    """A ``--rechunk`` value as a :class:`Rechunk` (``None`` for ``off``).

    ``off``: one PayloadPart per chunk the backend yields; ``random``: random sizes from
    1 to 64 bytes (small, so a paced stream still arrives token by token);
    ``random:MIN-MAX``: random sizes in that range; ``N[,N...]``: those sizes in turn.
    Random sizes are seeded with ``seed``.
    """
    text = spec.strip().lower()
    if text == "off":
        return None
    kind, sep, argument = text.partition(":")
    try:
        if kind == "random" and not sep:
            return Rechunk.random(1, 64, seed=seed)
        if kind == "random":
            low, dash, high = argument.partition("-")
            if not dash:
                raise ValueError(argument)
            return Rechunk.random(int(low), int(high), seed=seed)
        return Rechunk.fixed(*(int(size) for size in text.split(",")))
    except ValueError:
        raise ServeConfigError(
            f"--rechunk {spec!r}: use off, random, random:MIN-MAX or sizes such as 1 or 5,300 "
            "(bytes, at least 1)"
        ) from None


_MAX_SECONDS = 10**9  # about 31 years, below what a socket timeout accepts


def _limit(name: str, value: object, source: str) -> float | int | None:
    """A connection limit from a flag or the config file; 0 disables a timeout."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ServeConfigError(f"{source}: '{name}' must be a number")
    if name == "max_connections":
        if not isinstance(value, int) or value < 1:
            raise ServeConfigError(f"{source}: 'max_connections' must be an integer >= 1")
        return value
    if not 0 <= value < _MAX_SECONDS:  # NaN and infinity too: no socket timeout takes them
        raise ServeConfigError(
            f"{source}: '{name}' must be from 0 to {_MAX_SECONDS:,} seconds (0: no timeout)"
        )
    return float(value) or None


def _number(kind: str, key: str, value: str, cast_to: Callable[[str], Any]) -> Any:
    try:
        return cast_to(value)
    except ValueError:
        raise ServeConfigError(f"fault {kind}: {key}={value!r} is not a number") from None


def _boolean(kind: str, key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ServeConfigError(f"fault {kind}: {key}={value!r} is not true or false")


_FAULT_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "error": ("rate", "times", "status", "message", "op", "custom"),
    "stream-error": ("after", "code", "message", "times"),
    "stream-failure": ("after", "message", "times"),
    "truncate": ("after", "clean", "times"),
    "corrupt": ("after", "times"),
    "reset": ("after", "times"),
    "stream-reset": ("after", "code", "times"),
    "stall": ("seconds", "after", "times"),
    "slow-tokens": ("delay", "times"),
}


_NAMED_KINDS = tuple(kind for kind in _FAULT_OPTIONS if kind != "error")
_EVENT_KINDS: Mapping[str, str] = {
    "ModelStreamError": "stream-error",
    "InternalStreamFailure": "stream-failure",
}
_OPERATION_ALIASES: Mapping[str, Operation] = {
    "invoke": "InvokeEndpoint",
    "async": "InvokeEndpointAsync",
    "stream": "InvokeEndpointWithResponseStream",
    "bidi": "InvokeEndpointWithBidirectionalStream",
}


def _unknown_kind(kind: str, *, code_like: bool) -> ServeConfigError:
    """The one-line error for a kind that is neither a named kind nor a known error code:
    the closest known kind when there is one, else every valid kind."""
    codes = sorted(known_codes())
    custom = "; add the option custom=true to send it as a custom error code" if code_like else ""
    close = difflib.get_close_matches(kind, [*_NAMED_KINDS, *codes], n=1)
    if close:
        return ServeConfigError(f"unknown fault kind {kind!r} (did you mean {close[0]}?){custom}")
    return ServeConfigError(
        f"unknown fault kind {kind!r}: use {', '.join(_NAMED_KINDS)} or an error code "
        f"({', '.join(codes)}){custom}"
    )


def _operations(kind: str, value: str) -> frozenset[Operation]:
    """The operations of an ``op=`` option: aliases or full names, joined with ``+``."""
    chosen: set[Operation] = set()
    for name in filter(None, (part.strip() for part in value.split("+"))):
        operation = _OPERATION_ALIASES.get(name)
        full: list[Operation] = [known for known in ALL_OPERATIONS if known == name]
        if operation is None and not full:
            raise ServeConfigError(
                f"fault {kind}: unknown operation {name!r} (use {', '.join(_OPERATION_ALIASES)}"
                f" or {', '.join(ALL_OPERATIONS)}, joined with +)"
            )
        chosen.update([operation] if operation is not None else full)
    if not chosen:
        raise ServeConfigError(f"fault {kind}: op= names no operation")
    return frozenset(chosen)


def _checked_operations(kind: str, options: Mapping[str, str]) -> frozenset[Operation] | None:
    """The ``op=`` operations of an error-code kind, checked against the service model."""
    custom = _boolean(kind, "custom", options.get("custom", "false"))
    if not custom and kind not in known_codes() and kind not in BIDI_ERROR_STATUS:
        raise _unknown_kind(kind, code_like=True)
    operations = _operations(kind, options["op"]) if "op" in options else None
    problem = None if custom else error_problem(kind, operations, opt_in="custom=true")
    if problem is not None:
        raise ServeConfigError(f"fault {kind}: {problem}")
    return operations


def parse_fault(spec: str) -> Fault:
    """A fault from ``KIND[:OPTION=VALUE,...]`` (the ``--fault`` syntax without the endpoint)."""
    kind, _, rest = spec.strip().partition(":")
    if not kind:
        raise ServeConfigError(f"fault {spec!r} has no kind")
    if kind in _EVENT_KINDS:
        raise ServeConfigError(f"fault {kind} is an event of the stream: use {_EVENT_KINDS[kind]}")
    is_code = kind not in _FAULT_OPTIONS and kind[0].isupper() and kind.isalnum()
    if not is_code and kind not in _FAULT_OPTIONS:
        raise _unknown_kind(kind, code_like=False)
    known = _FAULT_OPTIONS["error" if is_code else kind]
    options: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in known:
            raise ServeConfigError(
                f"fault {kind}: bad option {item!r} (options: {', '.join(known)})"
            )
        options[key] = value

    def integer(key: str) -> int | None:
        return None if key not in options else _number(kind, key, options[key], int)

    def real(key: str) -> float | None:
        return None if key not in options else _number(kind, key, options[key], float)

    times = integer("times")
    try:
        if is_code:
            return ErrorResponse(
                kind,
                message=options.get("message"),
                status=integer("status"),
                times=times,
                rate=real("rate"),
                operations=_checked_operations(kind, options),
                custom=_boolean(kind, "custom", options.get("custom", "false")),
            )
        after = integer("after")
        if kind == "stream-error":
            return StreamErrorEvent(
                after or 0,
                error_code=options.get("code", "ModelInvocationTimeExceeded"),
                message=options.get(
                    "message", "Model invocation time exceeded while streaming the response."
                ),
                times=times,
            )
        if kind == "stream-failure":
            message = options.get("message", "Internal stream failure.")
            return StreamFailureEvent(after or 0, message=message, times=times)
        if kind == "truncate":
            clean = _boolean(kind, "clean", options.get("clean", "true"))
            return TruncatedFrame(after or 0, clean_end=clean, times=times)
        if kind == "corrupt":
            return CorruptFrame(after or 0, times=times)
        if kind == "reset":
            return ConnectionReset(after, times=times)
        if kind == "stream-reset":
            code = integer("code")
            return StreamReset(after, error_code=2 if code is None else code, times=times)
        if kind == "stall":
            seconds = real("seconds")
            if seconds is None:
                raise ServeConfigError("fault stall needs seconds=N")
            return Stall(seconds, after_parts=after, times=times)
        delay = real("delay")
        if delay is None:
            raise ServeConfigError("fault slow-tokens needs delay=SECONDS")
        return SlowTokens(delay, times=times)
    except ServeConfigError:
        raise
    except ValueError as exc:
        raise ServeConfigError(f"fault {kind}: {exc}") from None


def _capacity(spec: str, source: str) -> Capacity:
    try:
        return parse_capacity(spec, source)
    except ValueError as exc:
        raise ServeConfigError(str(exc)) from None


def _endpoint_from_string(name: str, backend: str) -> EndpointSpec:
    kind, _, argument = backend.strip().partition(":")
    if kind == "demo":
        options: dict[str, Any] = {}
        if argument:
            try:
                options["tokens_per_second"] = float(argument)
            except ValueError:
                raise ServeConfigError(
                    f"endpoint {name}: demo:{argument} is not a number of tokens per second"
                ) from None
        return EndpointSpec(name, "demo", options)
    if kind == "echo" and not argument:
        return EndpointSpec(name, "echo")
    if kind == "container" and argument:
        return EndpointSpec(name, "container", {"url": argument})
    raise ServeConfigError(
        f"endpoint {name}: unknown backend {backend!r} (use demo, demo:TOKENS_PER_SECOND, "
        "echo or container:URL)"
    )


def _endpoint_from_table(name: str, table: Mapping[str, object]) -> EndpointSpec:
    options = dict(table)
    backend = options.pop("backend", None)
    faults = options.pop("faults", [])
    capacity = options.pop("capacity", None)
    if not isinstance(backend, str):
        raise ServeConfigError(f"endpoint {name}: 'backend' must be demo, echo or container")
    if backend == "container":  # the URL is a setting of the table
        spec = EndpointSpec(name, "container")
    else:
        spec = _endpoint_from_string(name, backend)
    allowed = {
        "demo": {"tokens_per_second"},
        "echo": set[str](),
        "container": {"url", "health_timeout", "invocation_timeout"},
    }[spec.backend]
    unknown = sorted(set(options) - allowed - {"content_type"})
    if unknown:
        raise ServeConfigError(f"endpoint {name}: unknown setting(s) {', '.join(unknown)}")
    spec.options.update(options)
    if spec.backend == "container" and not isinstance(spec.options.get("url"), str):
        raise ServeConfigError(f"endpoint {name}: a container needs a 'url'")
    if not isinstance(faults, list):
        raise ServeConfigError(f"endpoint {name}: 'faults' must be a list of strings")
    if capacity is not None:
        if not isinstance(capacity, str):
            raise ServeConfigError(f"endpoint {name}: 'capacity' must be a string")
        spec.capacity = _capacity(capacity, f"endpoint {name}: capacity")
    for fault in cast("list[object]", faults):
        if not isinstance(fault, str):
            raise ServeConfigError(f"endpoint {name}: 'faults' must be a list of strings")
        spec.faults.append(parse_fault(fault))
    return spec


def _load_file(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise ServeConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        if file.suffix.lower() == ".toml":
            try:
                tomllib: Any = importlib.import_module("tomllib")
            except ImportError:  # Python 3.10
                raise ServeConfigError(
                    "TOML config files need Python 3.11 or later; use a .json file"
                ) from None
            loaded: object = tomllib.loads(text.decode("utf-8"))
        else:
            loaded = json.loads(text)
    except ServeConfigError:
        raise
    except ValueError as exc:
        raise ServeConfigError(f"config file {path} is not valid: {exc}") from None
    if not isinstance(loaded, dict):
        raise ServeConfigError(f"config file {path} must hold a table/object at the top")
    return cast("dict[str, Any]", loaded)


def _apply_file(settings: Settings, document: Mapping[str, Any], path: str) -> None:
    known = {"host", "port", "bidi_port", "seed", "tokens_per_second", "endpoints", "rechunk"}
    known.update(_LIMITS)
    unknown = sorted(set(document) - known)
    if unknown:
        raise ServeConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    host = document.get("host", settings.host)
    port = document.get("port", settings.port)
    seed = document.get("seed", settings.seed)
    tokens_per_second = document.get("tokens_per_second", settings.tokens_per_second)
    if not isinstance(host, str):
        raise ServeConfigError(f"config file {path}: 'host' must be a string")
    bidi_port = document.get("bidi_port", settings.bidi_port)
    for key, value in (("port", port), ("bidi_port", bidi_port)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ServeConfigError(f"config file {path}: '{key}' must be an integer")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ServeConfigError(f"config file {path}: 'seed' must be an integer")
    if not isinstance(tokens_per_second, (int, float)) or isinstance(tokens_per_second, bool):
        raise ServeConfigError(f"config file {path}: 'tokens_per_second' must be a number")
    settings.host, settings.port, settings.seed = host, port, seed
    settings.bidi_port = bidi_port
    settings.tokens_per_second = float(tokens_per_second)
    rechunk = document.get("rechunk", settings.rechunk)
    if not isinstance(rechunk, str):
        raise ServeConfigError(f"config file {path}: 'rechunk' must be a string")
    settings.rechunk = rechunk
    for name in _LIMITS:
        if name in document:
            setattr(settings, name, _limit(name, document[name], f"config file {path}"))
    endpoints = document.get("endpoints", {})
    if not isinstance(endpoints, dict):
        raise ServeConfigError(f"config file {path}: 'endpoints' must be a table/object")
    for name, value in cast("dict[str, object]", endpoints).items():
        if isinstance(value, str):
            settings.endpoints[name] = _endpoint_from_string(name, value)
        elif isinstance(value, dict):
            settings.endpoints[name] = _endpoint_from_table(name, cast("dict[str, object]", value))
        else:
            raise ServeConfigError(f"endpoint {name}: give a backend string or a table")


def parse_settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if args.config:
        _apply_file(settings, _load_file(args.config), args.config)
    if args.host is not None:
        settings.host = args.host
    if args.port is not None:
        settings.port = args.port
    if getattr(args, "bidi_port", None) is not None:
        settings.bidi_port = args.bidi_port
    if args.seed is not None:
        settings.seed = args.seed
    if args.tokens_per_second is not None:
        settings.tokens_per_second = args.tokens_per_second
    if args.rechunk is not None:
        settings.rechunk = args.rechunk
    for name in _LIMITS:
        value = getattr(args, name)
        if value is not None:
            setattr(settings, name, _limit(name, value, f"--{name.replace('_', '-')}"))
    for item in args.endpoint:
        name, sep, backend = item.partition("=")
        if not sep or not name:
            raise ServeConfigError(f"--endpoint {item!r}: expected NAME=BACKEND")
        faults = settings.endpoints[name].faults if name in settings.endpoints else []
        settings.endpoints[name] = _endpoint_from_string(name, backend)
        settings.endpoints[name].faults.extend(faults)
    if not settings.endpoints:
        settings.endpoints["demo"] = EndpointSpec("demo", "demo")
    for item in args.fault:
        target, sep, spec = item.partition(":")
        if not sep or not target:
            raise ServeConfigError(f"--fault {item!r}: expected ENDPOINT:KIND[:OPTION=VALUE,...]")
        fault = parse_fault(spec)
        if target == "*":
            for endpoint in settings.endpoints.values():
                endpoint.faults.append(fault)
        elif target in settings.endpoints:
            settings.endpoints[target].faults.append(fault)
        else:
            raise ServeConfigError(f"--fault {item!r}: no endpoint named {target!r}")
    capacities: list[str] = getattr(args, "capacity", [])
    for item in capacities:
        target, sep, spec = item.partition("=")
        if not sep or not target:
            raise ServeConfigError(f"--capacity {item!r}: expected ENDPOINT=CONCURRENCY[,...]")
        if target != "*" and target not in settings.endpoints:
            raise ServeConfigError(f"--capacity {item!r}: no endpoint named {target!r}")
        capacity = _capacity(spec, f"--capacity {target}")
        for endpoint in settings.endpoints.values():
            if target in ("*", endpoint.name):
                endpoint.capacity = capacity
    for port in (settings.port, settings.bidi_port):
        if not 0 <= port <= 65535:
            raise ServeConfigError(f"port {port} is out of range")
    parse_rechunk(settings.rechunk, settings.seed)  # refused now, not when serving
    return settings
