"""Minimal HTTP/1.1 for the local endpoint: read one request, write one response.

Written by hand instead of using ``http.server`` so that every response goes out in as
few ``send`` calls as possible (headers and body together; one call per stream chunk) and
faults can cut a response at any byte.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import unquote

from .._headers import Headers
from ._reader import LineTooLong, SocketReader

_MAX_REQUEST_LINE = 16 * 1024
_MAX_HEADER_LINE = 16 * 1024
_MAX_HEAD = 64 * 1024  # request line and header fields together
_MAX_HEADERS = 100
_MAX_CHUNK_SIZE_DIGITS = 16
_SMALL_BODY = 256 * 1024  # below this, head and body are joined into one buffer


class BadRequest(Exception):
    """The client sent something that is not a valid HTTP/1.1 request.

    ``status`` is the answer (400, or 413, 414, 431, 501); the connection is closed after
    it, since what follows in the stream cannot be trusted.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class PayloadTooLarge(BadRequest):
    """The body is over the service's limit: answered without reading it."""

    def __init__(self, limit: int) -> None:
        # SageMaker's front end: "An error occurred (413) ...: HTTP content length
        # exceeded N bytes." (no error type, so botocore's code is the status).
        super().__init__(f"HTTP content length exceeded {limit} bytes.", 413)
        self.limit = limit


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One parsed HTTP request."""

    method: str
    path: str
    segments: tuple[str, ...]
    headers: Headers
    body: bytes
    keep_alive: bool


def _readline(reader: SocketReader, limit: int, status: int) -> bytes:
    try:
        return reader.readline(limit)
    except LineTooLong:
        raise BadRequest("line too long", status) from None


def _read_chunked(reader: SocketReader, max_body: int) -> bytes:
    body = bytearray()  # not a list of parts: 2-byte chunks would cost ~40 bytes per byte
    total = 0
    while True:
        line = _readline(reader, _MAX_HEADER_LINE, 400)
        if not line:
            raise ConnectionAbortedError("the client closed the connection mid-request")
        digits = line.split(b";", 1)[0].strip()
        if not _is_hex(digits):
            raise BadRequest("invalid chunk size")
        size = int(digits, 16)
        if size == 0:
            break
        total += size
        if total > max_body:
            raise PayloadTooLarge(max_body)
        body += reader.read_exact(size)
        if _readline(reader, _MAX_HEADER_LINE, 400) not in (b"\r\n", b"\n"):
            raise BadRequest("chunk not followed by CRLF")
    trailer = 0
    while (line := _readline(reader, _MAX_HEADER_LINE, 431)) not in (b"\r\n", b"\n"):
        if not line:
            raise ConnectionAbortedError("the client closed the connection mid-request")
        trailer += len(line)  # trailer fields, ignored
        if trailer > _MAX_HEAD:
            raise BadRequest("trailer fields too large", 431)
    return bytes(body)


def _is_hex(digits: bytes) -> bool:
    return 0 < len(digits) <= _MAX_CHUNK_SIZE_DIGITS and all(
        byte in b"0123456789abcdefABCDEF" for byte in digits
    )


def _content_length(headers: Headers, max_body: int) -> int:
    value = headers.get("Content-Length")
    if value is None:
        return 0
    value = value.strip()
    if not value.isascii() or not value.isdigit():  # no sign, no "1_0", no "5, 5"
        raise BadRequest("invalid Content-Length")
    length = int(value) if len(value) <= 20 else max_body + 1
    if length > max_body:
        raise PayloadTooLarge(max_body)
    return length


def _read_head(reader: SocketReader) -> tuple[str, str, str, Headers] | None:
    line = _readline(reader, _MAX_REQUEST_LINE, 414)
    while line in (b"\r\n", b"\n"):  # tolerate stray CRLFs between requests (RFC 9112 2.2)
        line = _readline(reader, _MAX_REQUEST_LINE, 414)
    if not line:
        return None
    words = line.decode("latin-1").split()
    if len(words) != 3 or not words[2].startswith("HTTP/1.") or not words[0].isalpha():
        raise BadRequest("malformed request line")
    method, target, version = words
    fields: list[tuple[str, str]] = []
    size = len(line)
    while True:
        raw = _readline(reader, _MAX_HEADER_LINE, 431)
        if raw in (b"\r\n", b"\n"):
            break
        if not raw:
            raise ConnectionAbortedError("the client closed the connection mid-request")
        size += len(raw)
        if len(fields) >= _MAX_HEADERS or size > _MAX_HEAD:
            raise BadRequest("request header fields too large", 431)
        if _has_bare_cr_or_nul(raw):  # RFC 9112 2.2; echoed, a CR could split a response header
            raise BadRequest("malformed header line")
        text = raw.decode("latin-1")
        name, sep, value = text.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest("malformed header line")
        fields.append((name, value.strip()))
    return method, target, version, Headers(fields)


def _has_bare_cr_or_nul(line: bytes) -> bool:
    content = line[:-2] if line.endswith(b"\r\n") else line[:-1]
    return b"\r" in content or b"\0" in content


def read_request(
    reader: SocketReader,
    sock: socket.socket,
    *,
    max_body: int,
    timeout: float | None,
) -> HttpRequest | None:
    """Read one request; ``None`` when the client closed the connection between requests.

    The head and body must arrive within ``timeout`` seconds together (``ReadTimeout``);
    a body over ``max_body`` bytes raises ``PayloadTooLarge`` before it is read.
    """
    reader.deadline = None if timeout is None else time.monotonic() + timeout
    head = _read_head(reader)
    if head is None:
        return None
    method, target, version, headers = head
    connection = headers.get("Connection", "").lower()
    keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    coding = headers.get("Transfer-Encoding")
    if coding is not None:
        if coding.strip().lower() != "chunked":
            raise BadRequest(f"unsupported Transfer-Encoding {coding[:40]!r}", 501)
        if "Content-Length" in headers:
            raise BadRequest("both Transfer-Encoding and Content-Length")
    length = _content_length(headers, max_body)
    if headers.get("Expect", "").lower() == "100-continue":
        sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if coding is not None:
        body = _read_chunked(reader, max_body)
    else:
        body = reader.read_exact(length) if length else b""
    path = _origin_path(target)
    segments = tuple(unquote(segment) for segment in path.split("/")[1:])
    return HttpRequest(method, path, segments, headers, body, keep_alive)


def _origin_path(target: str) -> str:
    """The path of a request target, in origin form (``/a/b?q``) or absolute form.

    Absolute form (``http://host:port/a/b?q``, RFC 9112 3.2.2) is what httpx sends when
    aiobotocore passes the full URL as the target. The path is kept as sent, not normalised.
    """
    scheme, sep, rest = target.partition("://")
    if sep and scheme.lower() in ("http", "https"):
        target = "/" + rest.partition("/")[2]
    return target.split("?", 1)[0]


def reason(status: int) -> str:
    """The reason phrase for a status line."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def http_date() -> str:
    """The current time in the HTTP ``Date`` format."""
    return formatdate(usegmt=True)


_LINGER_RESET = struct.pack("ii", 1, 0)


class ResponseWriter:
    """Writes one response on a connection; headers are held back until the first body bytes."""

    __slots__ = ("_head", "_sock", "before_end", "keep_alive")

    def __init__(self, sock: socket.socket, *, keep_alive: bool) -> None:
        self._sock = sock
        self._head = b""
        self.keep_alive = keep_alive
        """Whether the connection may serve another request after this response."""
        self.before_end: Callable[[], None] | None = None
        """Called once, just before the last bytes of the response are sent."""

    def _ending(self) -> None:
        if self.before_end is not None:
            hook, self.before_end = self.before_end, None
            hook()

    def _head_bytes(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} {reason(status)}"]
        lines.extend(f"{name}: {value}" for name, value in headers)
        if not self.keep_alive:
            lines.append("Connection: close")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("latin-1")

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send a complete response with a ``Content-Length``, in one send when possible."""
        self._ending()
        headers = [*headers, ("Content-Length", str(len(body)))]
        _send_all(self._sock, [self._head_bytes(status, headers), body])

    def send_partial(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send the head announcing all of ``body`` but only its first half; see ``send_rest``."""
        headers = [*headers, ("Content-Length", str(len(body)))]
        _send_all(self._sock, [self._head_bytes(status, headers), body[: len(body) // 2]])

    def send_short(
        self, status: int, headers: list[tuple[str, str]], sent: bytes, declared: int
    ) -> None:
        """Send the head announcing ``declared`` body bytes, then only ``sent``."""
        self._ending()
        headers = [*headers, ("Content-Length", str(declared))]
        _send_all(self._sock, [self._head_bytes(status, headers), sent])

    def send_rest(self, body: bytes) -> None:
        """Send the second half of a body started with ``send_partial``."""
        self._ending()
        _send_all(self._sock, [body[len(body) // 2 :]])

    def start_chunked(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Prepare a ``Transfer-Encoding: chunked`` response; its head goes with the first chunk."""
        headers = [*headers, ("Transfer-Encoding", "chunked")]
        self._head = self._head_bytes(status, headers)

    def flush_head(self) -> None:
        """Send the held-back head now (before a stall or a reset)."""
        if self._head:
            head, self._head = self._head, b""
            self._sock.sendall(head)

    def chunk(self, data: bytes) -> None:
        """Send ``data`` as one HTTP chunk, at once (with the held-back head, if any)."""
        if data:
            head, self._head = self._head, b""
            _send_all(self._sock, [head, b"%x\r\n" % len(data), data, b"\r\n"])

    def end_chunked(self, data: bytes = b"") -> None:
        """Send ``data`` as a last chunk, if any, and the terminating zero-length chunk at once."""
        self._ending()
        head, self._head = self._head, b""
        last = b"%x\r\n%s\r\n" % (len(data), data) if data else b""
        _send_all(self._sock, [head, last, b"0\r\n\r\n"])


def _send_all(sock: socket.socket, parts: list[bytes]) -> None:
    """Send ``parts`` back to back: joined when small, else scatter-gather without copying."""
    if sum(map(len, parts)) <= _SMALL_BODY or not hasattr(sock, "sendmsg"):
        sock.sendall(b"".join(parts))
        return
    views = [memoryview(part) for part in parts if part]
    while views:
        sent = sock.sendmsg(views)
        while views and sent >= len(views[0]):
            sent -= len(views.pop(0))
        if views and sent:
            views[0] = views[0][sent:]


def arm_reset(sock: socket.socket) -> None:
    """Make the next ``close()`` of ``sock`` send a TCP RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)


class ResetConnection(Exception):
    """Raised inside a request to end the connection with a TCP RST."""


class CloseConnection(Exception):
    """Raised inside a request to close the connection at once (FIN, no further bytes)."""
