"""The asyncio HTTP/2 transport of a bidirectional stream against the local listener (issue 21).

The twin of ``test_bidi_transport.py`` under asyncio: each echo is read before the
next part is sent (full duplex), the input ends with the signed end frame, a tampered request
signature is answered 403.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator

import pytest

pytest.importorskip("awscrt")
pytest.importorskip("h2")
pytest.importorskip("trustme")

from botocore.credentials import ReadOnlyCredentials

from typed_sagemaker_runtime._aio._bidi_transport import AsyncBidiConnection
from typed_sagemaker_runtime._base._bidi_setup import BidiSettings
from typed_sagemaker_runtime._core._bidi_endpoint import parse_endpoint_url
from typed_sagemaker_runtime._core._bidi_events import (
    BidiEvent,
    BidiPayloadPart,
    request_part,
)
from typed_sagemaker_runtime._core._bidi_request import OpenedRequest, prepare_request
from typed_sagemaker_runtime._core._exceptions import AccessDeniedError
from typed_sagemaker_runtime.testing._server._bidi_listener import BidiListener

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CREDENTIALS = ReadOnlyCredentials(KEY, SECRET, None)
TIMEOUT = 5.0


@pytest.fixture
def listener() -> Iterator[BidiListener]:
    with BidiListener(credentials={KEY: SECRET}) as running:
        yield running


def _settings(listener: BidiListener) -> BidiSettings:
    return BidiSettings(
        endpoint=parse_endpoint_url(listener.url, "bidi_endpoint_url"),
        region="us-east-1",
        ca_file=listener.ca_bundle,
        verify=True,
        connect_timeout=TIMEOUT,
        read_timeout=TIMEOUT,
        user_agent="tests/1.0",
    )


async def _events(connection: AsyncBidiConnection) -> AsyncIterator[BidiEvent]:
    while True:
        events, over = await connection.next_events()
        for event in events:
            yield event
        if over:
            return


def _opened(listener: BidiListener) -> OpenedRequest:
    endpoint = parse_endpoint_url(listener.url, "bidi_endpoint_url")
    return prepare_request("ep", endpoint=endpoint, region="us-east-1", credentials=CREDENTIALS)


def test_each_part_is_echoed_before_the_next_is_sent(listener: BidiListener) -> None:
    async def main() -> tuple[list[BidiEvent], list[BidiEvent]]:
        connection = await AsyncBidiConnection.open(_opened(listener), _settings(listener))
        try:
            events = _events(connection)
            received: list[BidiEvent] = []
            for text in ("one", "two", "three"):
                await connection.send(request_part(text))
                received.append(await events.__anext__())  # half duplex times out here
            await connection.end_input()
            rest = [event async for event in events]
        finally:
            await connection.close()
        return received, rest

    received, rest = asyncio.run(main())
    assert received == [BidiPayloadPart(t.encode(), "UTF8", None) for t in ("one", "two", "three")]
    assert rest == []
    assert listener.wait_for_ends(1) == [True]
    assert listener.refusals == []


def test_a_tampered_request_signature_is_refused_with_403(listener: BidiListener) -> None:
    opened = _opened(listener)
    headers = tuple(
        (name, value[:-4] + "0000" if name == "authorization" else value)
        for name, value in opened.request.headers
    )
    tampered = dataclasses.replace(
        opened, request=dataclasses.replace(opened.request, headers=headers)
    )

    async def main() -> None:
        connection = await AsyncBidiConnection.open(tampered, _settings(listener))
        try:
            [event async for event in _events(connection)]
        finally:
            await connection.close()

    with pytest.raises(AccessDeniedError) as caught:
        asyncio.run(main())
    assert caught.value.code == "InvalidSignatureException"
    assert caught.value.http_status == 403


def test_a_send_after_a_403_raises_the_403_not_a_transport_error(listener: BidiListener) -> None:
    opened = _opened(listener)
    headers = tuple(
        (name, "AWS4-HMAC-SHA256 Credential=x" if name == "authorization" else value)
        for name, value in opened.request.headers
    )
    tampered = dataclasses.replace(
        opened, request=dataclasses.replace(opened.request, headers=headers)
    )

    async def main() -> None:
        connection = await AsyncBidiConnection.open(tampered, _settings(listener))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        try:
            while loop.time() < deadline:  # the writes fail once the 403 has ended it
                await connection.send(request_part("x"))
        finally:
            await connection.close()

    with pytest.raises(AccessDeniedError) as caught:
        asyncio.run(main())
    assert caught.value.http_status == 403
