"""A local HTTP server that behaves like the tools deliver writes to (Zendesk, Intercom, Freshdesk, Slack Web
API, Slack incoming webhooks/response URLs, Standard Webhooks receivers), with scripted faults. It runs its own
event loop in a thread, so sync (e2e) and async tests use it alike.

Faults (`tool.faults`, consumed one per write request, in order):
  ("status", 429, {"Retry-After": "1"})  answer that status, apply nothing
  ("slow", seconds)                      apply the write, then answer after `seconds` (past a read timeout)
  ("drop",)                              apply the write, then close the connection without an answer
  ("big", n)                             apply the write, answer 200 with a body of n bytes
`tool.fail_until` (monotonic time): every write before it answers 429 / 500 alternately, applies nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from services.common.embedded import free_port


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeTool:
    port: int = field(default_factory=free_port)
    faults: list[tuple[Any, ...]] = field(default_factory=list)
    fail_until: float = 0.0
    requests: list[Received] = field(default_factory=list)
    comments: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # ticket/conversation -> bodies
    posts: list[Received] = field(default_factory=list)  # applied writes (webhooks, chat.postMessage, response_url)
    seen_webhook_ids: set[str] = field(default_factory=set)
    _n_fail: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeTool":
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(5)
        return self

    def stop(self) -> None:
        if self._loop.is_closed():
            return

        async def close() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:  # open keep-alive connections
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # -- what the tool holds -------------------------------------------------------------------------------

    def all_comments(self) -> list[str]:
        return [c for bodies in self.comments.values() for c in bodies]

    def count_marker(self, marker: str) -> int:
        return sum(marker in c for c in self.all_comments()) + sum(marker.encode() in p.body for p in self.posts)

    # -- HTTP ----------------------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    k, v = h.decode().split(":", 1)
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                req = Received(method, path, headers, body)
                self.requests.append(req)
                if not await self._answer(req, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _answer(self, req: Received, writer: asyncio.StreamWriter) -> bool:
        if req.method == "GET":
            self._send(writer, 200, self._read(req.path))
            return True
        if time.monotonic() < self.fail_until:
            self._n_fail += 1
            status = 429 if self._n_fail % 2 else 500
            self._send(writer, status, {"error": "try later"}, {"Retry-After": "0"} if status == 429 else {})
            return True
        fault = self.faults.pop(0) if self.faults else None
        if fault and fault[0] == "status":
            self._send(writer, fault[1], {"error": "fault"}, fault[2] if len(fault) > 2 else {})
            return True
        answer = self._apply(req)
        if fault and fault[0] == "drop":
            return False
        if fault and fault[0] == "slow":
            await asyncio.sleep(fault[1])
        if fault and fault[0] == "big":
            answer = {"pad": "x" * fault[1]}
        self._send(writer, 200, answer)
        return True

    def _apply(self, req: Received) -> Any:
        data = req.json() if req.body else {}
        if m := re.fullmatch(r"/api/v2/tickets/(\w+)\.json", req.path):  # zendesk
            self.comments[m.group(1)].append(data["ticket"]["comment"]["body"])
            return {"ticket": {"id": int(m.group(1))}}
        if m := re.fullmatch(r"/conversations/(\w+)/reply", req.path):  # intercom
            self.comments[m.group(1)].append(data["body"])
            return {"type": "conversation", "id": m.group(1)}
        if m := re.fullmatch(r"/api/v2/tickets/(\w+)/notes", req.path):  # freshdesk
            self.comments[m.group(1)].append(data["body"])
            return {"id": len(self.comments[m.group(1)]), "body": data["body"]}
        if m := re.fullmatch(r"/rest/api/2/issue/([\w-]+)/comment", req.path):  # jira
            self.comments[m.group(1)].append(data["body"])
            return {"id": str(len(self.comments[m.group(1)])), "body": data["body"]}
        if m := re.fullmatch(r"/repos/[\w.-]+/[\w.-]+/issues/(\d+)/comments", req.path):  # github
            self.comments[m.group(1)].append(data["body"])
            return {"id": len(self.comments[m.group(1)]), "body": data["body"]}
        webhook_id = req.headers.get("webhook-id")
        if webhook_id:  # standard webhooks receiver: dedup on webhook-id
            if webhook_id in self.seen_webhook_ids:
                return {"duplicate": True}
            self.seen_webhook_ids.add(webhook_id)
        self.posts.append(req)
        if req.path.endswith("/api/chat.postMessage"):
            return {"ok": True, "channel": data.get("channel"), "ts": "1772444400.999999"}
        return {"ok": True}

    def _read(self, path: str) -> Any:
        path = path.split("?")[0]
        if m := re.fullmatch(r"/api/v2/tickets/(\w+)/comments\.json", path):
            return {"comments": [{"body": b} for b in reversed(self.comments[m.group(1)])], "next_page": None}
        if m := re.fullmatch(r"/conversations/(\w+)", path):
            parts = [{"type": "conversation_part", "body": b} for b in self.comments[m.group(1)]]
            return {"type": "conversation", "id": m.group(1),
                    "conversation_parts": {"conversation_parts": parts, "total_count": len(parts)}}
        if m := re.fullmatch(r"/api/v2/tickets/(\w+)/conversations", path):
            return [{"body": b, "private": True} for b in self.comments[m.group(1)]]
        if m := re.fullmatch(r"/rest/api/2/issue/([\w-]+)/comment", path):
            bodies = list(reversed(self.comments[m.group(1)]))
            return {"startAt": 0, "maxResults": 100, "total": len(bodies), "comments": [{"body": b} for b in bodies]}
        if m := re.fullmatch(r"/repos/[\w.-]+/[\w.-]+/issues/(\d+)/comments", path):
            return [{"body": b} for b in self.comments[m.group(1)]]
        return {"error": "not found"}

    @staticmethod
    def _send(writer: asyncio.StreamWriter, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        head = [f"HTTP/1.1 {status} X", "Content-Type: application/json", f"Content-Length: {len(data)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
