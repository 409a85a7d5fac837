"""The busy endpoint: ``Capacity`` on the local endpoint, driven by raw boto3 over HTTP.

Callers are threads; handlers that block until the test lets them go make the number of
requests in service exact, so what is throttled, queued and served is asserted exactly,
from the server's own counters (``capacity_stats``), not from timing.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import pytest
from botocore import exceptions as bce
from botocore.config import Config

from typed_sagemaker_runtime import ModelNotReadyError, ServiceUnavailableError, ThrottlingError
from typed_sagemaker_runtime._cli._serve import add_serve_arguments, run_serve
from typed_sagemaker_runtime._cli._serve_config import ServeConfigError, parse_settings
from typed_sagemaker_runtime.testing import (
    Capacity,
    CapacityStats,
    InvocationRequest,
    LocalRuntime,
)
from typed_sagemaker_runtime.testing._boto import dummy_session
from typed_sagemaker_runtime.testing._capacity import CapacityGate, Slot
from typed_sagemaker_runtime.testing._server._http import ResponseWriter

NO_RETRIES = Config(retries={"total_max_attempts": 1}, max_pool_connections=64, read_timeout=30)


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds (a state of the server, not a duration)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the server never reached the expected state"
        time.sleep(0.002)


class Gate:
    """A handler that blocks every request until :meth:`open` (or only the first ``only``)."""

    def __init__(self, only: int | None = None) -> None:
        self.opened = threading.Event()
        self._only = only
        self._lock = threading.Lock()
        self.entered = 0
        self.running = 0
        self.most_running = 0

    def __call__(self, request: InvocationRequest) -> bytes:
        with self._lock:
            self.entered += 1
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            blocks = self._only is None or self.entered <= self._only
        try:
            if blocks:
                assert self.opened.wait(30)
            return request.body
        finally:
            with self._lock:
                self.running -= 1

    def open(self) -> None:
        self.opened.set()


@pytest.fixture(name="client")
def _client(local: LocalRuntime) -> Iterator[Any]:
    client = local.boto3_client(NO_RETRIES)
    yield client
    client.close()


def _invoke(client: Any, endpoint: str = "ep") -> bytes:
    body: bytes = client.invoke_endpoint(EndpointName=endpoint, Body=b"x")["Body"].read()
    return body


def _error(call: Callable[[], object]) -> tuple[str, int, str]:
    """The code, status and message of the error ``call`` raises."""
    with pytest.raises(bce.ClientError) as caught:
        call()
    response: Any = caught.value.response
    error = response["Error"]
    return error["Code"], response["ResponseMetadata"]["HTTPStatusCode"], error["Message"]


def _stats(local: LocalRuntime) -> CapacityStats:
    return local.capacity_stats("ep")


# --- Capacity's arguments ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 2.5}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"concurrency": 1, "latency": -0.1}, "latency"),
        ({"concurrency": 1, "latency": float("nan")}, "latency"),
        ({"concurrency": 1, "latency": float("inf")}, "latency"),
        ({"concurrency": 1, "queue": -1}, "queue"),
        ({"concurrency": 1, "queue": "3"}, "queue"),
        ({"concurrency": 1, "latency_growth": -1.0}, "latency_growth"),
        ({"concurrency": 1, "jitter": 1.5}, "jitter"),
        ({"concurrency": 1, "jitter": -0.1}, "jitter"),
        ({"concurrency": 1, "overload": "drop"}, "overload"),
    ],
)
def test_invalid_capacity_names_the_field(arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field} must be"):
        Capacity(**arguments)


def test_latency_grows_with_the_requests_served() -> None:
    capacity = Capacity(8, latency=0.1, latency_growth=0.5)
    assert [capacity.latency_for(n) for n in (1, 2, 4)] == pytest.approx([0.1, 0.15, 0.25])
    assert Capacity(8, latency=0.1).latency_for(8) == pytest.approx(0.1)


def _jittered(seed: int) -> list[float]:
    gate = CapacityGate(Capacity(1, latency=1.0, jitter=0.5), random.Random(seed))
    latencies: list[float] = []
    for _ in range(20):
        slot = gate.admit()
        assert isinstance(slot, Slot)
        latencies.append(slot.latency)
        slot.release()
    return latencies


def test_jitter_spreads_latency_repeatably() -> None:
    latencies = _jittered(1)
    assert all(0.5 <= latency <= 1.5 for latency in latencies)
    assert len(set(latencies)) == 20
    assert latencies == _jittered(1) != _jittered(2)


def test_the_runtime_seed_makes_jitter_repeat() -> None:
    def longest(seed: int) -> float:
        with LocalRuntime(seed=seed) as local:
            local.add_endpoint("ep", capacity=Capacity(1, latency=0.01, jitter=0.5))
            client = local.boto3_client(NO_RETRIES)
            for _ in range(5):
                _invoke(client)
            client.close()
            return _stats(local).longest_latency

    assert longest(7) == longest(7)


def test_an_unknown_endpoint_is_named(local: LocalRuntime) -> None:
    with pytest.raises(ValueError, match="no endpoint named 'nope'"):
        local.capacity_stats("nope")
    with pytest.raises(ValueError, match="no endpoint named 'nope'"):
        local.set_capacity("nope", Capacity(1))


# --- throttling -------------------------------------------------------------------------


def test_exactly_the_callers_beyond_capacity_are_throttled(
    local: LocalRuntime, client: Any
) -> None:
    gate = Gate()
    local.add_endpoint("ep", gate, capacity=Capacity(4))
    with ThreadPoolExecutor(12) as pool:
        calls = [pool.submit(_invoke, client) for _ in range(12)]
        _until(lambda: sum(call.done() for call in calls) == 8)
        refused = [call for call in calls if call.done()]
        assert {_code_and_status(call) for call in refused} == {("ThrottlingException", 400)}
        assert _stats(local).in_service == 4
        assert gate.running == 4
        gate.open()
        served = [call.result() for call in calls if call not in refused]
    assert served == [b"x"] * 4
    stats = _stats(local)
    assert (stats.served, stats.throttled, stats.queued) == (4, 8, 0)
    assert (stats.in_service, stats.waiting, stats.peak_concurrency) == (0, 0, 4)


def _code_and_status(call: Future[bytes]) -> tuple[str, int]:
    error = call.exception()
    assert isinstance(error, bce.ClientError)
    response: Any = error.response
    assert response["Error"]["Message"] == "Rate exceeded"
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_under_load_the_counts_add_up_and_the_peak_stays_at_concurrency(
    local: LocalRuntime, client: Any
) -> None:
    gate = Gate(only=0)  # never blocks; counts the handlers running at once
    local.add_endpoint("ep", gate, capacity=Capacity(4, latency=0.002))
    outcomes: list[str] = []
    lock = threading.Lock()

    def caller() -> None:
        for _ in range(15):
            try:
                _invoke(client)
                outcome = "served"
            except bce.ClientError as exc:
                outcome = str(exc.response.get("Error", {}).get("Code"))
            with lock:
                outcomes.append(outcome)

    with ThreadPoolExecutor(32) as pool:
        for done in [pool.submit(caller) for _ in range(32)]:
            done.result()
    stats = _stats(local)
    assert len(outcomes) == 32 * 15
    assert set(outcomes) == {"served", "ThrottlingException"}
    assert stats.served == outcomes.count("served") == gate.entered
    assert stats.throttled == outcomes.count("ThrottlingException") > 0
    assert stats.peak_concurrency == 4
    assert gate.most_running <= 4
    assert (stats.in_service, stats.waiting) == (0, 0)


def test_a_caller_that_read_its_answer_is_served_again_at_once(
    local: LocalRuntime, client: Any
) -> None:
    local.add_endpoint("ep", capacity=Capacity(1))
    for _ in range(50):
        assert _invoke(client) == b"x"
    assert _stats(local).throttled == 0


def _received(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except BlockingIOError:
        return b""


@pytest.mark.parametrize("chunked", [False, True])
def test_the_writer_frees_the_slot_before_the_last_bytes_go_out(chunked: bool) -> None:
    """What makes an answer's end and its slot's release one event, seen from the client."""
    server, client = socket.socketpair()
    with server, client:
        client.setblocking(False)
        seen_at_release: list[bytes] = []
        writer = ResponseWriter(server, keep_alive=True)
        writer.before_end = lambda: seen_at_release.append(_received(client))
        if chunked:
            writer.start_chunked(200, [])
            writer.chunk(b"part")
            writer.end_chunked()
            writer.end_chunked()  # the hook runs once
        else:
            writer.send(200, [], b"body")
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\npart\r\n"
        assert seen_at_release == [head if chunked else b""]
        assert _received(client).endswith(b"0\r\n\r\n0\r\n\r\n" if chunked else b"body")


@pytest.mark.parametrize(
    ("overload", "code", "status", "error"),
    [
        ("throttle", "ThrottlingException", 400, ThrottlingError),
        ("model_not_ready", "ModelNotReadyException", 429, ModelNotReadyError),
        ("unavailable", "ServiceUnavailable", 503, ServiceUnavailableError),
    ],
)
def test_overload_chooses_the_answer(
    local: LocalRuntime,
    client: Any,
    overload: Any,
    code: str,
    status: int,
    error: type[Exception],
) -> None:
    gate = Gate()
    local.add_endpoint("ep", gate, capacity=Capacity(1, overload=overload))
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(_invoke, client)
        _until(lambda: _stats(local).in_service == 1)
        assert _error(lambda: _invoke(client))[:2] == (code, status)
        with local.client(config=NO_RETRIES) as smr, pytest.raises(error):
            smr.invoke("ep", b"x")
        gate.open()
        assert held.result() == b"x"


# --- the queue --------------------------------------------------------------------------


def test_queued_requests_wait_for_a_slot_instead_of_being_throttled(
    local: LocalRuntime, client: Any
) -> None:
    gate = Gate(only=1)
    local.add_endpoint("ep", gate, capacity=Capacity(1, latency=0.1, queue=3))
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(_invoke, client)
        _until(lambda: gate.running == 1)
        started = time.monotonic()
        queued = [pool.submit(_invoke, client) for _ in range(3)]
        _until(lambda: _stats(local).waiting == 3)
        assert _error(lambda: _invoke(client))[0] == "ThrottlingException"  # the queue is full
        gate.open()
        assert [call.result() for call in (first, *queued)] == [b"x"] * 4
        elapsed = time.monotonic() - started
    stats = _stats(local)
    assert (stats.served, stats.queued, stats.throttled, stats.peak_waiting) == (4, 3, 1, 3)
    assert stats.peak_concurrency == 1
    # The last one served waited for the two queued before it, 0.1 s of latency each.
    assert stats.longest_wait >= 0.2
    assert elapsed >= 0.3  # three queued requests, served one after another


def test_latency_grows_with_load(local: LocalRuntime, client: Any) -> None:
    gate = Gate()
    local.add_endpoint("ep", gate, capacity=Capacity(4, latency=0.05, latency_growth=1.0))
    with ThreadPoolExecutor(4) as pool:
        calls = [pool.submit(_invoke, client) for _ in range(4)]
        _until(lambda: gate.running == 4)
        gate.open()
        assert [call.result() for call in calls] == [b"x"] * 4
    assert _stats(local).longest_latency == pytest.approx(0.05 * (1 + 3))

    local.add_endpoint("alone", capacity=Capacity(4, latency=0.05, latency_growth=1.0))
    started = time.monotonic()
    _invoke(client, "alone")
    assert time.monotonic() - started >= 0.05
    assert local.capacity_stats("alone").longest_latency == pytest.approx(0.05)


# --- changes mid-run --------------------------------------------------------------------


def test_capacity_changes_while_requests_are_served(local: LocalRuntime, client: Any) -> None:
    gate = Gate()
    local.add_endpoint("ep", gate, capacity=Capacity(1, queue=1))
    with ThreadPoolExecutor(8) as pool:
        calls = [pool.submit(_invoke, client)]
        _until(lambda: gate.running == 1)
        calls.append(pool.submit(_invoke, client))
        _until(lambda: _stats(local).waiting == 1)
        assert _error(lambda: _invoke(client))[0] == "ThrottlingException"

        local.set_capacity("ep", Capacity(3, queue=0))  # the waiter is served at once
        _until(lambda: gate.running == 2)
        calls.append(pool.submit(_invoke, client))
        _until(lambda: gate.running == 3)
        assert _error(lambda: _invoke(client))[0] == "ThrottlingException"

        local.set_capacity("ep", Capacity(1))  # those served keep their slots
        assert _error(lambda: _invoke(client))[0] == "ThrottlingException"
        assert _stats(local).in_service == 3

        local.set_capacity("ep", None)  # unlimited
        calls.extend(pool.submit(_invoke, client) for _ in range(3))
        _until(lambda: gate.running == 6)
        gate.open()
        assert [call.result() for call in calls] == [b"x"] * 6
    stats = _stats(local)
    assert (stats.served, stats.throttled, stats.queued, stats.peak_concurrency) == (6, 3, 1, 6)
    assert local.capacity_stats("ep").in_service == 0


def test_stop_returns_promptly_with_requests_queued() -> None:
    local = LocalRuntime().start()
    local.add_endpoint("ep", capacity=Capacity(1, latency=60.0, queue=8))
    client = local.boto3_client(NO_RETRIES)
    failures: list[BaseException] = []

    def call() -> None:
        try:
            _invoke(client)
        except Exception as exc:  # the connection closes under it
            failures.append(exc)

    callers = [threading.Thread(target=call) for _ in range(9)]
    for caller in callers:
        caller.start()
    try:
        _until(lambda: _stats(local).waiting == 8)
    finally:
        started = time.monotonic()
        local.stop()
        stopped_in = time.monotonic() - started
        for caller in callers:
            caller.join(10)
        client.close()
    assert stopped_in < 5.0  # not the 60 s of latency, nor stop_timeout
    assert not any(caller.is_alive() for caller in callers)
    assert len(failures) == 9


# --- streams ----------------------------------------------------------------------------


def test_a_stream_holds_its_slot_until_its_body_ends(local: LocalRuntime, client: Any) -> None:
    more = threading.Event()

    def tokens(request: InvocationRequest) -> Iterator[bytes]:
        yield b"first "
        assert more.wait(30)
        yield b"last"

    local.add_endpoint("ep", tokens, capacity=Capacity(1))
    response = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
    events = iter(response["Body"])
    assert next(events)["PayloadPart"]["Bytes"] == b"first "
    assert _error(lambda: _invoke(client))[0] == "ThrottlingException"
    assert (
        _error(lambda: client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}"))[
            0
        ]
        == "ThrottlingException"
    )
    more.set()
    assert [event["PayloadPart"]["Bytes"] for event in events] == [b"last"]
    assert _invoke(client) == b"first last"  # freed as the body ended
    assert (_stats(local).served, _stats(local).throttled) == (2, 2)


# --- smr serve --capacity -------------------------------------------------------------


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(argv)


def test_serve_capacity_flags_are_parsed() -> None:
    settings = parse_settings(
        _args(
            "--endpoint",
            "a=echo",
            "--endpoint",
            "b=echo",
            "--capacity",
            "*=2",
            "--capacity",
            "b=16,latency=0.05,queue=8,growth=0.5,jitter=0.1,overload=unavailable",
        )
    )
    assert settings.endpoints["a"].capacity == Capacity(2)
    assert settings.endpoints["b"].capacity == Capacity(
        16, latency=0.05, queue=8, latency_growth=0.5, jitter=0.1, overload="unavailable"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ep", "--capacity 'ep': expected ENDPOINT=CONCURRENCY"),
        ("other=4", "no endpoint named 'other'"),
        ("ep=", "bad option '' in ''"),
        ("ep=latency=0.1", "has no concurrency"),
        ("ep=four", "concurrency='four' is not an integer"),
        ("ep=0", "concurrency must be an integer >= 1, not 0"),
        ("ep=2,latency=-1", "latency must be a finite number >= 0"),
        ("ep=2,queue=1.5", "queue='1.5' is not an integer"),
        ("ep=2,speed=3", "bad option 'speed=3'"),
        ("ep=2,queue=1,queue=2", "queue is given twice in '2,queue=1,queue=2'"),
        ("ep=2,concurrency=3", "concurrency is given twice"),
        ("ep=2,overload=drop", "overload='drop' is not one of throttle, model_not_ready"),
        ("ep=2,growth=nan", "ep: growth must be a finite number >= 0, not nan"),
    ],
)
def test_serve_refuses_bad_capacity_specs(spec: str, message: str) -> None:
    with pytest.raises(ServeConfigError, match=r"^--capacity") as caught:
        parse_settings(_args("--endpoint", "ep=echo", "--capacity", spec))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_config_table_takes_a_capacity(tmp_path: Any) -> None:
    config = tmp_path / "serve.json"
    config.write_text('{"endpoints": {"ep": {"backend": "echo", "capacity": "3,queue=2"}}}')
    settings = parse_settings(_args("--config", str(config)))
    assert settings.endpoints["ep"].capacity == Capacity(3, queue=2)
    config.write_text('{"endpoints": {"ep": {"backend": "echo", "capacity": 3}}}')
    with pytest.raises(ServeConfigError, match="'capacity' must be a string"):
        parse_settings(_args("--config", str(config)))


def test_smr_serve_with_a_bad_capacity_prints_one_line_and_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "typed_sagemaker_runtime._cli._serve", "--capacity", "demo=0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "smr serve: error: --capacity demo: concurrency must be an integer >= 1, not 0"
    ]


def test_smr_serve_serves_a_busy_endpoint() -> None:
    out = _Banner()
    stop = threading.Event()
    args = _args("--endpoint", "ep=echo", "--capacity", "ep=1,latency=30")
    thread = threading.Thread(target=run_serve, args=(args, out), kwargs={"stop": stop})
    thread.start()
    try:
        assert out.ready.wait(20)
        banner = out.getvalue()
        assert "endpoint ep: echo (answers with the request body) (1 at once, 30 s, queue 0)" in (
            banner
        )
        url = next(line for line in banner.splitlines() if line.startswith("export "))
        client = _boto3_client(url.partition("=")[2])
        with ThreadPoolExecutor(2) as pool:
            calls = [pool.submit(_invoke, client) for _ in range(2)]
            done, held = wait(calls, return_when=FIRST_COMPLETED)
            assert _code_and_status(done.pop()) == ("ThrottlingException", 400)
            stop.set()  # the served one's 30 s of latency end with the server
            assert isinstance(held.pop().exception(20), Exception)
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive()


def _boto3_client(url: str) -> Any:
    factory: Any = dummy_session("us-east-1")
    return factory.client("sagemaker-runtime", endpoint_url=url, config=NO_RETRIES)


class _Banner(io.StringIO):
    """``run_serve``'s output; ``ready`` is set at its first flush (the banner is whole)."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = threading.Event()

    def flush(self) -> None:
        super().flush()
        self.ready.set()


def test_without_a_capacity_requests_are_counted_never_refused(
    local: LocalRuntime, client: Any
) -> None:
    gate = Gate()
    local.add_endpoint("ep", gate)
    with ThreadPoolExecutor(6) as pool:
        calls = [pool.submit(_invoke, client) for _ in range(6)]
        _until(lambda: gate.running == 6)
        gate.open()
        assert [call.result() for call in calls] == [b"x"] * 6
    stats = _stats(local)
    assert (stats.served, stats.throttled, stats.peak_concurrency) == (6, 0, 6)
