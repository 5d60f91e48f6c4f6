"""DEMO ONLY: local fakes of the tools Switchboard answers into, so `switchboard demo` can show the loop closing
without a Zendesk account or a Slack workspace. Never a stand-in for the real APIs in production.

One small HTTP server on 127.0.0.1 (default port 8099), one path prefix per tool, matching the `reply:` blocks
of examples/config/sources.yaml and the Slack webhooks of examples/demo.env:

    /zendesk   PUT  /api/v2/tickets/{id}.json  (GET .../comments.json lists what was posted)
    /intercom  POST /conversations/{id}/reply
    /freshdesk POST /api/v2/tickets/{id}/notes
    /slack     POST /api/chat.postMessage, and any other path as a slash command's response_url
    /hooks     POST /<team>              Slack incoming webhooks (teams.yaml `notify`)
    /callback  POST                      Standard Webhooks `answer.created` callbacks

Every request is recorded (method, path, a short summary of the body, the auth scheme but never its value)
and answered the way the real API answers a success, so the deliver stage treats it as posted.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOOLS = ("zendesk", "intercom", "freshdesk", "slack", "hooks", "callback")
MAX_BODY = 1024 * 1024
# where each tool's JSON body carries the text a person will read (first match wins)
TEXT_PATHS = (("ticket", "comment", "body"), ("body",), ("text",), ("data", "text"), ("type",))


@dataclass(frozen=True)
class Received:
    tool: str
    method: str
    path: str  # after the tool's prefix
    auth: str  # the Authorization scheme ("Basic", "Bearer") or "" - never the credential
    signed: bool  # a Standard Webhooks signature header was present
    summary: str
    body: Any


def summary_of(body: Any) -> str:
    for path in TEXT_PATHS:
        node = body
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, str) and node.strip():
            return " ".join(node.split())[:160]
    return "" if body in (None, "") else json.dumps(body)[:160]


def success(tool: str, method: str, path: str, received: list[Received]) -> tuple[int, Any]:
    """What the real API answers for a success (enough of it for a client to read ids back)."""
    if tool == "zendesk" and method == "GET" and path.endswith("/comments.json"):
        ticket = path.split("/")[-2]
        comments = [
            {"id": i + 1, "body": summary_of(r.body), "public": False}
            for i, r in enumerate(received)
            if r.tool == "zendesk" and r.method == "PUT" and f"/tickets/{ticket}.json" in r.path
        ]
        return 200, {"comments": comments, "next_page": None, "count": len(comments)}
    if tool == "zendesk":
        return 200, {"ticket": {"id": path.rsplit("/", 1)[-1].removesuffix(".json")}, "audit": {"id": len(received)}}
    if tool == "intercom":
        return 200, {"type": "conversation", "id": path.split("/")[2] if path.count("/") >= 2 else ""}
    if tool == "freshdesk":
        return (200, []) if method == "GET" else (201, {"id": len(received), "private": True})
    if tool == "slack":
        return 200, {"ok": True, "ts": f"1772444400.{len(received):06d}"}
    if tool == "hooks":
        return 200, "ok"
    return 200, {"received": True}


class DemoFakeTools:
    """Start with `start()`, read `received`, stop with `stop()`. Thread-safe; binds 127.0.0.1 only."""

    def __init__(self, port: int = 8099, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def start(self) -> "DemoFakeTools":
        fakes = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: the demo prints its own table
                pass

            def _serve(self) -> None:
                tool, _, rest = self.path.lstrip("/").partition("/")
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(min(length, MAX_BODY)) if length else b""
                if tool not in TOOLS:
                    self._send(404, {"error": f"no demo fake for /{tool}"})
                    return
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                auth = (self.headers.get("authorization") or "").split(" ", 1)[0]
                entry = Received(tool, self.command, "/" + rest, auth, bool(self.headers.get("webhook-signature")),
                                 summary_of(body), body)
                with fakes._lock:
                    status, reply = success(tool, self.command, entry.path, fakes._received)
                    if self.command != "GET":
                        fakes._received.append(entry)
                self._send(status, reply)

            def _send(self, status: int, reply: Any) -> None:
                data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("content-type", "text/plain" if isinstance(reply, str) else "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _serve

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="demo-fake-tools", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
