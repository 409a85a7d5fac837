"""A non-AWS error page (a proxy's, a web server's) becomes a one-line ``ServiceError``.

A real HTTP server on loopback answers HTML; the unmodified boto3 and aiobotocore stacks
parse it. The message keeps status, reason and a short excerpt; ``.response`` keeps
what botocore parsed, the page included.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import typed_sagemaker_runtime as smr
from _twins import Clients

NOT_FOUND_PAGE = b"""<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>404 Not Found</title>
</head><body>
<h1>Not Found</h1>
<p>The requested URL was not found on this server.</p>
<hr>
<address>Apache/2.4.41 (Ubuntu) Server at 127.0.0.1 Port 80</address>
</body></html>
"""

# No <title>: the excerpt is the text, tags stripped and whitespace collapsed.
BAD_GATEWAY_PAGE = (
    b"""<!DOCTYPE html>
<html>
  <body>
    <h1>Bad   Gateway</h1>
    <p>The proxy server received an invalid
       response from an upstream server &amp; gave up. """
    + b"Lorem ipsum " * 40
    + b"""</p>
  </body>
</html>
"""
)

# botocore's own "generic error" case (5xx, body starting with <html>): it keeps no body.
# nginx's and most load balancers' 502/503/504 pages start this way.
GENERIC_PAGE = b"<html><body><b>Http/1.1 Service Unavailable</b></body></html>"

PAGES = {
    "not-found": (404, NOT_FOUND_PAGE),
    "bad-gateway": (502, BAD_GATEWAY_PAGE),
    "generic": (503, GENERIC_PAGE),
    "json-502": (502, b'{"message": "Internal server error"}'),  # an API gateway's
    "titled-reason": (404, b"<!DOCTYPE html><title>Not Found</title><p>Nothing here.</p>"),
    "generic-huge": (504, b"<html><title>Gateway Timeout</title>" + b"x" * 1_000_000 + b"</html>"),
}


class _HtmlErrors(BaseHTTPRequestHandler):
    """Answers every POST with the HTML page named by the endpoint in the path."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        name = self.path.split("/")[2]
        status, page = PAGES[name]
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(name="html_server")
def _html_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlErrors)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _call(clients: Clients, url: str, method: str, endpoint: str) -> smr.ServiceError:
    client = clients.build(
        region_name="us-east-1", endpoint_url=url, retry=smr.RetryPolicy.disabled()
    )
    with pytest.raises(smr.ServiceError) as caught:
        getattr(client, method)(endpoint, b"{}")
    return caught.value


@pytest.mark.parametrize("method", ["invoke", "stream"])
def test_html_404_is_one_line_with_status_reason_and_title(
    html_server: str, clients: Clients, method: str
) -> None:
    error = _call(clients, html_server, method, "not-found")
    assert error.http_status == 404
    assert error.code == "404"
    text = str(error)
    assert "\n" not in text
    assert "<" not in text
    # The <title> says no more than status and reason, so it is not repeated.
    assert text == (
        f"{error.operation}: HTTP 404 Not Found; not an AWS error response "
        "(a proxy, or the wrong endpoint_url?)"
    )
    assert "<h1>Not Found</h1>" in str(error.response["Error"]["Message"])


@pytest.mark.parametrize("method", ["invoke", "stream"])
def test_html_502_without_title_shows_the_start_of_its_text(
    html_server: str, clients: Clients, method: str
) -> None:
    error = _call(clients, html_server, method, "bad-gateway")
    assert error.http_status == 502
    text = str(error)
    assert "\n" not in text
    assert "<" not in text
    assert "HTTP 502 Bad Gateway" in text
    assert "Bad Gateway The proxy server received an invalid response from an upstream" in text
    assert "server & gave up" in text
    assert len(text) < 250
    assert "Lorem ipsum " * 40 in str(error.response["Error"]["Message"])


@pytest.mark.parametrize("method", ["invoke", "stream"])
def test_a_generic_5xx_page_keeps_its_class_and_one_line_with_an_excerpt(
    html_server: str, clients: Clients, method: str
) -> None:
    """botocore drops this body (a 5xx starting with ``<html>``); the facade keeps it.

    botocore's own fields stay as it parsed them (the status as the code, the reason
    phrase as the message); the page is kept beside them, as ``Error.Page``.
    """
    error = _call(clients, html_server, method, "generic")
    assert type(error) is smr.ServiceUnavailableError
    assert error.retryable
    assert str(error) == (
        f"{error.operation}: HTTP 503 Service Unavailable; not an AWS error response "
        "(a proxy, or the wrong endpoint_url?): Http/1.1 Service Unavailable"
    )
    assert error.response["Error"]["Code"] == "503"
    assert error.response["Error"]["Message"] == "Service Unavailable"
    assert error.response["Error"]["Page"] == GENERIC_PAGE.decode()


@pytest.mark.parametrize("page", ["bad-gateway", "json-502"])
def test_a_body_botocore_keeps_is_not_kept_twice(
    html_server: str, clients: Clients, page: str
) -> None:
    """Only the page botocore drops (a 5xx starting with ``<html>``) is kept beside it."""
    error = _call(clients, html_server, "invoke", page)
    assert "Page" not in error.response["Error"]
    if page == "json-502":
        assert str(error).endswith(": Internal server error")


def test_a_huge_dropped_page_is_kept_in_part(html_server: str, clients: Clients) -> None:
    """``.response`` keeps a megabyte page's first 64 KiB, title included.

    (The whole body stays reachable through botocore's frames in ``__cause__``'s traceback,
    as for any botocore error, until the exception is dropped.)
    """
    error = _call(clients, html_server, "invoke", "generic-huge")
    assert str(error).endswith("not an AWS error response (a proxy, or the wrong endpoint_url?)")
    page = error.response["Error"]["Page"]
    assert len(page) == 64 * 1024
    assert page.startswith("<html><title>Gateway Timeout</title>")


def test_a_page_titled_with_the_reason_alone_is_still_named_a_page(
    html_server: str, clients: Clients
) -> None:
    """Only botocore's stand-in (the bare reason phrase, no body) reads as a plain failure."""
    error = _call(clients, html_server, "invoke", "titled-reason")
    assert str(error) == (
        "InvokeEndpoint: HTTP 404 Not Found; not an AWS error response "
        "(a proxy, or the wrong endpoint_url?)"
    )
