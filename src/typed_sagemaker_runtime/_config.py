"""Client construction shared by the sync and async clients, sans-I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from botocore.config import Config

from ._exceptions import ClientValidationError, SageMakerRuntimeError
from ._retry import RetryPolicy

SERVICE_NAME = "sagemaker-runtime"
_ERROR_CODE_HOOK = "typed-sagemaker-runtime-error-code"

# botocore retries nothing: the facade's RetryPolicy decides instead.
_NO_BOTOCORE_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


def facade_config(config: Config | None) -> Config:
    """The user's botocore ``Config`` with botocore's own retries switched off."""
    merged = (config or Config()).merge(_NO_BOTOCORE_RETRIES)
    _keep_http_session_cls(config, merged)
    return merged


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


def _keep(parsed: dict[str, Any], code: str | None) -> None:
    # At the top level of ``ClientError.response``, where botocore puts modelled error fields.
    if code is not None:
        parsed.setdefault("ErrorCode", code)


def keep_error_code(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
    """botocore ``after-call`` hook: keep the service's ``ErrorCode`` sub-code.

    Relies on botocore emitting ``after-call`` with the ``AWSResponse`` (whose body it
    has already read for an error, so ``content`` is cached bytes) and the ``parsed``
    dict that becomes ``ClientError.response``: true from botocore 1.34 to today, while
    ``before-parse`` only appeared in botocore 1.35.16 and aiobotocore 2.13 never emits
    it. A stubbed response has no raw body.
    """
    if http_response.status_code >= 300 and http_response.raw is not None:
        _keep(parsed, error_sub_code(http_response.content))


async def keep_error_code_aio(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
    """The aiobotocore twin of :func:`keep_error_code`: there ``content`` is awaited."""
    if http_response.status_code >= 300 and http_response.raw is not None:
        _keep(parsed, error_sub_code(await http_response.content))


def install_hooks(events: Any, *, aio: bool = False) -> None:
    """Register the facade's botocore (``aio``: aiobotocore) event handlers (idempotent)."""
    events.register_first(
        f"after-call.{SERVICE_NAME}",
        keep_error_code_aio if aio else keep_error_code,
        unique_id=_ERROR_CODE_HOOK,
    )


def construction_error(exc: Exception) -> SageMakerRuntimeError | None:
    """The error to raise when botocore refuses to build a client; ``None``: not ours."""
    from botocore.exceptions import InvalidRegionError, NoRegionError

    from ._errors import credentials_error

    credentials = credentials_error(exc, None)
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
