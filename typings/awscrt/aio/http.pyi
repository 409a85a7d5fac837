import asyncio
from collections.abc import AsyncIterator

from ..http import HttpClientConnectionBase, HttpRequest
from ..io import ClientBootstrap, SocketOptions, TlsConnectionOptions

class AIOHttp2ClientStream:
    async def get_response_status_code(self) -> int: ...
    async def get_response_headers(self) -> list[tuple[str, str]]: ...
    async def get_next_response_chunk(self) -> bytes: ...
    async def wait_for_completion(self) -> int: ...

class AIOHttp2ClientConnection(HttpClientConnectionBase):
    @classmethod
    async def new(
        cls,
        host_name: str,
        port: int,
        bootstrap: ClientBootstrap | None = None,
        socket_options: SocketOptions | None = None,
        tls_connection_options: TlsConnectionOptions | None = None,
    ) -> AIOHttp2ClientConnection: ...
    def request(
        self,
        request: HttpRequest,
        request_body_generator: AsyncIterator[bytes] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> AIOHttp2ClientStream: ...
    async def close(self) -> None: ...
