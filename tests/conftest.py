"""Fixtures shared by the integration and end-to-end tiers: a real nats-server on a free port with a
temporary store (the same embedded server `switchboard up` starts), and a NATS connection to it."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator, Iterator

import nats
import pytest
from nats.aio.client import Client

from services.common.embedded import EmbeddedNats
from tests.fake_tool import FakeTool

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "examples" / "config"
SHARED = ROOT.parent / "shared"


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats").start()
    yield server
    server.stop()


@pytest.fixture
def tool() -> Iterator[FakeTool]:
    """A local HTTP server that behaves like a tool's API (tests/fake_tool.py), for outbound calls."""
    server = FakeTool().start()
    yield server
    server.stop()


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    yield client
    await client.close()


def demo_env() -> dict[str, str]:
    """The demo secrets of examples/demo.env (the example config's sources)."""
    env: dict[str, str] = {}
    path = ROOT / "examples" / "demo.env"
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip().strip('"').strip("'")
    return env
