"""Where a bidirectional stream goes (issue 21), and its request's validated path and headers.

The endpoint cases are the service model's own endpoint tests (docs bidi-protocol.md
section 1), with partitions read from the installed botocore's ``partitions.json``.
"""

from __future__ import annotations

import botocore.loaders
import pytest

from typed_sagemaker_runtime._core._bidi_endpoint import (
    ENDPOINT_ENV,
    BidiEndpoint,
    Partition,
    partition_of,
    request_target,
    resolve_endpoint,
)
from typed_sagemaker_runtime._core._exceptions import ClientValidationError

PARTITIONS: dict[str, object] = botocore.loaders.Loader().load_data("partitions")
AWS = Partition("aws", "amazonaws.com", "api.aws")


def _resolve(region: str, **kwargs: object) -> str:
    env = kwargs.pop("env", {})
    return resolve_endpoint(
        region=region,
        partition=partition_of(region, PARTITIONS),
        env=env,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    ).url


@pytest.mark.parametrize(
    ("region", "flags", "url"),
    [
        ("us-east-1", {}, "https://runtime.sagemaker.us-east-1.amazonaws.com:8443"),
        (
            "us-east-1",
            {"use_fips": True},
            "https://runtime-fips.sagemaker.us-east-1.amazonaws.com:8443",
        ),
        ("us-east-1", {"use_dualstack": True}, "https://runtime.sagemaker.us-east-1.api.aws:8443"),
        (
            "us-east-1",
            {"use_fips": True, "use_dualstack": True},
            "https://runtime-fips.sagemaker.us-east-1.api.aws:8443",
        ),
        ("cn-northwest-1", {}, "https://runtime.sagemaker.cn-northwest-1.amazonaws.com.cn:8443"),
        ("us-gov-west-1", {}, "https://runtime.sagemaker.us-gov-west-1.amazonaws.com:8443"),
        ("us-iso-east-1", {}, "https://runtime.sagemaker.us-iso-east-1.c2s.ic.gov:8443"),
        ("eusc-de-east-1", {}, "https://runtime.sagemaker.eusc-de-east-1.amazonaws.eu:8443"),
        ("eu-isoe-west-1", {}, "https://runtime.sagemaker.eu-isoe-west-1.cloud.adc-e.uk"),
    ],
)
def test_the_models_endpoint_tests(region: str, flags: dict[str, bool], url: str) -> None:
    if region.startswith("eusc-") and partition_of(region, PARTITIONS).name == "aws":
        pytest.skip(f"the installed botocore's partitions do not know {region}'s partition")
    assert _resolve(region, **flags) == url


def test_the_endpoint_is_the_classic_host_on_port_8443() -> None:
    endpoint = resolve_endpoint(region="eu-west-1", partition=AWS, env={})
    assert endpoint == BidiEndpoint(
        url="https://runtime.sagemaker.eu-west-1.amazonaws.com:8443",
        host="runtime.sagemaker.eu-west-1.amazonaws.com",
        port=8443,
        tls=True,
    )
    assert endpoint.authority == "runtime.sagemaker.eu-west-1.amazonaws.com:8443"


def test_a_region_the_partitions_do_not_know_falls_back_to_aws() -> None:
    assert partition_of("xx-nowhere-1", PARTITIONS) == AWS
    assert partition_of("ap-southeast-7", PARTITIONS).name == "aws"
    assert partition_of("us-east-1", {}) == AWS


def test_the_environment_variable_overrides_the_rules() -> None:
    env = {ENDPOINT_ENV: "https://localhost:9443"}
    endpoint = resolve_endpoint(region="us-east-1", partition=AWS, env=env)
    assert endpoint == BidiEndpoint("https://localhost:9443", "localhost", 9443, True)
    assert endpoint.authority == "localhost:9443"


def test_the_argument_wins_over_the_environment_variable() -> None:
    env = {ENDPOINT_ENV: "https://from-env:9443"}
    endpoint = resolve_endpoint(
        region=None, partition=AWS, env=env, endpoint_url="https://127.0.0.1:7443/"
    )
    assert endpoint.url == "https://127.0.0.1:7443"
    assert endpoint.host == "127.0.0.1"


def test_configured_endpoints_can_be_ignored_as_boto3_does() -> None:
    env = {ENDPOINT_ENV: "https://from-env:9443", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    assert resolve_endpoint(region="us-east-1", partition=AWS, env=env).port == 8443
    explicit = resolve_endpoint(
        region="us-east-1", partition=AWS, env=env, endpoint_url="https://mine:1234"
    )
    assert explicit.authority == "mine:1234"


def test_default_ports_and_ipv6_hosts_in_a_custom_endpoint() -> None:
    assert resolve_endpoint(
        region=None, partition=AWS, env={}, endpoint_url="https://example.com"
    ) == BidiEndpoint("https://example.com", "example.com", 443, True)
    ipv6 = resolve_endpoint(region=None, partition=AWS, env={}, endpoint_url="https://[::1]:8443")
    assert (ipv6.host, ipv6.port, ipv6.authority) == ("[::1]", 8443, "[::1]:8443")
    plain = resolve_endpoint(region=None, partition=AWS, env={}, endpoint_url="http://local")
    assert (plain.tls, plain.port, plain.url) == (False, 80, "http://local")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("localhost:8443", "https:// URL"),
        ("ftp://host", "https:// URL"),
        ("https://host/path", "no path"),
        ("https://host?x=1", "no path"),
        ("https://user@host", "no path"),
        ("https://host:99999", "not a valid URL"),
        ("https://ho st", "invalid host"),
        ("ftp://user:hunter2@host", "scheme is 'ftp'"),
    ],
)
def test_a_bad_custom_endpoint_names_where_it_came_from(url: str, fragment: str) -> None:
    with pytest.raises(ClientValidationError, match=fragment) as caught:
        resolve_endpoint(region="us-east-1", partition=AWS, env={}, endpoint_url=url)
    assert caught.value.field == "bidi_endpoint_url"
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ClientValidationError, match=fragment) as caught:
        resolve_endpoint(region="us-east-1", partition=AWS, env={ENDPOINT_ENV: url})
    assert caught.value.field == ENDPOINT_ENV


def test_fips_or_dual_stack_with_a_custom_endpoint_is_refused_as_the_model_does() -> None:
    with pytest.raises(ClientValidationError, match="FIPS"):
        resolve_endpoint(
            region="us-east-1", partition=AWS, env={}, endpoint_url="https://x", use_fips=True
        )
    with pytest.raises(ClientValidationError, match="dual-stack"):
        resolve_endpoint(
            region="us-east-1",
            partition=AWS,
            env={ENDPOINT_ENV: "https://x"},
            use_dualstack=True,
        )


@pytest.mark.parametrize("region", [None, "", "us east 1", "[::1]"])
def test_without_a_usable_region_there_is_no_endpoint(region: str | None) -> None:
    with pytest.raises(ClientValidationError) as caught:
        resolve_endpoint(region=region, partition=AWS, env={})
    assert caught.value.field == "region_name"


# --- the request's path and headers ------------------------------------------------------


def test_the_request_target_and_its_headers() -> None:
    path, headers = request_target(
        "my-endpoint",
        target_variant="variant-1",
        model_invocation_path="v1/listen",
        model_query_string="model=nova-3&language=en",
    )
    assert path == "/endpoints/my-endpoint/invocations-bidirectional-stream"
    assert headers == {
        "X-Amzn-SageMaker-Target-Variant": "variant-1",
        "X-Amzn-SageMaker-Model-Invocation-Path": "v1/listen",
        "X-Amzn-SageMaker-Model-Query-String": "model=nova-3&language=en",
    }
    assert request_target("ep") == ("/endpoints/ep/invocations-bidirectional-stream", {})


@pytest.mark.parametrize(
    ("arguments", "field", "fragment"),
    [
        ({"endpoint_name": "bad_name"}, "endpoint_name", "'bad_name' is not letters"),
        ({"endpoint_name": "-ep"}, "endpoint_name", "is not letters"),
        ({"endpoint_name": "e" * 64}, "endpoint_name", "1-63"),
        ({"endpoint_name": ""}, "endpoint_name", "1-63"),
        ({"endpoint_name": b"ep"}, "endpoint_name", "expected str, got bytes"),
        ({"target_variant": "v" * 64}, "target_variant", "1-63"),
        ({"target_variant": "v/1"}, "target_variant", "is not letters"),
        ({"model_invocation_path": "/v1/listen"}, "model_invocation_path", "relative path"),
        ({"model_invocation_path": "v1//listen"}, "model_invocation_path", "relative path"),
        ({"model_invocation_path": "v1/listen?x=1"}, "model_invocation_path", "relative path"),
        ({"model_invocation_path": "p" * 101}, "model_invocation_path", "1-100"),
        ({"model_query_string": "model=nova 3"}, "model_query_string", "key=value"),
        ({"model_query_string": "=x"}, "model_query_string", "key=value"),
        ({"model_query_string": "a=1&"}, "model_query_string", "key=value"),
        ({"model_query_string": "a=%zz"}, "model_query_string", "key=value"),
        ({"model_query_string": "a=" + "1" * 2047}, "model_query_string", "1-2048"),
    ],
)
def test_bad_arguments_are_refused_naming_them(
    arguments: dict[str, object], field: str, fragment: str
) -> None:
    given = {"endpoint_name": "ep", **arguments}
    with pytest.raises(ClientValidationError, match=fragment) as caught:
        request_target(
            given["endpoint_name"],
            target_variant=given.get("target_variant"),
            model_invocation_path=given.get("model_invocation_path"),
            model_query_string=given.get("model_query_string"),
        )
    assert caught.value.field == field
    assert caught.value.operation == "InvokeEndpointWithBidirectionalStream"


def test_a_rejected_query_string_is_not_echoed() -> None:
    with pytest.raises(ClientValidationError) as caught:
        request_target("ep", model_query_string="token=secret value")
    assert "secret" not in str(caught.value)


def test_the_longest_valid_values_are_accepted() -> None:
    _, headers = request_target(
        "e" * 63,
        target_variant="v" * 63,
        model_invocation_path="p" * 100,
        model_query_string="a=" + "%41" * 682,
    )
    assert len(headers["X-Amzn-SageMaker-Model-Query-String"]) == 2048


def test_an_endpoint_url_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ClientValidationError, match="expected str, got bytes") as caught:
        resolve_endpoint(region="us-east-1", partition=AWS, env={}, endpoint_url=b"https://x")
    assert caught.value.field == "bidi_endpoint_url"
