"""`switchboard demo` against a running instance starts its DEMO fake tools, sends the samples, and shows what
the tools received from deliver (the loop closed), in bounded time; with no deliveries it says so plainly."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from services.common.embedded import EmbeddedNats, free_port
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.e2e.conftest import SB, Running, start_switchboard

pytestmark = pytest.mark.e2e
ENV = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}


def demo(sb: Running, *args: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    out = subprocess.run([SB, "demo", "--url", sb.url, "--nats", sb.nats_url, *args],
                         capture_output=True, text=True, timeout=120, cwd=ROOT, env=ENV)
    assert out.returncode == 0, out.stderr
    assert "DEMO fake tools" in out.stdout and "answer: sso-setup" in out.stdout  # the samples went through
    assert f"{sb.url}/feedback/n." in out.stdout.replace("\n", "")  # the loop, by hand
    return out


def test_demo_shows_what_each_fake_tool_received(nats_server: EmbeddedNats, tmp_path: Path) -> None:
    """The example config with its reply URLs moved to a free port (8099 may be taken on a shared machine)."""
    port = free_port()
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    sources = config / "sources.yaml"
    sources.write_text(sources.read_text().replace("127.0.0.1:8099", f"127.0.0.1:{port}"))
    sb = start_switchboard(nats_server.url, tmp_path, config)
    try:
        out = demo(sb, "--config", str(config), "--fake-port", str(port), "--deliveries-wait", "30").stdout
    finally:
        sb.process.terminate()
        sb.process.wait(timeout=15)
    assert "what each (fake) tool received" in out and "nothing yet" not in out
    # the native script's two questions are answered with signed answer.created callbacks
    assert len(re.findall(r"│ callback\s*│ POST /", out)) == 2 and "webhook-signature" in out
    assert "This article should answer your question" in out


def test_demo_without_deliveries_says_so_and_never_hangs(switchboard: Running) -> None:
    out = demo(switchboard, "--fake-port", str(free_port()), "--deliveries-wait", "3").stdout
    assert "nothing yet — is deliver running?" in out
