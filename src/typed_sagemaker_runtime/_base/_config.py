"""Client construction shared by the sync and asyncio clients, sans-I/O."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, cast

from botocore.config import Config

from .._core._exceptions import ClientValidationError, SageMakerRuntimeError
from .._core._retry import RetryPolicy
from .._core._unparsable import remember_error_response
from ._user_agent import option, user_agent

SERVICE_NAME = "sagemaker-runtime"
_ERROR_CODE_HOOK = "typed-sagemaker-runtime-error-code"
_ERROR_BODY_HOOK = "typed-sagemaker-runtime-error-body"

# botocore retries nothing: the facade's RetryPolicy decides instead. Nor does it validate
# the parameters: build_params has checked every one (types included) before the call.
_FACADE_SETTINGS = Config(
    retries={"mode": "standard", "total_max_attempts": 1}, parameter_validation=False
)
# Connections kept for reuse. botocore's 10 makes 64 threads sharing a client discard
# connections ("Connection pool is full") and reconnect; for aiohttp it is also the number
# of requests in flight, the rest waiting for a connection (see docs/performance.md).
DEFAULT_POOL_CONNECTIONS = 64


def facade_config(
    config: Config | None, *, sdk: tuple[str, str], app_id: str | None = None
) -> Config:
    """The user's botocore ``Config`` for a client the facade builds.

    botocore's own retries and parameter validation are switched off, and
    ``max_pool_connections`` is :data:`DEFAULT_POOL_CONNECTIONS` unless the user set it.
    Unless the user set ``user_agent``, the User-Agent is a fixed string built once (see
    :func:`user_agent`) instead of the one botocore rebuilds twice per request. ``sdk``
    is the name and version the string starts with; ``app_id`` the ``user_agent_appid``
    to carry (default: the config's, else ``AWS_SDK_UA_APP_ID``).
    """
    settings = _FACADE_SETTINGS
    if config is None or not _user_set(config, "max_pool_connections"):
        settings = settings.merge(Config(max_pool_connections=DEFAULT_POOL_CONNECTIONS))
    if option(config, "user_agent") is None:
        if app_id is None:
            app_id = option(config, "user_agent_appid") or os.environ.get("AWS_SDK_UA_APP_ID")
        settings = settings.merge(Config(user_agent=user_agent(*sdk, app_id=app_id)))
    merged = (config or Config()).merge(settings)
    _keep_http_session_cls(config, merged)
    return merged


def _user_set(config: Config, name: str) -> bool:
    """Whether the option ``name`` was passed to the ``Config`` (or merged into it) by the user.

    botocore records them in the private ``_user_provided_options`` (what ``Config.merge``
    merges); a value equal to botocore's default is not the same as a value the user chose.
    Without that attribute, a value other than the default counts as set.
    """
    provided = getattr(config, "_user_provided_options", None)
    if isinstance(provided, dict):
        return name in provided
    return getattr(config, name, None) != getattr(Config(), name, None)


def _keep_http_session_cls(config: Config | None, merged: Config) -> None:
    """Carry aiobotocore's ``AioConfig.http_session_cls`` (e.g. its httpx backend) over.

    aiobotocore 2's ``AioConfig.merge`` drops it: the client would use aiohttp, silently.
    """
    session_cls = getattr(config, "http_session_cls", None)
    if session_cls is not None and getattr(merged, "http_session_cls", None) is not session_cls:
        setattr(merged, "http_session_cls", session_cls)  # noqa: B010 (not on Config's type)


def resolve_retry(
    retry: RetryPolicy | None, config: Config | None, *, wrapped_client: bool
) -> RetryPolicy:
    """The retry policy in force.

    A client passed in keeps its own botocore retries, so the facade adds none unless
    asked. Otherwise the attempt count of ``config.retries`` is honoured.
    """
    if retry is not None:
        return retry
    if wrapped_client:
        return RetryPolicy.disabled()
    retries: Mapping[str, Any] | None = getattr(config, "retries", None) if config else None
    return RetryPolicy.from_botocore_retries(retries)


def check_construction(client: object, **options: object) -> None:
    """Reject ``client=`` combined with options that only apply to building one."""
    if client is None:
        return
    given = sorted(name for name, value in options.items() if value is not None)
    if given:
        raise ClientValidationError(
            f"pass either client= or {', '.join(given)}: the options configure a client "
            "that the facade builds",
            field="client",
        )


def error_sub_code(body: object) -> str | None:
    """The ``ErrorCode`` member of an error response's JSON body, or ``None``.

    SageMaker sends e.g. ``{"ErrorCode": "INFERENCE_COMPONENT_NAME_MISSING", "Message": ...}``;
    botocore's parser keeps only Code and Message.
    """
    if not isinstance(body, (bytes, bytearray)) or b"ErrorCode" not in body:
        return None
    import json

    try:
        parsed: object = json.loads(body)
    except ValueError:
        return None
    if isinstance(parsed, dict):
        code = cast("dict[str, object]", parsed).get("ErrorCode")
        if isinstance(code, str):
            return code
    return None


_PAGE_KEPT = 64 * 1024  # of a dropped error page: enough for its title and first lines


def _keep(parsed: dict[str, Any], status: int, body: object) -> None:
    # At the top level of ``ClientError.response``, where botocore puts modelled error fields.
    code = error_sub_code(body)
    if code is not None:
        parsed.setdefault("ErrorCode", code)
    # A 5xx page starting with <html> (a proxy's, a load balancer's) is botocore's
    # "generic error" (its test, ResponseParser._is_generic_error_response): it keeps the
    # status and its reason phrase, and drops the page. Kept beside them (botocore's own
    # fields unchanged) for the message's excerpt.
    error = parsed.get("Error")
    if (
        status >= 500
        and isinstance(error, dict)
        and isinstance(body, (bytes, bytearray))
        and body.strip().startswith(b"<html>")
    ):
        page = bytes(body[:_PAGE_KEPT]).decode("utf-8", "replace")
        error.setdefault("Page", page)  # pyright: ignore[reportUnknownMemberType]


def keep_error_code(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
    """botocore ``after-call`` hook: keep the service's ``ErrorCode`` sub-code.

    Also keeps, as ``Error.Page``, the first 64 KiB of a 5xx error page that botocore
    drops (one starting with ``<html>``). Registered on a client passed in with
    ``client=`` too, so its own error responses carry these two additions.
    Relies on botocore emitting ``after-call`` with the ``AWSResponse`` (whose body it
    has already read for an error, so ``content`` is cached bytes) and the ``parsed``
    dict that becomes ``ClientError.response``: true from botocore 1.34 to today, while
    ``before-parse`` only appeared in botocore 1.35.16 and aiobotocore 2.13 never emits
    it. A stubbed response has no raw body.
    """
    if http_response.status_code >= 300 and http_response.raw is not None:
        _keep(parsed, http_response.status_code, http_response.content)


async def keep_error_code_aio(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
    """The aiobotocore twin of :func:`keep_error_code`: there ``content`` is awaited."""
    if http_response.status_code >= 300 and http_response.raw is not None:
        _keep(parsed, http_response.status_code, await http_response.content)


def install_hooks(events: Any, *, aio: bool = False) -> None:
    """Register the facade's botocore (``aio``: aiobotocore) event handlers (idempotent)."""
    events.register_first(
        f"after-call.{SERVICE_NAME}",
        keep_error_code_aio if aio else keep_error_code,
        unique_id=_ERROR_CODE_HOOK,
    )
    # botocore >= 1.35.16 only: the status and body of an error response it cannot parse.
    events.register_first(
        f"before-parse.{SERVICE_NAME}", remember_error_response, unique_id=_ERROR_BODY_HOOK
    )


def construction_error(exc: Exception, *, aio: bool = False) -> SageMakerRuntimeError | None:
    """The error to raise when botocore (``aio``: aiobotocore) refuses to build a client.

    ``None``: not ours to map.
    """
    from botocore.exceptions import InvalidRegionError, NoRegionError

    from .._core._errors import AIO_PROFILE_HINT, PROFILE_HINT, credentials_error

    hint = AIO_PROFILE_HINT if aio else PROFILE_HINT
    credentials = credentials_error(exc, None, profile_hint=hint)
    if credentials is not None:
        return credentials
    if isinstance(exc, NoRegionError):
        return ClientValidationError(
            "region_name: no AWS region configured; pass region_name= or set AWS_DEFAULT_REGION",
            field="region_name",
        )
    if isinstance(exc, InvalidRegionError):
        return ClientValidationError(f"region_name: {exc}", field="region_name")
    if isinstance(exc, ValueError):  # botocore's check of endpoint_url and Config values
        return ClientValidationError(f"invalid client configuration: {exc}")
    return None
