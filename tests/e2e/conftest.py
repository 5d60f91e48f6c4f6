"""A running Switchboard (`switchboard up` as a subprocess) on the fixture's nats-server and a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from bench.readiness import started_in, up_ready
from services.common.embedded import EmbeddedNats, free_port
from services.config.loader import load_config
from services.config.models import Config
from services.demo.signing import signed_request
from tests.conftest import EXAMPLE_CONFIG, ROOT, demo_env

SB = str(Path(sys.executable).parent / "switchboard")


@dataclass
class Running:
    url: str
    nats_url: str
    config: Config
    env: dict[str, str]
    process: subprocess.Popen  # type: ignore[type-arg]
    log: Path
    web_url: str = ""  # the PM inbox (`up` serves it on --web-port)

    def post(self, source: str, body: bytes, delivery_id: str | None = None, now: float | None = None) -> httpx.Response:
        cfg = self.config.source(source)
        assert cfg is not None
        secrets = [self.env[n] for n in cfg.secrets if n in self.env]
        tokens = [self.env[n] for n in cfg.tokens if n in self.env]
        headers, payload, path = signed_request(cfg, secrets, tokens, body, now or time.time(), delivery_id)
        return httpx.post(self.url + path, content=payload, headers=headers, timeout=10)

    def cli(self, *args: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
        return subprocess.run([SB, *args, "--nats", self.nats_url], capture_output=True, text=True, timeout=60, cwd=ROOT)


def start_switchboard(nats_url: str, tmp: Path, config_dir: Path = EXAMPLE_CONFIG) -> Running:
    port, web_port = free_port(), free_port()
    env = {**os.environ, **demo_env(), "SWITCHBOARD_LOG_JSON": "true"}
    log = tmp / "switchboard.log"
    process = subprocess.Popen(
        [SB, "up", "--config", str(config_dir), "--nats", nats_url, "--port", str(port), "--data", str(tmp / "data"),
         "--web-port", str(web_port)],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"switchboard up exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200 and up_ready(started_in(log)):
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError(f"switchboard up not ready: {log.read_text()[-3000:]}")
    web_url = f"http://127.0.0.1:{web_port}"
    while time.monotonic() < deadline:
        try:
            if httpx.get(web_url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    return Running(url, nats_url, load_config(config_dir), demo_env(), process, log, web_url)


@pytest.fixture
def switchboard(nats_server: EmbeddedNats, tmp_path: Path) -> Iterator[Running]:
    running = start_switchboard(nats_server.url, tmp_path)
    yield running
    running.process.terminate()
    try:
        running.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        running.process.kill()
