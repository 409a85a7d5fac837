"""Where a bidirectional stream goes, and its request's path and headers, sans-I/O.

The endpoint follows the service model's rules (docs ``bidi-protocol.md`` section 1):
``https://runtime.sagemaker.{region}.{dnsSuffix}:8443``, ``runtime-fips`` for FIPS, the
partition's dual-stack suffix for dual-stack, and no ``:8443`` in partitions the model does
not list. An explicit ``bidi_endpoint_url`` wins over ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2``
(ignored, as boto3 ignores its own variables, when ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS``
is true), which wins over the rules. As in the model, FIPS or dual-stack with a custom
endpoint is refused.

The arguments are validated against the model's lengths and patterns before anything is
sent, raising :class:`ClientValidationError` naming the argument as passed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from ._exceptions import ClientValidationError

OPERATION = "InvokeEndpointWithBidirectionalStream"
ENDPOINT_ENV = "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2"
"""The AWS SDKs' per-service endpoint variable for service id "SageMaker Runtime HTTP2"."""
IGNORE_ENDPOINTS_ENV = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
PORT = 8443
PARTITIONS_WITH_PORT = frozenset(
    {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-f", "aws-eusc"}
)
"""The partitions whose endpoint the service model gives with ``:8443``."""

TARGET_VARIANT_HEADER = "X-Amzn-SageMaker-Target-Variant"
INVOCATION_PATH_HEADER = "X-Amzn-SageMaker-Model-Invocation-Path"
QUERY_STRING_HEADER = "X-Amzn-SageMaker-Model-Query-String"
INVOKED_VARIANT_HEADER = "X-Amzn-Invoked-Production-Variant"

_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_INVOCATION_PATH = re.compile(r"[A-Za-z0-9\-._]+(?:/[A-Za-z0-9\-._]+)*")
_QUERY_PAIR = r"[a-zA-Z0-9][A-Za-z0-9_-]*=(?:[A-Za-z0-9._~\-]|%[0-9A-Fa-f]{2})+"
_QUERY_STRING = re.compile(f"{_QUERY_PAIR}(?:&{_QUERY_PAIR})*")
_HOST = re.compile(r"[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]")


@dataclass(frozen=True, slots=True)
class Partition:
    """What the endpoint needs of a partition (botocore's ``partitions.json`` outputs)."""

    name: str
    dns_suffix: str
    dual_stack_dns_suffix: str


@dataclass(frozen=True, slots=True)
class BidiEndpoint:
    """A resolved endpoint: ``url`` is what is signed, ``host``/``port`` what is dialled."""

    url: str
    host: str
    port: int
    tls: bool

    @property
    def authority(self) -> str:
        """``host[:port]`` as signed and sent as ``:authority`` (no port when it is the default)."""
        return _authority(self.host, self.port, self.tls)


def _authority(host: str, port: int, tls: bool) -> str:
    return host if port == (443 if tls else 80) else f"{host}:{port}"


def _fail(field: str, message: str) -> ClientValidationError:
    return ClientValidationError(f"{field}: {message}", field=field, operation=OPERATION)


def partition_of(region: str, partitions: Mapping[str, object]) -> Partition:
    """The partition of ``region`` in a botocore ``partitions.json`` document.

    An explicitly listed region wins over the regex; an unknown region falls back to
    ``aws``, as botocore's endpoint rules do.
    """
    listed = partitions.get("partitions")
    entries = (
        [_dict(entry) for entry in cast("list[object]", listed)] if isinstance(listed, list) else []
    )
    chosen = next((entry for entry in entries if region in _dict(entry.get("regions"))), None)
    if chosen is None:
        chosen = next(
            (
                entry
                for entry in entries
                if isinstance(pattern := entry.get("regionRegex"), str)
                and re.match(pattern, region)
            ),
            None,
        )
    if chosen is None:
        chosen = next((entry for entry in entries if entry.get("id") == "aws"), _dict(None))
    outputs = _dict(chosen.get("outputs"))
    return Partition(
        name=str(chosen.get("id", "aws")),
        dns_suffix=str(outputs.get("dnsSuffix", "amazonaws.com")),
        dual_stack_dns_suffix=str(outputs.get("dualStackDnsSuffix", "api.aws")),
    )


def _dict(value: object) -> dict[str, object]:
    return dict(cast("dict[str, object]", value)) if isinstance(value, dict) else {}


def parse_endpoint_url(url: object, field: str) -> BidiEndpoint:
    """An ``https://host[:port]`` (or ``http://``) endpoint URL, checked; no path or query.

    Messages show the scheme or host at most, never the URL (it may hold a password).
    """
    if not isinstance(url, str):
        raise _fail(field, f"expected str, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _fail(field, f"not a valid URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _fail(field, f"must be an https:// URL with a host (the scheme is {parts.scheme!r})")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise _fail(field, "must be scheme, host and port only (no path, query or user)")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if _HOST.fullmatch(host) is None:
        raise _fail(field, f"invalid host {host[:100]!r}")
    tls = parts.scheme == "https"
    port = port if port is not None else (443 if tls else 80)
    url = f"{parts.scheme}://{_authority(host, port, tls)}"
    return BidiEndpoint(url=url, host=host, port=port, tls=tls)


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"


def resolve_endpoint(
    *,
    region: str | None,
    partition: Partition,
    use_fips: bool = False,
    use_dualstack: bool = False,
    env: Mapping[str, str],
    endpoint_url: object = None,
) -> BidiEndpoint:
    """The endpoint a bidirectional stream connects to, from the inputs alone.

    ``endpoint_url`` (the ``bidi_endpoint_url`` argument) wins, then ``env``'s
    ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2``, then the model's rules for ``region``.
    """
    custom_field = "bidi_endpoint_url"
    custom: object = endpoint_url
    if custom is None and not _truthy(env.get(IGNORE_ENDPOINTS_ENV)):
        custom = env.get(ENDPOINT_ENV) or None
        custom_field = ENDPOINT_ENV
    if custom is not None:
        if use_fips or use_dualstack:
            flag = "FIPS" if use_fips else "dual-stack"
            raise _fail(custom_field, f"a custom endpoint cannot be combined with {flag}")
        return parse_endpoint_url(custom, custom_field)
    if not region:
        raise _fail("region_name", "a region is needed to find the endpoint")
    if _HOST.fullmatch(region) is None or region.startswith("["):
        raise _fail("region_name", f"invalid region {region[:64]!r}")
    prefix = "runtime-fips" if use_fips else "runtime"
    suffix = partition.dual_stack_dns_suffix if use_dualstack else partition.dns_suffix
    host = f"{prefix}.sagemaker.{region}.{suffix}"
    port = PORT if partition.name in PARTITIONS_WITH_PORT else 443
    url = f"https://{_authority(host, port, True)}"
    return BidiEndpoint(url=url, host=host, port=port, tls=True)


def _check(field: str, value: object, maximum: int, pattern: re.Pattern[str], shown: str) -> str:
    if not isinstance(value, str):
        raise _fail(field, f"expected str, got {type(value).__name__}")
    if not 1 <= len(value) <= maximum:
        raise _fail(field, f"length must be 1-{maximum} characters, got {len(value)}")
    if pattern.fullmatch(value) is None:
        # A query string may carry a key: it is never echoed.
        given = "the value" if field == "model_query_string" else repr(value[:70])
        raise _fail(field, f"{given} is not {shown}")
    return value


def request_target(
    endpoint_name: object,
    *,
    target_variant: object = None,
    model_invocation_path: object = None,
    model_query_string: object = None,
) -> tuple[str, dict[str, str]]:
    """Validate the stream's arguments; return the request path and its extra headers."""
    name = _check(
        "endpoint_name",
        endpoint_name,
        63,
        _NAME,
        "letters, digits and hyphens, starting and ending with a letter or digit",
    )
    headers: dict[str, str] = {}
    if target_variant is not None:
        headers[TARGET_VARIANT_HEADER] = _check(
            "target_variant",
            target_variant,
            63,
            _NAME,
            "letters, digits and hyphens, starting and ending with a letter or digit",
        )
    if model_invocation_path is not None:
        headers[INVOCATION_PATH_HEADER] = _check(
            "model_invocation_path",
            model_invocation_path,
            100,
            _INVOCATION_PATH,
            "a relative path of letters, digits, '-', '.', '_' segments (e.g. 'v1/listen')",
        )
    if model_query_string is not None:
        headers[QUERY_STRING_HEADER] = _check(
            "model_query_string",
            model_query_string,
            2048,
            _QUERY_STRING,
            "key=value pairs joined by '&', values percent-encoded (e.g. 'model=nova-3')",
        )
    return f"/endpoints/{name}/invocations-bidirectional-stream", headers
