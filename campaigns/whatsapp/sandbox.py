"""A local stand-in for the WhatsApp Cloud API, for the demo, the tests and the benchmarks.

It speaks ``POST /{version}/{phone_number_id}/messages`` over HTTP/1.1 keep-alive and checks
requests as Meta does, in this order: bearer token (401, code 190), path and phone-number ID
(400, code 100), body shape (codes 100, 131008, 131009, 132012; with templates configured also
132001 and 132000), the ``all`` script steps, the per-phone-number-ID throughput cap (400,
code 130429 above it; a sliding one-second window), the steps scripted for the recipient, the
random faults; whatever passes is accepted, recorded and answered with Meta's success body.
Latency (fixed + random jitter) is added before every ``/messages`` answer.

Control endpoints (JSON, no authentication: bind to localhost):
``GET /_sandbox/health``, ``GET /_sandbox/stats``, ``GET /_sandbox/accepted?to=+62…``
(``&limit=N``; without ``to``, the most recent messages), ``GET /_sandbox/accepted-counts``
(per recipient, how many times accepted — the ground truth for "nothing sent twice"),
``GET /_sandbox/script``, ``POST /_sandbox/script`` (replace the script; body: a script),
``POST /_sandbox/reset`` (forget accepted messages and counters, restore the start-up script),
``POST /_sandbox/inbound`` (body ``{"from": "+62…", "text": "STOP"}``: that user writes to the
business number, delivered as a signed ``messages`` webhook; needs a webhook URL).

Webhooks (with ``webhook_url``, the command's ``--webhook-url``): every accepted message gets
signed ``sent``, ``delivered`` and ``read`` status webhooks after ``webhook_delay_ms`` (1×, 2×,
3×), POSTed from a background thread; see ``sandbox_webhooks``.

Script format (a JSON object, every key optional)::

    {
      "all": "190",                                    # every request: the 190 switch
      "numbers": {
        "+6281100000001": "131026",                    # always 131026
        "+6281100000002": [{"kind": "error", "code": 130429, "times": 2}],  # twice, then OK
        "+6281100000003": "500",                       # HTTP 500 with Meta's envelope
        "+6281100000004": {"kind": "timeout", "seconds": 30},
        "+6281100000005": "drop",                      # close the connection, no answer
        "+6281100000006": [{"kind": "ok", "times": 1}, "131050"]
      },
      "random": {"rate": 0.2, "faults": ["500", "503", "timeout", "drop", "130429", "131000"]},
      "templates": {"event_reminder": {"languages": ["id"], "parameter_count": 2}}
    }

A step is a token or an object. Tokens: an error code (``"131026"``), an HTTP 5xx
(``"500"``/``"503"`` answer with Meta's envelope, codes 1/2; ``"502"``/``"504"`` with an HTML
gateway page), ``"timeout"``, ``"drop"`` or ``"ok"``. Objects have a ``kind``: ``error``
(``code``, optional ``http_status`` — default Meta's for the code — and ``details``), ``http``
(``http_status``, ``body``: ``envelope`` | ``html`` | ``empty``), ``timeout`` (hold the
connection ``seconds``, default the sandbox's ``timeout_seconds``, then close it without an
answer), ``drop`` (close at once without an answer), ``fail_by_webhook`` (accept the message,
then report it ``failed`` by webhook with ``code``, default 131049, and optional ``details``;
also a token) or ``ok``; ``timeout`` and ``drop`` take ``"accept": true`` to record the message
as accepted first (the in-doubt case). Any step may
have ``times``; a list of steps is followed in order, and once it is used up the number is
answered normally. Only the last step of a list may omit ``times``. ``random`` picks one of
its faults for that share of requests not already scripted; ``templates``, when given, is the
list of approved templates.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from campaigns.whatsapp.sandbox_meta import error_envelope
from campaigns.whatsapp.sandbox_script import Script, ScriptError, parse_script
from campaigns.whatsapp.sandbox_state import (
    DEFAULT_ACCEPTED_LIMIT,
    DEFAULT_MAX_RECORDS,
    DEFAULT_TIMEOUT_SECONDS,
    AcceptedMessage,
    Reply,
    SandboxConfig,
    SandboxState,
    SlidingWindowLimiter,
    json_bytes,
)

__all__ = [
    "DEFAULT_MAX_RECORDS",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT_SECONDS",
    "AcceptedMessage",
    "Reply",
    "SandboxConfig",
    "SandboxServer",
    "SandboxState",
    "SlidingWindowLimiter",
    "load_script",
    "start_sandbox",
]

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8025
MAX_BODY_BYTES = 1024 * 1024
# An idle keep-alive connection is closed after this long.
_IDLE_CONNECTION_SECONDS = 120


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "blastadmin-sandbox"
    sys_version = ""
    timeout = _IDLE_CONNECTION_SECONDS
    server: SandboxServer

    def setup(self) -> None:
        super().setup()
        # Answers go out in one write; without TCP_NODELAY small writes wait for delayed ACKs.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        try:
            body = self._read_body()
            if body is None:
                return
            parts = urlsplit(self.path)
            if parts.path.startswith("/_sandbox/"):
                self._control(method, parts.path, parts.query, body)
            elif method == "POST":
                self._messages(parts.path, body)
            else:
                self._send_reply(self.server.state.reject_unsupported(method=method))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            # A bug here must look like Meta's own 500, never hang the client.
            logger.exception("sandbox failed on %s %s", method, self.path)
            self._send(500, json_bytes(error_envelope(1)), close=True)

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length > MAX_BODY_BYTES or length < 0:
            self._send(
                413, json_bytes({"error": "invalid or too large Content-Length"}), close=True
            )
            return None
        return self.rfile.read(length) if length else b""

    def _messages(self, path: str, body: bytes) -> None:
        state = self.server.state
        delay = state.latency_seconds()
        if delay and self.server.stopping.wait(delay):
            self.close_connection = True
            return
        reply = state.handle_message(
            path=path, authorization=self.headers.get("Authorization"), body=body
        )
        if reply.action == "hang":
            self._hold(reply.hang_seconds)
            self.close_connection = True
        elif reply.action == "drop":
            self.close_connection = True
        else:
            self._send_reply(reply)

    def _control(self, method: str, path: str, query: str, body: bytes) -> None:
        state = self.server.state
        params = _query_params(query)
        route = (method, path.rstrip("/"))
        if route == ("GET", "/_sandbox/health"):
            self._send_json(200, {"status": "ok"})
        elif route == ("GET", "/_sandbox/stats"):
            self._send_json(200, state.stats())
        elif route == ("GET", "/_sandbox/accepted"):
            limit = params.get("limit", str(DEFAULT_ACCEPTED_LIMIT))
            if not limit.isdigit():
                self._send_json(400, {"error": "limit must be a whole number"})
                return
            messages = state.accepted(to=params.get("to"), limit=int(limit))
            self._send_json(200, {"count": len(messages), "messages": messages})
        elif route == ("GET", "/_sandbox/accepted-counts"):
            self._send_json(200, state.accepted_counts())
        elif route == ("POST", "/_sandbox/inbound"):
            self._inbound(body)
        elif route == ("POST", "/_sandbox/reset"):
            state.reset()
            self._send_json(200, {"status": "reset"})
        elif route == ("GET", "/_sandbox/script"):
            self._send_json(200, state.script_source())
        elif route == ("POST", "/_sandbox/script"):
            try:
                state.set_script(parse_script(json.loads(body or b"{}")))
            except (ValueError, ScriptError) as exc:
                self._send_json(400, {"error": str(exc)})
                return
            self._send_json(200, {"status": "ok"})
        else:
            self._send_json(404, {"error": f"no sandbox endpoint {method} {path}"})

    def _inbound(self, body: bytes) -> None:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = None
        sender = data.get("from") if isinstance(data, dict) else None
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(sender, str) or not isinstance(text, str) or not sender.strip("+"):
            self._send_json(400, {"error": 'body must be {"from": "+62…", "text": "…"}'})
        elif not self.server.state.send_inbound(sender=sender, text=text):
            self._send_json(409, {"error": "the sandbox has no webhook URL (--webhook-url)"})
        else:
            self._send_json(200, {"status": "scheduled"})

    def _hold(self, seconds: float) -> None:
        """Keep the connection open without answering until the time is up or the client goes."""
        deadline = time.monotonic() + seconds
        while not self.server.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.1))
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return  # the client gave up and closed the connection
            except (OSError, ValueError):
                return
            if readable:
                self.server.stopping.wait(min(remaining, 0.1))

    def _send_reply(self, reply: Reply) -> None:
        self._send(reply.status, reply.body, content_type=reply.content_type)

    def _send_json(self, status: int, data: object) -> None:
        self._send(status, json_bytes(data))

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        close: bool = False,
    ) -> None:
        if close:
            self.close_connection = True
        reason = self.responses.get(status, ("",))[0]
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Date: {self.date_time_string()}\r\n"
        )
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write(head.encode("latin-1") + b"\r\n" + body)


def _query_params(query: str) -> dict[str, str]:
    """Query parameters, keeping a literal '+' (``?to=+62…``) instead of reading a space."""
    params: dict[str, str] = {}
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            params[unquote(key)] = unquote(value)
    return params


class SandboxServer(ThreadingHTTPServer):
    """The HTTP server; ``start_sandbox`` runs one in a thread, the command in the foreground."""

    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, *, host: str, port: int, state: SandboxState) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), _Handler)
        self.state = state
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._serving = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def serve_forever(self, poll_interval: float = 0.1) -> None:
        self._serving.set()
        super().serve_forever(poll_interval)

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self.serve_forever, name="whatsapp-sandbox")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release held connections and close every socket."""
        self.stopping.set()
        if self._serving.is_set():
            self.shutdown()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.state.close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("sandbox connection error from %s", client_address, exc_info=True)


def start_sandbox(
    *, host: str = "127.0.0.1", port: int = 0, config: SandboxConfig | None = None
) -> SandboxServer:
    """Start a sandbox in a background thread (port 0: any free port); ``.stop()`` it after."""
    state = SandboxState(config if config is not None else SandboxConfig.from_settings())
    return SandboxServer(host=host, port=port, state=state).start()


def load_script(path: str) -> Script:
    """Read a script file; raise :class:`ScriptError` with the reason."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScriptError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ScriptError(f"{path} is not valid JSON: {exc}") from exc
    return parse_script(data)
