"""What the facade sets in the botocore clients it builds, and what it leaves alone.

Clients the facade builds skip botocore's parameter validation (the facade's own runs
first and catches more) and send a fixed User-Agent; a client passed in keeps its
configuration. The requests on the wire are otherwise the same.
"""

from __future__ import annotations

import inspect
import logging
import threading
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.validate import ParamValidator

from _twins import Clients
from typed_sagemaker_runtime import ClientValidationError, SageMakerRuntime
from typed_sagemaker_runtime._base._config import DEFAULT_POOL_CONNECTIONS, facade_config
from typed_sagemaker_runtime._base._user_agent import user_agent
from typed_sagemaker_runtime._core._params import argument_name
from typed_sagemaker_runtime.testing import LocalRuntime

MODEL = botocore.session.get_session().get_service_model("sagemaker-runtime")
METHODS = {
    "InvokeEndpoint": "invoke",
    "InvokeEndpointAsync": "invoke_async",
    "InvokeEndpointWithResponseStream": "stream",
}
# Values of the wrong type (and empty strings, under some members' minimum) for any member.
WRONG = [12345, 1.5, b"bytes", ["a list"], {"a": "dict"}, object(), "", True, 59]
# Headers that differ between any two requests: the clock, the signature over it, a uuid.
PER_REQUEST = {"x-amz-date", "authorization", "amz-sdk-invocation-id"}


def valid_arguments(operation: str, method: str) -> dict[str, object]:
    if operation == "InvokeEndpointAsync":
        return {"endpoint_name": "echo", "input_location": "s3://bucket/key"}
    return {"endpoint_name": "echo", "body": b"{}"}


def cases() -> list[tuple[str, str, str, object]]:
    """Every (operation, argument, wrong value) that botocore's own validator rejects."""
    found: list[tuple[str, str, str, object]] = []
    for operation, method in METHODS.items():
        shape = MODEL.operation_model(operation).input_shape
        accepted = set(inspect.signature(getattr(SageMakerRuntime, method)).parameters)
        for member in shape.members:
            argument = argument_name(member)
            if argument not in accepted:
                continue  # not an argument of the facade: never sent
            for value in WRONG:
                params = {"EndpointName": "echo", "Body": b"{}"}
                if operation == "InvokeEndpointAsync":
                    params = {"EndpointName": "echo", "InputLocation": "s3://bucket/key"}
                params[member] = value
                if ParamValidator().validate(params, shape).has_errors():
                    found.append((operation, argument, type(value).__name__, value))
    return found


CASES = cases()


def test_botocore_rejects_a_wrong_value_of_every_argument() -> None:
    """The cases below cover every argument: each has a value botocore's validator refuses."""
    covered = {(operation, argument) for operation, argument, _, _ in CASES}
    for operation, method in METHODS.items():
        accepted = set(inspect.signature(getattr(SageMakerRuntime, method)).parameters)
        members = MODEL.operation_model(operation).input_shape.members
        expected = {(operation, argument_name(m)) for m in members} & {
            (operation, a) for a in accepted
        }
        assert expected <= covered, expected - covered


@pytest.mark.parametrize(("operation", "argument", "kind", "value"), CASES)
def test_what_botocore_would_reject_the_facade_rejects_first(
    local: LocalRuntime, clients: Clients, operation: str, argument: str, kind: str, value: object
) -> None:
    """botocore's validation is off in facade-built clients: the facade's must catch it all."""
    client = clients.local()
    method = METHODS[operation]
    arguments = valid_arguments(operation, method)
    if operation == "InvokeEndpointAsync" and argument == "body":
        del arguments["input_location"]
    arguments[argument] = value
    endpoint = arguments.pop("endpoint_name")
    with pytest.raises(ClientValidationError) as caught:
        getattr(client, method)(endpoint, **arguments)
    assert caught.value.field == argument
    assert caught.value.operation == operation
    assert local.requests == []


def test_facade_built_clients_skip_botocore_validation(local: LocalRuntime) -> None:
    with local.client() as smr:
        # botocore's validator would refuse an empty InferenceId (min length 1); off, it sends it.
        smr.client.invoke_endpoint(EndpointName="echo", Body=b"{}", InferenceId="")
        assert len(local.requests) == 1
        with pytest.raises(ClientValidationError) as caught:
            smr.invoke("echo", b"{}", content_type=7)  # type: ignore[arg-type]
        assert caught.value.field == "content_type"
        assert "expected str, got int" in str(caught.value)
        assert len(local.requests) == 1


def test_a_client_passed_in_keeps_its_configuration(local: LocalRuntime) -> None:
    raw = local.boto3_client(config=Config(max_pool_connections=3))
    smr = SageMakerRuntime(client=raw)
    assert smr.client is raw
    assert raw.meta.config.parameter_validation is True
    assert raw.meta.config.max_pool_connections == 3
    smr.invoke("echo", b"{}")
    assert local.requests[-1].headers["User-Agent"].startswith("Boto3/")
    assert "lib/typed-sagemaker-runtime" not in local.requests[-1].headers["User-Agent"]


def sent_headers(local: LocalRuntime) -> dict[str, str]:
    return {k.lower(): v for k, v in local.requests[-1].headers.items()}


@pytest.mark.parametrize("method", ["invoke", "stream"])
def test_the_same_request_goes_out_but_for_the_user_agent(
    local: LocalRuntime, clients: Clients, method: str
) -> None:
    """A facade-built client and a plain botocore client behind the facade send the same."""
    arguments: dict[str, Any] = {
        "content_type": "application/json",
        "accept": "application/json",
        "custom_attributes": "a=b",
        "target_variant": "v1",
        "inference_id": "id-1",
    }

    def send(client: Any) -> dict[str, str]:
        result = getattr(client, method)("echo", b'{"x": 1}', **arguments)
        if method == "stream":
            with result as stream:
                assert stream.read() == b'{"x": 1}'
        return sent_headers(local)

    built = send(clients.local())
    retries: Any = {"mode": "standard", "total_max_attempts": 1}  # as the facade sets them
    if clients.is_async:
        plain = clients.loop.run(send_plain_async(local, method, arguments, retries))
    else:
        send(SageMakerRuntime(client=local.boto3_client(Config(retries=retries))))
        plain = sent_headers(local)
    assert local.requests[-1].body == local.requests[-2].body == b'{"x": 1}'
    ignored = PER_REQUEST | {"user-agent"}
    assert {k: v for k, v in built.items() if k not in ignored} == {
        k: v for k, v in plain.items() if k not in ignored
    }
    assert "lib/typed-sagemaker-runtime#" in built["user-agent"]
    assert "lib/typed-sagemaker-runtime#" not in plain["user-agent"]


async def send_plain_async(
    local: LocalRuntime, method: str, arguments: dict[str, Any], retries: Any
) -> dict[str, str]:
    """The same call through a plain aiobotocore client passed in with ``client=``."""
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    from typed_sagemaker_runtime import AsyncSageMakerRuntime

    config = AioConfig(retries=retries)
    async with get_session().create_client(
        "sagemaker-runtime", endpoint_url=local.endpoint_url, config=config
    ) as client:
        smr = AsyncSageMakerRuntime(client=client)
        result = await getattr(smr, method)("echo", b'{"x": 1}', **arguments)
        if method == "stream":
            async with result as stream:
                assert await stream.read() == b'{"x": 1}'
    return sent_headers(local)


def test_user_agent_keeps_botocores_components(local: LocalRuntime, clients: Clients) -> None:
    clients.local().invoke("echo", b"{}")
    sent = sent_headers(local)["user-agent"].split()
    assert sent[0].startswith(("Boto3/", "aiobotocore/"))
    for prefix in ("md/Botocore#", "ua/2.1", "os/", "md/arch#", "lang/python#", "md/pyimpl#"):
        assert any(part.startswith(prefix) for part in sent), prefix
    assert "cfg/retry-mode#standard" in sent
    assert sent[-1].lower().startswith("botocore/")  # the session's extra, appended by botocore


def test_user_agent_extra_and_app_id_are_kept(
    local: LocalRuntime, clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients.local(config=Config(user_agent_extra="my-extra/1", user_agent_appid="my app")).invoke(
        "echo", b"{}"
    )
    sent = sent_headers(local)["user-agent"].split()
    assert sent[-1] == "my-extra/1"
    assert "app/my-app" in sent  # botocore's sanitising: a space becomes "-"
    monkeypatch.setenv("AWS_SDK_UA_APP_ID", "from-env")
    clients.local().invoke("echo", b"{}")
    assert "app/from-env" in sent_headers(local)["user-agent"].split()


def test_app_id_from_the_shared_config_file(
    local: LocalRuntime, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore reads ``sdk_ua_app_id`` itself; the facade notices and carries it over."""
    config_file = tmp_path / "config"
    config_file.write_text("[default]\nsdk_ua_app_id = from-file\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    with local.client() as smr:
        smr.invoke("echo", b"{}")
    assert "app/from-file" in sent_headers(local)["user-agent"].split()


def test_a_user_agent_the_user_set_is_sent_as_given(local: LocalRuntime, clients: Clients) -> None:
    clients.local(config=Config(user_agent="mine/1.0")).invoke("echo", b"{}")
    assert sent_headers(local)["user-agent"].split()[0] == "mine/1.0"


def test_user_agent_is_built_once() -> None:
    first = user_agent("Boto3", "1.0")
    assert user_agent("Boto3", "1.0") is first
    assert facade_config(None, sdk=("Boto3", "1.0")).user_agent == first


def test_the_pool_keeps_the_connections_of_many_threads(
    local: LocalRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    """20 threads with a stream open each, on one client the facade built with defaults.

    botocore's pool of 10 would discard 10 of the 20 connections as they come back
    ("Connection pool is full") and the next calls would open new ones.
    """
    threads = 20
    all_open = threading.Barrier(threads)
    errors: list[BaseException] = []

    def read_one(smr: SageMakerRuntime) -> None:
        try:
            with smr.stream("echo", b"x" * 100) as stream:
                events = iter(stream)
                next(events)
                all_open.wait(timeout=30)  # every stream holds its connection now
                assert list(events) == []
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            all_open.abort()

    with local.client() as smr:
        assert smr.client.meta.config.max_pool_connections == DEFAULT_POOL_CONNECTIONS
        with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
            workers = [threading.Thread(target=read_one, args=(smr,)) for _ in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
    assert errors == []
    assert [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()] == []


@pytest.mark.parametrize("pool", [3, 10])
def test_a_pool_size_the_user_set_is_kept(local: LocalRuntime, clients: Clients, pool: int) -> None:
    """Even botocore's default value, when given explicitly."""
    client = clients.local(config=Config(max_pool_connections=pool))
    client.invoke("echo", b"{}")
    assert client.client.meta.config.max_pool_connections == pool


def test_the_default_pool_of_both_clients(local: LocalRuntime, clients: Clients) -> None:
    """aiohttp's connector limit (requests in flight) is the same default."""
    client = clients.local()
    client.invoke("echo", b"{}")
    assert client.client.meta.config.max_pool_connections == DEFAULT_POOL_CONNECTIONS
