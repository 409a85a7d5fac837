"""``smr serve``: run a local SageMaker Runtime endpoint until interrupted.

Endpoints come from ``--endpoint NAME=BACKEND`` flags or a config file; with neither it
serves the demo LLM as ``demo``. Backends:

* ``demo`` or ``demo:TOKENS_PER_SECOND``: the built-in :class:`DemoLLM` (and
  :class:`BidiDemo`'s live captions for bidirectional streams, at the same pace);
* ``echo``: answers with the request body;
* ``container:URL``: a model container (``POST /invocations``, ``GET /ping``).

Faults: ``--fault ENDPOINT:KIND[:OPTION=VALUE,...]`` (``ENDPOINT`` ``*`` means every
endpoint). ``KIND`` is an error code (``ThrottlingException``, ``ModelError``,
``ModelNotReadyException``, ...; options ``rate``, ``times``, ``status``, ``message``,
``op`` and ``custom``) or one of ``stream-error`` (``after``, ``code``, ``message``,
``times``), ``stream-failure`` (``after``, ``message``, ``times``), ``truncate``
(``after``, ``clean``, ``times``), ``corrupt`` (``after``, ``times``), ``reset``
(``after``, ``times``), ``stall`` (``seconds``, ``after``, ``times``), ``slow-tokens``
(``delay``, ``times``), ``stream-reset`` (``after``, ``code``, ``times``: an HTTP/2
RST_STREAM, bidirectional streams only). Option values cannot contain commas. ``after`` counts the
PayloadParts sent, as cut by ``--rechunk``: ``--rechunk off`` makes it count records.

An error code strikes the operations whose botocore service model lists it (see
:class:`ErrorResponse`), or those of ``op`` (``invoke``, ``async``, ``stream``, ``bidi``,
joined with ``+``; full operation names work too).

InvokeEndpointWithBidirectionalStream is served over HTTP/2 with TLS on a second port
(``--bidi-port``, default a free one), with a certificate made at start. The banner prints
``export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2=https://localhost:PORT`` and
``export AWS_CA_BUNDLE=/path/ca.pem``: the library's clients (and AWS's) read both.
``AWS_CA_BUNDLE`` replaces the trusted authorities of every boto3 client in that shell,
so HTTPS calls to AWS from it fail while it is set; the REST endpoint is plain
``http://`` and does not care. The listener checks every signature: sign with the dummy
credentials (``AWS_ACCESS_KEY_ID=testing``, ``AWS_SECRET_ACCESS_KEY=testing``); other keys
are refused ``403 UnrecognizedClientException``. A code that no operation lists, or that an ``op``
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

Streams are cut into PayloadParts as SageMaker cuts them: a record (an SSE event, a JSON
line) may be split across parts and several may share one, so a client's reassembly code
runs as it would against AWS. ``--rechunk`` picks the cut: ``random`` (the default:
random sizes from 1 to 64 bytes, seeded by ``--seed``), ``random:MIN-MAX``, fixed sizes
such as ``1`` or ``5,300``, or ``off`` (one PayloadPart per record the backend yields).
A part goes out when it is full; a paced backend's record is never held back waiting for
the next one (its last bytes go out as a shorter part), so text arrives token by token.

``smr serve --host 0.0.0.0`` is reachable by anyone, so clients are not trusted: a body
over SageMaker's 6 MB limit is answered 413 unread, a connection idle for
``--idle-timeout`` seconds (default 60) is closed, a request must arrive whole within
``--request-timeout`` seconds (default 30), and at most ``--max-connections`` (default
100) are served at once (then an idle keep-alive connection, or a new one silent for a
second, is closed to make room; else new connections wait until one ends). The config
file takes the same settings (``rechunk``, ``idle_timeout``, ``request_timeout``,
``max_connections``).

A busy endpoint: ``--capacity ENDPOINT=CONCURRENCY[,latency=S][,queue=N][,growth=G]
[,jitter=J][,overload=throttle|model_not_ready|unavailable]`` (``*``: every endpoint; a table's
``capacity = "16,latency=0.05"``) serves that many requests at once, each ``latency``
seconds longer, and refuses those beyond ``queue`` waiting with ``ThrottlingException``
(see :class:`Capacity`).

Flags override the file. Run it directly with ``python -m typed_sagemaker_runtime._cli._serve``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import signal
import sys
import threading
from collections.abc import Generator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from ._serve_capacity import CAPACITY_SYNTAX
from ._serve_config import (
    DEFAULT_HOST,
    DEFAULT_RECHUNK,
    DEFAULT_TOKENS_PER_SECOND,
    EndpointSpec,
    ServeConfigError,
    Settings,
    parse_rechunk,
    parse_settings,
)

if TYPE_CHECKING:
    import botocore.session

    from ..testing._backends._bidi_demo import BidiDemo
    from ..testing._model import Handler
    from ..testing._runtime import LocalRuntime

__all__ = ["add_serve_arguments", "run_serve", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


_EPILOG = (
    "Fault kinds and their options: an error code such as ThrottlingException, ModelError "
    "or ModelNotReadyException (rate, times, status, message, op=invoke+async+stream+bidi, "
    "custom=true for a code outside the service model); stream-error (after, code, "
    "message, times); stream-failure (after, message, times); truncate (after, clean, "
    "times); corrupt (after, times); reset (after, times); stall (seconds, after, times); "
    "slow-tokens (delay, times); stream-reset (after, code, times; HTTP/2 streams). after=N "
    "counts PayloadParts as --rechunk cuts them "
    "(--rechunk off: records). A config file holds host, port, seed, tokens_per_second, "
    "rechunk, idle_timeout, request_timeout, max_connections, bidi_port "
    'and endpoints: NAME = "BACKEND" or a table with backend, url, health_timeout, '
    "invocation_timeout, tokens_per_second, content_type, capacity (as --capacity after the "
    "=) and faults (a list of KIND[:OPTION=VALUE,...]). Bidirectional streams (HTTP/2, TLS) "
    "are signature-checked: sign "
    "with AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing. The printed AWS_CA_BUNDLE "
    "applies to every boto3 client of the shell that exports it (HTTPS calls to AWS from it "
    "then fail); the REST endpoint is http:// and is not affected."
)


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
        "--capacity",
        action="append",
        default=[],
        metavar=f"ENDPOINT={CAPACITY_SYNTAX}",
        help="serve ENDPOINT as a busy endpoint, e.g. demo=16,latency=0.05,queue=8: requests "
        "served at once, their latency, how many wait, then ThrottlingException (repeatable)",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="endpoints and faults from a JSON/TOML file"
    )
    parser.add_argument("--host", help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, help="port to listen on (default: a free port)")
    parser.add_argument(
        "--bidi-port",
        type=int,
        metavar="PORT",
        help="port of the HTTP/2 TLS listener of bidirectional streams (default: a free port)",
    )
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        metavar="N",
        help=f"pace of demo endpoints (default {DEFAULT_TOKENS_PER_SECOND:g}; 0: no pacing)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="seed for faults with a rate and random PayloadPart sizes (default 0: repeatable)",
    )
    parser.add_argument(
        "--rechunk",
        metavar="CUT",
        help="how streams are cut into PayloadParts, as SageMaker cuts them: random (random "
        "sizes of 1-64 bytes), random:MIN-MAX, sizes such as 1 or 5,300 (bytes, in turn), "
        f"or off (one part per record) (default {DEFAULT_RECHUNK})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        metavar="SECONDS",
        help="close a keep-alive connection idle this long (default 60; 0: never)",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        help="answer 408 and close when a request takes longer to arrive (default 30; 0: never)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        metavar="N",
        help="connections served at once; a full server closes an idle one to make room, "
        "else new ones wait (default 100)",
    )
    if parser.epilog is None:
        parser.epilog = _EPILOG


# --- running ------------------------------------------------------------------------------


def _handler(spec: EndpointSpec, settings: Settings) -> tuple[Handler | None, str]:
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


def _bidi_backend(spec: EndpointSpec, settings: Settings) -> BidiDemo | None:
    """A demo endpoint's bidirectional backend: live captions at the demo's pace.

    ``None`` for the others: echo endpoints echo each part, containers are reached over
    their WebSocket (``Container.serve_bidi``).
    """
    if spec.backend != "demo":
        return None
    from ..testing._backends._bidi_demo import BidiDemo

    pace: Any = spec.options.get("tokens_per_second", settings.tokens_per_second)
    try:
        return BidiDemo(float(pace or 0) or None)
    except (TypeError, ValueError) as exc:
        raise ServeConfigError(f"endpoint {spec.name}: {exc}") from None


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
        settings = parse_settings(args)
        handlers = {name: _handler(spec, settings) for name, spec in settings.endpoints.items()}
        bidi_backends = {
            name: _bidi_backend(spec, settings) for name, spec in settings.endpoints.items()
        }
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
    runtime = LocalRuntime(
        host=settings.host,
        port=settings.port,
        seed=settings.seed,
        idle_timeout=settings.idle_timeout,
        request_timeout=settings.request_timeout,
        max_connections=settings.max_connections,
        bidi_port=settings.bidi_port,
    )
    rechunk = parse_rechunk(settings.rechunk, settings.seed)
    for name, (handler, _) in handlers.items():
        spec = settings.endpoints[name]
        content_type = spec.options.get("content_type")
        runtime.add_endpoint(
            name,
            handler,
            content_type=content_type if isinstance(content_type, str) else None,
            faults=spec.faults,
            rechunk=rechunk,
            bidi=bidi_backends[name],
            capacity=spec.capacity,
        )
    try:
        runtime.start()
    except OSError as exc:
        bidi = f"(bidirectional streams: port {settings.bidi_port or 'any'})"
        _error(f"cannot listen on {settings.host}:{settings.port} {bidi}: {exc}")
        return EXIT_FAILURE
    try:
        with _stop_on_signals(stopping), runtime:
            url = _client_url(runtime, settings.host)
            lines = [
                f"Local SageMaker Runtime at {url}",
                f"export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME={url}",
            ]
            lines.extend(_bidi_lines(runtime))
            if importlib.util.find_spec("moto") is not None:
                # Where async inference writes its results, for the SDK's S3 client.
                lines.append(f"export AWS_ENDPOINT_URL_S3={runtime.s3_endpoint_url}")
            dummies = _missing_aws_settings()
            if dummies:  # a shell with no AWS configuration: the SDKs need some to start
                lines.append(f"export {' '.join(dummies)}")
            for name, (_, description) in handlers.items():
                faults = settings.endpoints[name].faults
                suffix = f" + {len(faults)} fault(s)" if faults else ""
                suffix += _capacity_note(settings.endpoints[name])
                lines.append(f"endpoint {name}: {description}{suffix}")
            lines.append(_cut_description(settings.rechunk))
            if runtime.serves_bidi:
                lines.append(_BIDI_NOTE)
            works = (
                "Any region works, and any credentials but on bidirectional streams"
                if runtime.serves_bidi  # they check signatures against testing/testing
                else "Any region and credentials work"
            )
            if dummies:
                lines.append(
                    f"{works}; none are configured here, so export "
                    "the dummy ones above. Press Ctrl+C to stop."
                )
            else:
                lines.append(f"{works}. Press Ctrl+C to stop.")
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


_BIDI_NOTE = (
    "Bidirectional streams (HTTP/2, TLS): demo endpoints answer with live captions, echo "
    "endpoints echo each part, containers get them over their WebSocket. Signatures are "
    "checked: sign with the dummy credentials testing/testing. AWS_CA_BUNDLE replaces the "
    "trusted authorities of every boto3 client in the shell that exports it."
)


def _capacity_note(spec: EndpointSpec) -> str:
    capacity = spec.capacity
    if capacity is None:
        return ""
    return f" ({capacity.concurrency} at once, {capacity.latency:g} s, queue {capacity.queue})"


def _bidi_lines(runtime: LocalRuntime) -> list[str]:
    """The banner lines of the bidirectional listener: its URL and its CA file."""
    try:
        url, ca_bundle = runtime.bidi_endpoint_url, runtime.ca_bundle
    except RuntimeError as exc:  # h2 or trustme missing: the REST endpoint still works
        return [f"Bidirectional streams are not served: {exc}"]
    return [
        f"export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2={url}",
        f"export AWS_CA_BUNDLE={ca_bundle}",
    ]


def _cut_description(rechunk: str) -> str:
    """The banner line saying how streams are cut into PayloadParts."""
    if rechunk.strip().lower() == "off":
        return "Streams: one PayloadPart per record (--rechunk off)."
    return (
        f"Streams: records split and merged across PayloadParts as SageMaker does "
        f"(--rechunk {rechunk}; off: one part per record)."
    )


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
