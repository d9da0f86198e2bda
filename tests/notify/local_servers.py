"""Real local servers for notifier tests: an HTTP server and an SMTP server that record what they get.

Imported by module name (``tests/notify`` is on ``sys.path``); ``conftest.py`` makes fixtures of them.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HTTPRecorder:
    """A server on 127.0.0.1 that records every POST and answers ``status``."""

    base_url: str
    requests: list[Request] = field(default_factory=list)
    status: int = 200

    def url(self, path: str = "/hook") -> str:
        return f"{self.base_url}{path}"

    def json_bodies(self) -> list[Any]:
        return [r.json() for r in self.requests]


@contextmanager
def serve_http() -> Iterator[HTTPRecorder]:
    """An HTTP server on 127.0.0.1, port 0, in a thread; stopped on exit."""
    recorder: HTTPRecorder | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert recorder is not None
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            recorder.requests.append(Request(self.path, dict(self.headers.items()), body))
            answer = b"ok" if recorder.status < 400 else b"the server is having a bad day"
            self.send_response(recorder.status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder = HTTPRecorder(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class SMTPRecorder:
    """An SMTP server on 127.0.0.1 that records every message it accepts."""

    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@contextmanager
def serve_smtp() -> Iterator[SMTPRecorder]:
    """An aiosmtpd server on 127.0.0.1, on a free port; stopped on exit."""
    from aiosmtpd.controller import Controller

    recorder = SMTPRecorder(host="127.0.0.1", port=free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            recorder.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            recorder.messages.append(message_from_bytes(envelope.original_content or envelope.content))
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname=recorder.host, port=recorder.port)
    controller.start()
    try:
        yield recorder
    finally:
        controller.stop()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
