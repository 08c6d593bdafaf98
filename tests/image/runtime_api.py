"""Lambda's Runtime API, as far as one function container uses it, on 127.0.0.1.

The image's real ENTRYPOINT (awslambdaric) polls it for events and posts each answer
back, as it does in Lambda. It hands out the given events in order, one at a time, and
records what came back and when. No package ships Lambda's own emulator.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BASE = "/2018-06-01/runtime"


@dataclass
class Invocation:
    """One event's round trip: handed out at `started`, answered at `finished`."""

    request_id: str
    event: dict
    started: float
    finished: float | None = None
    kind: str | None = None  # "response" or "error"
    body: dict | None = None

    @property
    def seconds(self) -> float:
        assert self.finished is not None, "not answered"
        return self.finished - self.started


@dataclass
class RuntimeAPI:
    """Serves `events` to one runtime client; `timeout_seconds` sets each deadline."""

    events: list[dict]
    function_arn: str
    timeout_seconds: int
    invocations: list[Invocation] = field(default_factory=list)
    first_poll: float | None = None
    init_error: dict | None = None

    def __post_init__(self) -> None:
        self._pending = list(self.events)
        self._by_id: dict[str, Invocation] = {}
        self._done = threading.Event()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait(self, timeout: float) -> bool:
        """True once every event is answered (or init failed) within `timeout` seconds."""
        return self._done.wait(timeout)

    def stop(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def _next(self) -> tuple[str, Invocation] | None:
        if self.first_poll is None:
            self.first_poll = time.monotonic()
        if not self._pending:
            return None
        invocation = Invocation(str(uuid.uuid4()), self._pending.pop(0), time.monotonic())
        self.invocations.append(invocation)
        self._by_id[invocation.request_id] = invocation
        return invocation.request_id, invocation

    def _answer(self, request_id: str, kind: str, body: dict) -> bool:
        invocation = self._by_id.get(request_id)
        if invocation is None or invocation.kind is not None:
            return False
        invocation.finished, invocation.kind, invocation.body = time.monotonic(), kind, body
        if not self._pending:
            self._done.set()
        return True

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:  # the test's output stays readable
                pass

            def reply(self, status: int, body: bytes = b"{}", headers: dict | None = None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{BASE}/invocation/next":
                    return self.reply(404)
                handed = api._next()
                if handed is None:
                    # Lambda would freeze the container here; hold the poll until the end.
                    api._closing.wait()
                    return self.reply(410)
                request_id, invocation = handed
                deadline = int(time.time() * 1000) + api.timeout_seconds * 1000
                self.reply(
                    200,
                    json.dumps(invocation.event).encode(),
                    {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-"
                        f"{uuid.uuid4().hex[:24]};Sampled=0",
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                parts = self.path.removeprefix(BASE + "/").split("/")
                if parts == ["init", "error"]:
                    api.init_error = body
                    api._done.set()
                elif (
                    len(parts) == 3
                    and parts[0] == "invocation"
                    and parts[2] in ("response", "error")
                    and api._answer(parts[1], parts[2], body)
                ):
                    pass
                else:
                    return self.reply(400, b'{"errorType":"InvalidRequestID"}')
                self.reply(202, b'{"status":"OK"}')

        return Handler
