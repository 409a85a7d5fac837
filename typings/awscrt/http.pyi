from collections.abc import Callable, Iterable
from concurrent.futures import Future
from enum import IntEnum
from typing import Any

from .io import ClientBootstrap, SocketOptions, TlsConnectionOptions

class HttpVersion(IntEnum):
    Unknown = 0
    Http1_0 = 1
    Http1_1 = 2
    Http2 = 3

class Http2SettingID(IntEnum):
    HEADER_TABLE_SIZE = 1
    ENABLE_PUSH = 2
    MAX_CONCURRENT_STREAMS = 3
    INITIAL_WINDOW_SIZE = 4
    MAX_FRAME_SIZE = 5
    MAX_HEADER_LIST_SIZE = 6

class Http2Setting:
    def __init__(self, id: Http2SettingID, value: int) -> None: ...

class HttpHeaders:
    def __init__(self, name_value_pairs: Iterable[tuple[str, str]] | None = None) -> None: ...

class HttpRequest:
    def __init__(
        self,
        method: str = "GET",
        path: str = "/",
        headers: HttpHeaders | None = None,
        body_stream: Any = None,
    ) -> None: ...

class HttpClientConnectionBase:
    @property
    def version(self) -> HttpVersion: ...
    @property
    def shutdown_future(self) -> Future[None]: ...
    def is_open(self) -> bool: ...

class Http2ClientStream:
    @property
    def completion_future(self) -> Future[int]: ...
    @property
    def remote_end_stream_future(self) -> Future[None]: ...
    @property
    def response_status_code(self) -> int | None: ...
    def activate(self) -> None: ...
    def write_data(self, data_stream: Any, end_stream: bool = False) -> Future[None]: ...
    def update_window(self, increment_size: int) -> None: ...

class Http2ClientConnection(HttpClientConnectionBase):
    @classmethod
    def new(
        cls,
        host_name: str,
        port: int,
        bootstrap: ClientBootstrap | None = None,
        socket_options: SocketOptions | None = None,
        tls_connection_options: TlsConnectionOptions | None = None,
        proxy_options: Any = None,
        initial_settings: list[Http2Setting] | None = None,
        on_remote_settings_changed: Any = None,
        manual_window_management: bool = False,
        initial_window_size: int | None = None,
    ) -> Future[Http2ClientConnection]: ...
    def request(
        self,
        request: HttpRequest,
        on_response: Callable[..., None] | None = None,
        on_body: Callable[..., None] | None = None,
        manual_write: bool = False,
    ) -> Http2ClientStream: ...
    def close(self) -> Future[None]: ...
    def update_window(self, increment_size: int) -> None: ...
