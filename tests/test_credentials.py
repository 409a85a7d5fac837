"""No AWS credentials anywhere: ``CredentialsError`` says how to configure them; nothing is sent.

The environment is a newcomer's: no ``AWS_*`` variables, an empty home directory, config
and credentials files that do not exist, and instance metadata switched off (so botocore
tries no network lookup).
"""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from botocore import exceptions as bce

import typed_sagemaker_runtime as smr
from _twins import Clients
from typed_sagemaker_runtime._core._errors import map_exception
from typed_sagemaker_runtime.testing import LocalRuntime


@pytest.fixture(autouse=True)
def _no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # no credentials cached by earlier tests


def _assert_explains_credentials(exc: smr.CredentialsError, clients: Clients) -> None:
    text = str(exc)
    for hint in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "aws configure", "profile"):
        assert hint in text, hint
    # The session the caller would pass: aiobotocore's for the asyncio client.
    if clients.is_async:
        assert "session=aiobotocore.session.AioSession(profile=NAME)" in text
        assert "boto3.Session" not in text
    else:
        assert "session=boto3.Session(profile_name=NAME)" in text
    assert "\n" not in text
    assert isinstance(exc.__cause__, bce.NoCredentialsError)
    assert not exc.retryable


@pytest.mark.parametrize("method", ["invoke", "stream", "invoke_async"])
def test_missing_credentials_raise_credentials_error_and_send_nothing(
    local: LocalRuntime, clients: Clients, method: str
) -> None:
    client = clients.build(region_name="us-east-1", endpoint_url=local.endpoint_url)
    with pytest.raises(smr.CredentialsError) as caught:
        if method == "invoke_async":
            client.invoke_async("echo", input_location="s3://bucket/input.json")
        else:
            getattr(client, method)("echo", b"hello")
    _assert_explains_credentials(caught.value, clients)
    assert caught.value.operation is not None
    assert local.requests == []
    assert local.connections_opened == 0


def test_credentials_error_sits_beside_client_validation_error() -> None:
    """Configuration, not an argument, and nothing was sent: a direct child of the root."""
    assert smr.CredentialsError.__mro__[1] is smr.SageMakerRuntimeError
    assert not issubclass(smr.CredentialsError, (smr.ClientValidationError, smr.ServiceError))
    assert "CredentialsError" in smr.__all__


@pytest.mark.parametrize(
    "exc",
    [
        bce.NoCredentialsError(),
        bce.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        bce.CredentialRetrievalError(provider="sso", error_msg="token expired"),
    ],
)
def test_every_credentials_failure_maps_to_credentials_error(exc: Exception) -> None:
    mapped = map_exception(exc, operation="InvokeEndpoint")
    assert type(mapped) is smr.CredentialsError
    assert "aws configure" in str(mapped)


def test_a_credential_process_output_is_not_repeated() -> None:
    exc = bce.CredentialRetrievalError(provider="custom-process", error_msg="token=abc123")
    mapped = map_exception(exc, operation="InvokeEndpoint")
    assert isinstance(mapped, smr.CredentialsError)
    assert "custom-process" in str(mapped)
    assert "abc123" not in str(mapped)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", "missing: AWS_SECRET_ACCESS_KEY"),
        ("AWS_PROFILE", "nowhere", "The config profile (nowhere) could not be found"),
    ],
)
def test_unusable_credentials_when_building_the_client(
    local: LocalRuntime,
    clients: Clients,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    says: str,
) -> None:
    """botocore loads credentials while building a client: the same class, at construction."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(smr.CredentialsError) as caught:
        clients.build(region_name="us-east-1", endpoint_url=local.endpoint_url)
    assert says in str(caught.value)
    assert "aws configure" in str(caught.value)
    session = "AioSession(profile=" if clients.is_async else "boto3.Session(profile_name="
    assert session in str(caught.value)
    assert caught.value.operation is None
    assert local.connections_opened == 0
