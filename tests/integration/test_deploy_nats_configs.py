"""Every server config in deploy/nats/ is valid for the nats-server we ship (`nats-server -t`), and the one
compose runs (single-node-auth.conf) refuses to start without a user's password in its environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.test_nats_auth import USERS, nats_server_bin

pytestmark = pytest.mark.integration

CONFIGS = sorted((ROOT / "deploy" / "nats").glob("*.conf"))


def check(conf: Path, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for f in CONFIGS:  # includes are relative to the config's folder
        shutil.copy(f, tmp_path / f.name)
    return subprocess.run([nats_server_bin(), "-c", str(tmp_path / conf.name), "-t"], capture_output=True, text=True,
                          env=env, timeout=30)


def passwords() -> dict[str, str]:
    return {f"SB_NATS_{u.upper().replace('-', '_')}_PASSWORD": f"{u}-pw" for u in USERS}


@pytest.mark.parametrize("conf", CONFIGS, ids=[c.name for c in CONFIGS])
def test_the_config_is_valid(conf: Path, tmp_path: Path) -> None:
    result = check(conf, tmp_path, {**os.environ, **passwords()})
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_missing_password_stops_the_server(tmp_path: Path) -> None:
    env = {**os.environ, **passwords()}
    del env["SB_NATS_WEB_PASSWORD"]
    result = check(ROOT / "deploy" / "nats" / "single-node-auth.conf", tmp_path, env)
    assert result.returncode != 0 and "SB_NATS_WEB_PASSWORD" in result.stdout + result.stderr
