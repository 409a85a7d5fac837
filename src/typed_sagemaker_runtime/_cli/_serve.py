"""``smr serve``: run a local SageMaker Runtime endpoint until interrupted.

Endpoints come from ``--endpoint NAME=BACKEND`` flags or a config file; with neither it
serves the demo LLM as ``demo``. Backends:

* ``demo`` or ``demo:TOKENS_PER_SECOND``: the built-in :class:`DemoLLM`;
* ``echo``: answers with the request body;
* ``container:URL``: a model container (``POST /invocations``, ``GET /ping``).

Faults: ``--fault ENDPOINT:KIND[:OPTION=VALUE,...]`` (``ENDPOINT`` ``*`` means every
endpoint). ``KIND`` is an error code (``ThrottlingException``, ``ModelError``,
``ModelNotReadyException``, ...; options ``rate``, ``times``, ``status``, ``message``,
``op`` and ``custom``) or one of ``stream-error`` (``after``, ``code``, ``message``,
``times``), ``stream-failure`` (``after``, ``message``, ``times``), ``truncate``
(``after``, ``clean``, ``times``), ``corrupt`` (``after``, ``times``), ``reset``
(``after``, ``times``), ``stall`` (``seconds``, ``after``, ``times``), ``slow-tokens``
(``delay``, ``times``). Option values cannot contain commas.

An error code strikes the operations whose botocore service model lists it (see
:class:`ErrorResponse`), or those of ``op`` (``invoke``, ``async``, ``stream``, joined with
``+``; full operation names work too). A code that no operation lists, or that an ``op``
cannot answer, is refused with the closest known kind, unless ``custom=true``.

A config file (``--config FILE``, JSON, or TOML on Python 3.11+) looks like::

    host = "127.0.0.1"
    port = 8080
    seed = 0

    [endpoints]
    demo = "demo:20"
    byoc = "container:http://127.0.0.1:8081"

    [endpoints.flaky]
    backend = "echo"
    faults = ["ThrottlingException:rate=0.2", "stream-error:after=3"]

Flags override the file. Run it directly with ``python -m typed_sagemaker_runtime._cli._serve``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import importlib.util
import json
import signal
import sys
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO, cast

from ..testing._codes import OPERATIONS, code_problem, known_codes
from ..testing._faults import (
    ConnectionReset,
    CorruptFrame,
    ErrorResponse,
    Fault,
    SlowTokens,
    Stall,
    StreamErrorEvent,
    StreamFailureEvent,
    TruncatedFrame,
)

if TYPE_CHECKING:
    import botocore.session

    from ..testing._model import Handler, Operation
    from ..testing._runtime import LocalRuntime

__all__ = ["add_serve_arguments", "run_serve", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
_DEFAULT_HOST = "127.0.0.1"
_DEFAULT_TOKENS_PER_SECOND = 50.0


_EPILOG = (
    "Fault kinds and their options: an error code such as ThrottlingException, ModelError "
    "or ModelNotReadyException (rate, times, status, message, op=invoke+async+stream, "
    "custom=true for a code outside the service model); stream-error (after, code, "
    "message, times); stream-failure (after, message, times); truncate (after, clean, "
    "times); corrupt (after, times); reset (after, times); stall (seconds, after, times); "
    "slow-tokens (delay, times). A config file holds host, port, seed, tokens_per_second "
    'and endpoints: NAME = "BACKEND" or a table with backend, url, health_timeout, '
    "invocation_timeout, tokens_per_second, content_type and faults (a list of "
    "KIND[:OPTION=VALUE,...])."
)


class ServeConfigError(ValueError):
    """An endpoint, fault or config file that ``smr serve`` cannot use."""


# --- arguments ----------------------------------------------------------------------------


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``smr serve`` to ``parser`` (see :func:`run_serve`)."""
    parser.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="NAME=BACKEND",
        help="serve endpoint NAME; BACKEND is demo, demo:TOKENS_PER_SECOND, echo or "
        "container:URL (repeatable; default: demo=demo)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="ENDPOINT:KIND[:OPTION=VALUE,...]",
        help="inject a fault, e.g. demo:ThrottlingException:rate=0.1 or "
        "demo:stream-error:after=5 (repeatable; ENDPOINT * means all)",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="endpoints and faults from a JSON/TOML file"
    )
    parser.add_argument("--host", help=f"address to listen on (default {_DEFAULT_HOST})")
    parser.add_argument("--port", type=int, help="port to listen on (default: a free port)")
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        metavar="N",
        help=f"pace of demo endpoints (default {_DEFAULT_TOKENS_PER_SECOND:g}; 0: no pacing)",
    )
    parser.add_argument(
        "--seed", type=int, help="seed for faults with a rate (default 0: repeatable runs)"
    )
    if parser.epilog is None:
        parser.epilog = _EPILOG


# --- configuration ------------------------------------------------------------------------


@dataclass
class _EndpointSpec:
    name: str
    backend: str
    options: dict[str, Any] = field(default_factory=dict[str, Any])
    faults: list[Fault] = field(default_factory=list[Fault])


@dataclass
class _Settings:
    host: str = _DEFAULT_HOST
    port: int = 0
    seed: int | None = 0
    tokens_per_second: float | None = _DEFAULT_TOKENS_PER_SECOND
    endpoints: dict[str, _EndpointSpec] = field(default_factory=dict[str, _EndpointSpec])


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
        full: list[Operation] = [known for known in OPERATIONS if known == name]
        if operation is None and not full:
            raise ServeConfigError(
                f"fault {kind}: unknown operation {name!r} (use {', '.join(_OPERATION_ALIASES)}"
                f" or {', '.join(OPERATIONS)}, joined with +)"
            )
        chosen.update([operation] if operation is not None else full)
    if not chosen:
        raise ServeConfigError(f"fault {kind}: op= names no operation")
    return frozenset(chosen)


def _checked_operations(kind: str, options: Mapping[str, str]) -> frozenset[Operation] | None:
    """The ``op=`` operations of an error-code kind, checked against the service model."""
    custom = _boolean(kind, "custom", options.get("custom", "false"))
    if not custom and kind not in known_codes():
        raise _unknown_kind(kind, code_like=True)
    operations = _operations(kind, options["op"]) if "op" in options else None
    problem = None if custom else code_problem(kind, operations, opt_in="custom=true")
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


def _endpoint_from_string(name: str, backend: str) -> _EndpointSpec:
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
        return _EndpointSpec(name, "demo", options)
    if kind == "echo" and not argument:
        return _EndpointSpec(name, "echo")
    if kind == "container" and argument:
        return _EndpointSpec(name, "container", {"url": argument})
    raise ServeConfigError(
        f"endpoint {name}: unknown backend {backend!r} (use demo, demo:TOKENS_PER_SECOND, "
        "echo or container:URL)"
    )


def _endpoint_from_table(name: str, table: Mapping[str, object]) -> _EndpointSpec:
    options = dict(table)
    backend = options.pop("backend", None)
    faults = options.pop("faults", [])
    if not isinstance(backend, str):
        raise ServeConfigError(f"endpoint {name}: 'backend' must be demo, echo or container")
    if backend == "container":  # the URL is a setting of the table
        spec = _EndpointSpec(name, "container")
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


def _apply_file(settings: _Settings, document: Mapping[str, Any], path: str) -> None:
    unknown = sorted(set(document) - {"host", "port", "seed", "tokens_per_second", "endpoints"})
    if unknown:
        raise ServeConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    host = document.get("host", settings.host)
    port = document.get("port", settings.port)
    seed = document.get("seed", settings.seed)
    tokens_per_second = document.get("tokens_per_second", settings.tokens_per_second)
    if not isinstance(host, str):
        raise ServeConfigError(f"config file {path}: 'host' must be a string")
    if isinstance(port, bool) or not isinstance(port, int):
        raise ServeConfigError(f"config file {path}: 'port' must be an integer")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ServeConfigError(f"config file {path}: 'seed' must be an integer")
    if not isinstance(tokens_per_second, (int, float)) or isinstance(tokens_per_second, bool):
        raise ServeConfigError(f"config file {path}: 'tokens_per_second' must be a number")
    settings.host, settings.port, settings.seed = host, port, seed
    settings.tokens_per_second = float(tokens_per_second)
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


def _settings(args: argparse.Namespace) -> _Settings:
    settings = _Settings()
    if args.config:
        _apply_file(settings, _load_file(args.config), args.config)
    if args.host is not None:
        settings.host = args.host
    if args.port is not None:
        settings.port = args.port
    if args.seed is not None:
        settings.seed = args.seed
    if args.tokens_per_second is not None:
        settings.tokens_per_second = args.tokens_per_second
    for item in args.endpoint:
        name, sep, backend = item.partition("=")
        if not sep or not name:
            raise ServeConfigError(f"--endpoint {item!r}: expected NAME=BACKEND")
        faults = settings.endpoints[name].faults if name in settings.endpoints else []
        settings.endpoints[name] = _endpoint_from_string(name, backend)
        settings.endpoints[name].faults.extend(faults)
    if not settings.endpoints:
        settings.endpoints["demo"] = _EndpointSpec("demo", "demo")
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
    if not 0 <= settings.port <= 65535:
        raise ServeConfigError(f"port {settings.port} is out of range")
    return settings


# --- running ------------------------------------------------------------------------------


def _handler(spec: _EndpointSpec, settings: _Settings) -> tuple[Handler | None, str]:
    """The endpoint's handler and a one-line description."""
    if spec.backend == "echo":
        return None, "echo (answers with the request body)"
    if spec.backend == "demo":
        from ..testing._backends._demo import DemoLLM

        pace: Any = spec.options.get("tokens_per_second", settings.tokens_per_second)
        try:
            demo = DemoLLM(float(pace or 0) or None)
        except (TypeError, ValueError) as exc:
            raise ServeConfigError(f"endpoint {spec.name}: {exc}") from None
        shown = f"{demo.tokens_per_second:g} tokens/s" if demo.tokens_per_second else "unpaced"
        return demo, f"demo LLM ({shown}; TGI and Messages API)"
    from ..testing._backends._container import Container

    url = str(spec.options["url"])
    try:
        container = Container(
            url,
            wait=False,
            health_timeout=float(spec.options.get("health_timeout", 30.0)),
            invocation_timeout=float(spec.options.get("invocation_timeout", 60.0)),
        )
    except (TypeError, ValueError) as exc:
        raise ServeConfigError(f"endpoint {spec.name}: {exc}") from None
    return container, f"container {url}"


def _client_url(runtime: LocalRuntime, host: str) -> str:
    """The URL clients use: a wildcard listening address is reached through loopback."""
    if host in ("0.0.0.0", ""):
        return f"http://127.0.0.1:{runtime.port}"
    if host == "::":
        return f"http://[::1]:{runtime.port}"
    return runtime.endpoint_url


def run_serve(
    args: argparse.Namespace,
    out: TextIO | None = None,
    *,
    stop: threading.Event | None = None,
) -> int:
    """Serve the endpoints of ``args`` (from :func:`add_serve_arguments`) until interrupted.

    Prints the endpoint URL, an ``export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=...`` line (and,
    where boto3 would find no region or credentials, an ``export`` line of dummy ones) and
    the endpoints to ``out`` (default stdout), flushed, then serves until SIGINT or SIGTERM
    (or until ``stop`` is set, for embedding), stops cleanly and returns 0. Configuration
    errors print one line to stderr and return 2; a container that never gets healthy or
    an address in use returns 1.
    """
    from ..testing._backends._container import Container, ContainerNotHealthyError
    from ..testing._runtime import LocalRuntime

    stdout = out if out is not None else sys.stdout
    try:
        settings = _settings(args)
        handlers = {name: _handler(spec, settings) for name, spec in settings.endpoints.items()}
    except ServeConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    try:
        for handler, _ in handlers.values():
            if isinstance(handler, Container):
                handler.wait_until_healthy()
    except ContainerNotHealthyError as exc:
        _error(str(exc))
        return EXIT_FAILURE
    stopping = stop if stop is not None else threading.Event()
    runtime = LocalRuntime(host=settings.host, port=settings.port, seed=settings.seed)
    for name, (handler, _) in handlers.items():
        spec = settings.endpoints[name]
        content_type = spec.options.get("content_type")
        runtime.add_endpoint(
            name,
            handler,
            content_type=content_type if isinstance(content_type, str) else None,
            faults=spec.faults,
        )
    try:
        runtime.start()
    except OSError as exc:
        _error(f"cannot listen on {settings.host}:{settings.port}: {exc}")
        return EXIT_FAILURE
    try:
        with _stop_on_signals(stopping), runtime:
            url = _client_url(runtime, settings.host)
            lines = [
                f"Local SageMaker Runtime at {url}",
                f"export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME={url}",
            ]
            if importlib.util.find_spec("moto") is not None:
                # Where async inference writes its results, for the SDK's S3 client.
                lines.append(f"export AWS_ENDPOINT_URL_S3={runtime.s3_endpoint_url}")
            dummies = _missing_aws_settings()
            if dummies:  # a shell with no AWS configuration: the SDKs need some to start
                lines.append(f"export {' '.join(dummies)}")
            for name, (_, description) in handlers.items():
                faults = settings.endpoints[name].faults
                suffix = f" + {len(faults)} fault(s)" if faults else ""
                lines.append(f"endpoint {name}: {description}{suffix}")
            if dummies:
                lines.append(
                    "Any region and credentials work; none are configured here, so export "
                    "the dummy ones above. Press Ctrl+C to stop."
                )
            else:
                lines.append("Any region and credentials work. Press Ctrl+C to stop.")
            stdout.write("\n".join(lines) + "\n")
            stdout.flush()
            while not stopping.wait(3600):
                pass
    except RuntimeError as exc:  # LocalRuntime.stop(): handlers still running at its timeout
        _error(str(exc))
        return EXIT_FAILURE
    stdout.write("Stopped.\n")
    stdout.flush()
    return EXIT_OK


_DUMMY_REGION = "AWS_DEFAULT_REGION=us-east-1"
_DUMMY_CREDENTIALS = ("AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing")


def _missing_aws_settings() -> list[str]:
    """``NAME=VALUE`` for a region and dummy credentials, where boto3 would find none.

    Looks where boto3 looks (environment, config and credentials files, profiles,
    SSO, credential processes), except the EC2 instance metadata service, which
    would cost a network round trip (or a timeout) before the banner.
    """
    import botocore.session
    from botocore.exceptions import BotoCoreError

    session = botocore.session.Session()
    try:
        region = session.get_config_variable("region")
    except BotoCoreError:  # e.g. AWS_PROFILE names a profile that does not exist
        region = None
    missing = [] if region else [_DUMMY_REGION]
    if not _has_credentials(session):
        missing.extend(_DUMMY_CREDENTIALS)
    return missing


def _has_credentials(session: botocore.session.Session) -> bool:
    """Whether botocore's credential chain, without instance metadata, finds credentials.

    Uses botocore's ``create_credential_resolver`` and removes its ``iam-role``
    provider (the EC2 metadata lookup) by name.
    """
    from botocore.credentials import create_credential_resolver
    from botocore.exceptions import BotoCoreError

    try:
        resolver = create_credential_resolver(session)
        resolver.remove("iam-role")
        return resolver.load_credentials() is not None
    except BotoCoreError:  # incomplete or unloadable: the dummies take precedence
        return False


@contextlib.contextmanager
def _stop_on_signals(event: threading.Event) -> Generator[None, None, None]:
    """Set ``event`` on SIGINT and SIGTERM while active (main thread only); then restore."""

    def handle(_signum: int, _frame: FrameType | None) -> None:
        event.set()

    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handle)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _error(message: str) -> None:
    sys.stderr.write(f"smr serve: error: {message}\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m typed_sagemaker_runtime._cli._serve [options]``."""
    parser = argparse.ArgumentParser(
        prog="smr serve", description="Run a local SageMaker Runtime endpoint."
    )
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
