"""Shared fixtures. No test may reach AWS: credentials are dummies and IMDS is off."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from _twins import Clients
from typed_sagemaker_runtime import RetryPolicy, SageMakerRuntime
from typed_sagemaker_runtime.testing import LocalRuntime


@pytest.fixture(autouse=True)
def _isolated_aws_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Dummy credentials, a fixed region, no config files, no instance metadata."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
        "AWS_RETRY_MODE",
        "AWS_MAX_ATTEMPTS",
    ):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path_factory.getbasetemp() / "no-aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(name="local")
def _local() -> Iterator[LocalRuntime]:
    """A started local endpoint with an ``echo`` endpoint."""
    with LocalRuntime() as runtime:
        runtime.add_endpoint("echo")
        yield runtime


@pytest.fixture(name="smr")
def _smr(local: LocalRuntime) -> Iterator[SageMakerRuntime]:
    """The facade wired to the local endpoint, retrying without waiting."""
    client = local.client(retry=RetryPolicy(initial_backoff=0))
    yield client
    client.close()


@pytest.fixture(name="clients", params=["sync", "async"])
def _clients(request: pytest.FixtureRequest, local: LocalRuntime) -> Iterator[Clients]:
    """Client maker for tests that run against both clients, one flavour per run."""
    if request.param == "async" and importlib.util.find_spec("aiobotocore") is None:
        pytest.skip("aiobotocore is not installed (the 'aio' extra)")
    clients = Clients(request.param, local)
    yield clients
    clients.close()
