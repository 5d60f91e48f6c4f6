"""`switchboard inbox TEAM` shows the web inbox's state: claimed items with their assignee, reassigned items
under their new team only, and `--state` filters like the API's `state=`."""

from __future__ import annotations

import json
import os
import subprocess
import time

import httpx
import pytest

from services.common.embedded import free_port
from tests.conftest import EXAMPLE_CONFIG, ROOT, demo_env
from tests.e2e.conftest import SB, Running
from tests.e2e.test_inbox_browser import OPS, landed, post_item

pytestmark = pytest.mark.e2e


def cli_rows(sb: Running, *args: str) -> dict[str, dict]:
    out = sb.cli("inbox", *args, "--json")
    assert out.returncode == 0, out.stderr
    return {row["id"]: row for row in map(json.loads, filter(None, out.stdout.splitlines()))}


def test_cli_inbox_agrees_with_the_web(switchboard: Running) -> None:
    sb = switchboard
    a = post_item(sb, "The Salesforce integration stopped syncing this morning. It is broken.")
    b = post_item(sb, "The Salesforce integration stopped syncing again. It is broken.")
    team = landed(sb, a)["state"]["team"]
    assert landed(sb, b)["state"]["team"] == team
    auth = {"Authorization": f"Bearer {OPS[1]}"}
    assert httpx.post(f"{sb.web_url}/api/items/{a}/claim", headers=auth).status_code == 200
    assert httpx.post(f"{sb.web_url}/api/items/{b}/reassign", headers=auth, json={"team": "platform"}).status_code == 200

    rows = cli_rows(sb, team)
    assert rows[a]["state"]["status"] == "claimed" and rows[a]["state"]["assignee"] == OPS[0]
    assert b not in rows  # reassigned away
    assert cli_rows(sb, "platform")[b]["state"] == httpx.get(f"{sb.web_url}/api/items/{b}", headers=auth).json()["state"]
    assert set(cli_rows(sb, team, "--state", "claimed")) == {a}
    assert httpx.post(f"{sb.web_url}/api/items/{a}/resolve", headers=auth, json={"note": "done"}).status_code == 200
    assert a not in cli_rows(sb, team)
    assert cli_rows(sb, team, "--state", "resolved")[a]["state"]["status"] == "resolved"
    table = sb.cli("inbox", team, "--state", "all")
    assert table.returncode == 0 and "resolved" in table.stdout
    assert sb.cli("inbox", team, "--state", "bogus").returncode == 2


def test_up_prints_the_inbox_url_and_a_demo_login(switchboard: Running) -> None:
    log = switchboard.log.read_text()
    assert f"PM inbox: {switchboard.web_url}/" in log
    assert "log in as ops@example.com with the token in $DEMO_OPS_TOKEN" in log
    assert switchboard.env["DEMO_OPS_TOKEN"] not in log  # the variable's name, never the token


def test_switchboard_web_alone(nats_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {**os.environ, **demo_env(), "SWITCHBOARD_LOG_JSON": "true"}
    proc = subprocess.Popen([SB, "web", "--nats", nats_server.url, "--port", str(port), "--config", str(EXAMPLE_CONFIG)],
                            stdout=open(tmp_path / "web.log", "wb"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert httpx.get(url + "/api/openapi.json").json()["openapi"].startswith("3.")
        assert httpx.get(url + "/api/teams", headers={"Authorization": f"Bearer {env['DEMO_PRIYA_TOKEN']}"}).json() == [
            {"id": "platform", "open": 0, "overdue": 0}, {"id": "mobile", "open": 0, "overdue": 0}]
    finally:
        proc.terminate()
        proc.wait(timeout=15)
