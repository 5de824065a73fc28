"""The HTTP shell of the tests' stand-ins (TorchServe, the X/Tumblr platform, Mastodon, Bluesky), in one copy so
that they all behave alike on the wire: a `LoopbackServer` subclass serves a ThreadingHTTPServer on a free
127.0.0.1 port from a thread while its `with` block lasts (HTTP/1.1 keep-alive, as the real services; an idle
connection ends its thread after 5 s). For each request it asks the subclass's `_answer(Request)` for
`(reply, delay_s)` and sends the reply `delay_s` later: a reply is anything with status, body (a str is sent as
is, anything else as JSON), content_type and headers, such as `Reply`; a callable instead is called only after the
delay (a request handled late); None closes the connection without an answer. Stopping the server wakes a delayed
answer and drops it, and a client that gave up waiting for one is expected, not an error."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, TypeVar


class Request(NamedTuple):
    method: str
    target: str  # the path with its query
    headers: dict[str, str]  # names in lower case
    body: bytes
    client_port: int  # the same for two requests: the client kept its connection alive


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # a str is sent as is (with content_type), anything else as JSON
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


_Server = TypeVar("_Server", bound="LoopbackServer")  # typing.Self is Python 3.11+; this project runs on 3.10


class LoopbackServer:
    methods = ("GET", "POST")  # any other gets http.server's 501

    def __init__(self, thread_name: str) -> None:
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.standin = self  # type: ignore[attr-defined]
        # A short poll interval: shutdown() waits up to one interval, and every test stops a server.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=thread_name, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _answer(self, request: Request) -> tuple[Any, float]:
        raise NotImplementedError

    def __enter__(self: _Server) -> _Server:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()  # wakes a delayed answer that is still waiting
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up waiting (a Slow answer past its timeout) is expected here, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services
    timeout = 5  # an idle kept-alive connection ends its thread

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        standin: LoopbackServer = self.server.standin  # type: ignore[attr-defined]
        if self.command not in standin.methods:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply, delay_s = standin._answer(Request(self.command, self.path, headers, body, self.client_address[1]))
        if reply is None or (delay_s and standin._stopping.wait(delay_s)):
            self.close_connection = True
            return
        if callable(reply):
            reply = reply()  # most likely for a client that gave up: _Server.handle_error expects that
        text = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        payload = text.encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass
