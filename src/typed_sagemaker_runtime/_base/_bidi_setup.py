"""What a bidirectional stream takes from the client's boto3 client, for either twin.

botocore cannot carry the operation, but a user configured it through botocore all the
same: the region, FIPS and dual-stack, TLS trust (``verify=``, ``AWS_CA_BUNDLE``, the
profile's ``ca_bundle``), the timeouts of its ``Config`` and the credentials of its session.
Everything here is read from the wrapped client as botocore resolved it (sync or
aiobotocore alike), so a stream behaves as the client's other calls do. No I/O.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import AsyncIterable, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from botocore.loaders import Loader

from .._core._bidi_endpoint import BidiEndpoint, partition_of, request_target, resolve_endpoint
from .._core._bidi_events import OPERATION
from .._core._bidi_request import OpenedRequest, prepare_request
from .._core._bidi_signing import FrozenCredentials, freeze
from .._core._exceptions import ClientValidationError, CredentialsError, SageMakerRuntimeError
from .._version import __version__

_LIBRARY = f"lib/typed-sagemaker-runtime#{__version__}"


@dataclass(frozen=True, slots=True)
class BidiSettings:
    """Where and how a stream connects: endpoint, trust, timeouts, signing region."""

    endpoint: BidiEndpoint
    region: str | None
    ca_file: str | None
    """A CA bundle to trust instead of the system's (``verify=PATH``, ``AWS_CA_BUNDLE``)."""
    verify: bool
    connect_timeout: float
    read_timeout: float | None
    """Seconds without progress (nothing received, a write not taken) before a timeout."""
    user_agent: str


@functools.lru_cache(maxsize=1)
def _partitions() -> Mapping[str, object]:
    data: Mapping[str, object] = Loader().load_data("partitions")
    return data


def _builtin(client: Any, name: str) -> object:
    """A value botocore's endpoint rules resolved for ``client`` (``AWS::UseFIPS``, ...)."""
    builtins: object = getattr(getattr(client, "_ruleset_resolver", None), "_builtins", None)
    if not isinstance(builtins, dict):
        return None
    for key, value in cast("dict[object, object]", builtins).items():
        if getattr(key, "value", key) == name:
            return value
    return None


def _flag(client: Any, builtin: str, option: str) -> bool:
    resolved = _builtin(client, builtin)
    if isinstance(resolved, bool):
        return resolved
    return getattr(client.meta.config, option, None) is True


def _trust(client: Any) -> tuple[str | None, bool]:
    verify = getattr(
        getattr(getattr(client, "_endpoint", None), "http_session", None), "_verify", True
    )
    if isinstance(verify, str):
        return verify, True
    return None, verify is not False


def _user_agent(client: Any) -> str:
    agent = getattr(client.meta.config, "user_agent", None)
    if not isinstance(agent, str) or not agent:
        return f"{_LIBRARY} md/awscrt"
    return agent if "lib/typed-sagemaker-runtime" in agent else f"{agent} {_LIBRARY}"


def settings_from_client(
    client: Any, endpoint_url: str | None, env: Mapping[str, str] = os.environ
) -> BidiSettings:
    """The stream settings of a boto3 (or aiobotocore) ``sagemaker-runtime`` client.

    ``endpoint_url`` is the client's ``bidi_endpoint_url=``. Raises
    :class:`ClientValidationError` for an endpoint that cannot be made.
    """
    region: str | None = client.meta.region_name
    endpoint = resolve_endpoint(
        region=region,
        partition=partition_of(region or "us-east-1", _partitions()),
        use_fips=_flag(client, "AWS::UseFIPS", "use_fips_endpoint"),
        use_dualstack=_flag(client, "AWS::UseDualStack", "use_dualstack_endpoint"),
        env=env,
        endpoint_url=endpoint_url,
    )
    ca_file, verify = _trust(client)
    config = client.meta.config
    connect_timeout = getattr(config, "connect_timeout", 60)
    read_timeout = getattr(config, "read_timeout", 60)
    return BidiSettings(
        endpoint=endpoint,
        region=region,
        ca_file=ca_file,
        verify=verify,
        connect_timeout=float(connect_timeout) if connect_timeout else 60.0,
        read_timeout=float(read_timeout) if read_timeout else None,
        user_agent=_user_agent(client),
    )


def check_input(value: object) -> None:
    """Refuse an ``input=`` that is not an iterable of parts, before anything is sent."""
    if value is None:
        return
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        kind = type(cast(object, value)).__name__
        raise ClientValidationError(
            f"input: expected an iterable of parts, got a single {kind} "
            "(wrap it in a list, or send() it)",
            field="input",
            operation=OPERATION,
        )
    if not isinstance(value, Iterable) and not isinstance(value, AsyncIterable):
        raise ClientValidationError(
            f"input: expected an iterable of parts, got {type(value).__name__}",
            field="input",
            operation=OPERATION,
        )


@dataclass(frozen=True, slots=True)
class StreamTarget:
    """A stream's checked arguments: where it goes on the endpoint."""

    endpoint_name: str
    target_variant: str | None
    model_invocation_path: str | None
    model_query_string: str | None


def check_arguments(
    endpoint_name: str,
    *,
    input: object,
    target_variant: str | None,
    model_invocation_path: str | None,
    model_query_string: str | None,
) -> StreamTarget:
    """Validate ``bidi_stream``'s arguments before anything else (nothing is sent)."""
    check_input(input)
    request_target(
        endpoint_name,
        target_variant=target_variant,
        model_invocation_path=model_invocation_path,
        model_query_string=model_query_string,
    )
    return StreamTarget(endpoint_name, target_variant, model_invocation_path, model_query_string)


def credentials_loader(client: Any) -> Callable[[], object]:
    """The client's ``get_frozen_credentials`` (a coroutine function under aiobotocore).

    Raises :class:`CredentialsError` for an unsigned client.
    """
    credentials = getattr(getattr(client, "_request_signer", None), "_credentials", None)
    if credentials is None:
        raise CredentialsError(
            "no AWS credentials: a bidirectional stream is always signed (configure "
            "credentials as for boto3: environment, profile, or the session's)",
            operation=OPERATION,
        )
    loader: Callable[[], object] = credentials.get_frozen_credentials
    return loader


@contextlib.contextmanager
def loading_credentials() -> Generator[None, None, None]:
    """Turn a failure to load or refresh credentials (SSO expired, say) into ours."""
    try:
        yield
    except SageMakerRuntimeError:
        raise
    except Exception as exc:
        raise CredentialsError(
            f"the AWS credentials could not be loaded: {type(exc).__name__}",
            operation=OPERATION,
        ) from exc


def signed_request(
    client: Any, endpoint_url: str | None, target: StreamTarget, credentials: object
) -> tuple[OpenedRequest, BidiSettings]:
    """The request signed with ``credentials`` (as loaded), and how to connect for it."""
    settings = settings_from_client(client, endpoint_url)
    opened = prepare_request(
        target.endpoint_name,
        endpoint=settings.endpoint,
        region=settings.region,
        credentials=freeze(cast("FrozenCredentials", credentials)),
        target_variant=target.target_variant,
        model_invocation_path=target.model_invocation_path,
        model_query_string=target.model_query_string,
    )
    return opened, settings


BIDI_EXTRA_HINT = (
    "pip install -e '.[bidi]' in a clone of typed-sagemaker-runtime, or pip install awscrt"
)


def missing_awscrt(exc: ImportError) -> ImportError | None:
    """The error naming the ``bidi`` extra when ``exc`` is awscrt missing; else ``None``."""
    if not (exc.name or "").startswith("awscrt"):
        return None
    return ImportError(
        f"bidirectional streams need awscrt, which the 'bidi' extra installs: {BIDI_EXTRA_HINT}"
    )
