"""Fixtures shared by the integration and end-to-end tiers: a real nats-server on a free port with a
temporary store (the same embedded server `switchboard up` starts), and a NATS connection to it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import AsyncIterator, Iterator

import nats
import pytest
from nats.aio.client import Client

from services.cli.demo import read_env_file
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
    """The demo secrets of examples/demo.env (the example config's sources), plus PYTHONPATH = this checkout: the
    `switchboard` script of a shared virtualenv (an editable install of another checkout, e.g. when the tests run
    from a git worktree) then runs the code under test."""
    return {**read_env_file(ROOT / "examples" / "demo.env"), **checkout_path()}


def checkout_path() -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
