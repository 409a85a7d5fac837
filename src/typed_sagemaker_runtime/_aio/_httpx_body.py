"""A stream body from aiobotocore's httpx backend, read the way the stream reads aiohttp's.

With ``AioConfig(http_session_cls=HttpxSession)`` aiobotocore hands event streams an
``httpx.Response`` (or one of httpx2, the fork it prefers) opened with ``stream=True``,
where its default backend hands an ``aiohttp.ClientResponse``. :class:`HttpxBody`
presents what :class:`AsyncResponseStream` uses of the latter: ``content.readchunk()``,
``close()`` and ``release()``. httpx is never imported: the response is used through its
own methods, so the library works without httpx installed.

httpx closes asynchronously (``aclose``) where the stream closes synchronously (also from
garbage collection, outside any running loop): :meth:`HttpxBody.close` shuts the socket
down at once, so the server sees the client leave, and schedules ``aclose`` on the
response's event loop, which hands the pool its slot back.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from typing_extensions import Self

__all__ = ["HttpxBody", "aclose_body", "aio_body"]


class _HttpxResponse(Protocol):
    """The part of ``httpx.Response`` (and httpx2's) a stream uses."""

    @property
    def is_closed(self) -> bool:
        """Whether ``aclose`` has started (httpx then owns the connection's fate)."""
        ...

    @property
    def extensions(self) -> Mapping[str, Any]:
        """httpcore's response extensions (``network_stream``)."""
        ...

    def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive; ``aclose`` runs once they are all read."""
        ...

    async def aclose(self) -> None:
        """Close the response: the connection goes back to the pool if the body was read."""
        ...


def aio_body(raw: Any) -> HttpxBody | Any:
    """What :class:`AsyncResponseStream` reads: httpx's response wrapped, aiohttp's as it is.

    Typed ``HttpxBody | Any`` so the type checkers hold ``HttpxBody`` to the stream's
    ``_AioResponse`` protocol where the stream is built.
    """
    if callable(getattr(raw, "aiter_raw", None)) and callable(getattr(raw, "aclose", None)):
        return HttpxBody(raw)
    return raw


async def aclose_body(body: Any) -> None:
    """Close an aiobotocore response body (``response["Body"]``), whichever the backend.

    aiohttp's closes at once. On the httpx backend ``close`` is a coroutine (aiobotocore
    3) or httpx's synchronous close, which refuses an async response (aiobotocore 2):
    httpx's ``aclose``, there in both, is awaited instead.
    """
    aclose = getattr(body, "aclose", None)
    closed = aclose() if callable(aclose) else body.close()
    if inspect.isawaitable(closed):
        await closed


# Close tasks in flight: the event loop keeps only weak references to its tasks.
_CLOSING: set[asyncio.Task[None]] = set()


class HttpxBody:
    """An ``httpx.Response`` body with the shape of aiohttp's ``ClientResponse``."""

    __slots__ = ("_chunks", "_closed", "_done", "_error", "_loop", "_response")

    def __init__(self, response: _HttpxResponse) -> None:
        self._response = response
        self._chunks = response.aiter_raw()
        self._loop = asyncio.get_running_loop()
        self._done = False  # read to its end: httpx handed the connection back to its pool
        self._closed = False
        self._error: BaseException | None = None

    @property
    def content(self) -> Self:
        """The body (``readchunk`` is on this object, as on aiohttp's ``StreamReader``)."""
        return self

    async def readchunk(self) -> tuple[bytes, bool]:
        """The next bytes httpx received, and ``True``; ``(b"", False)`` at the end."""
        if self._error is not None:
            raise self._error
        if self._done or self._closed:
            return b"", False
        try:
            data = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._done = True
            return b"", False
        except asyncio.CancelledError:
            # httpx closed the connection: a later read must fail, not end quietly.
            self._error = ConnectionAbortedError("a cancelled read closed the connection")
            raise
        except BaseException as exc:
            self._error = exc  # the iterator is finished: never report a quiet end after it
            raise
        return data, True

    def release(self) -> None:
        """Read to its end, httpx has pooled the connection already; otherwise close it."""
        if not self._done:
            self.close()

    def close(self) -> None:
        """Close the connection now: shut its socket down, and ``aclose`` on the loop."""
        if self._closed or self._done:
            return
        self._closed = True
        if not self._response.is_closed:
            _shutdown(self._response)
        loop = self._loop
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to free
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._spawn_aclose)

    def _spawn_aclose(self) -> None:
        task = self._loop.create_task(self._aclose())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)

    async def _aclose(self) -> None:
        chunks: Any = self._chunks
        # Nothing to report a failure to: the stream was closed already, and its socket too.
        with contextlib.suppress(Exception):
            if not chunks.ag_running:
                await chunks.aclose()
            await self._response.aclose()


def _shutdown(response: _HttpxResponse) -> None:
    """Shut the response's socket down, found through httpcore's ``network_stream`` extension.

    httpx only closes in a coroutine; a stream dropped outside a running loop (garbage
    collection) would otherwise keep its socket open, and the server streaming, until
    the loop runs again. HTTP/1.1 responses carry the extension; without it, nothing.
    """
    stream: Any = response.extensions.get("network_stream")
    sock: Any = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
