"""`switchboard demo` against a running instance starts its DEMO fake tools, sends the samples, and ends in
bounded time with what the tools received, or says plainly that nothing was delivered yet."""

from __future__ import annotations

import subprocess

import pytest

from services.common.embedded import free_port
from tests.conftest import ROOT
from tests.e2e.conftest import SB, Running

pytestmark = pytest.mark.e2e


def test_demo_shows_what_the_fake_tools_received_and_never_hangs(switchboard: Running) -> None:
    out = subprocess.run(
        [SB, "demo", "--url", switchboard.url, "--nats", switchboard.nats_url, "--fake-port", str(free_port()),
         "--deliveries-wait", "3"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert "DEMO fake tools" in out.stdout and "switchboard demo" in out.stdout
    assert "answer: sso-setup" in out.stdout  # the samples went through
    assert ("what each (fake) tool received" in out.stdout) or ("nothing yet — is deliver running?" in out.stdout)
    assert f"{switchboard.url}/feedback/n." in out.stdout.replace("\n", "")  # the loop, by hand
