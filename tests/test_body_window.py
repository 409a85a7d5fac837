"""A file body passed at an offset is sent from that offset, whoever rewinds it.

botocore rewinds bodies with ``seek(0)``, and with awscrt installed (the ``bidi`` extra)
its CRT SigV4 signer leaves the body at 0 after hashing it: a file passed at offset 7
was sent whole. ``BodyWindow`` makes offset 7 the start for both.
"""

from __future__ import annotations

import io

import pytest

from typed_sagemaker_runtime._core._body_window import BodyWindow, windowed
from typed_sagemaker_runtime.testing import LocalRuntime


def test_positions_are_relative_to_where_the_body_was_given() -> None:
    raw = io.BytesIO(b"prefix-payload")
    raw.seek(7)
    body = windowed(raw)
    assert isinstance(body, BodyWindow)
    assert body.tell() == 0
    assert body.read() == b"payload"
    assert body.seek(0) == 0
    assert body.read(3) == b"pay"
    assert body.seek(0, io.SEEK_END) == len(b"payload")
    assert body.seek(-4, io.SEEK_CUR) == 3
    assert body.read() == b"load"
    body.close()
    assert not raw.closed  # the caller's file stays theirs


def test_a_body_at_its_start_or_not_seekable_is_left_as_it_is() -> None:
    at_start = io.BytesIO(b"abc")
    assert windowed(at_start) is at_start

    class Pipe(io.RawIOBase):
        def readable(self) -> bool:
            return True

    pipe = Pipe()
    assert windowed(pipe) is pipe


@pytest.mark.parametrize("retried", [False, True])
def test_a_file_given_at_an_offset_is_sent_from_there(retried: bool) -> None:
    from typed_sagemaker_runtime.testing import ErrorResponse

    with LocalRuntime() as local:
        faults = [ErrorResponse("ThrottlingException", times=1)] if retried else []
        local.add_endpoint("ep", faults=faults)
        body = io.BytesIO(b"prefix-payload")
        body.seek(len(b"prefix-"))
        with local.client() as smr:
            assert smr.invoke("ep", body)["body"] == b"payload"
        assert {request.body for request in local.requests} == {b"payload"}
