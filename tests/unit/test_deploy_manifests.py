"""deploy/compose.yaml and deploy/k8s/switchboard.yaml parse (Docker and kubectl cannot run here) and agree with
deploy/nats/auth.conf and the CLI: every service runs a real `switchboard` command as its own NATS user, with the
inbox prefix that user may subscribe to; the HTTP services have probes on endpoints they serve; every NATS
password variable and every setting a new service needs is documented in deploy/README.md."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from services.cli.main import app
from tests.conftest import ROOT

pytestmark = pytest.mark.unit

DEPLOY = ROOT / "deploy"
SERVICES = {"ingest", "enrich", "route", "deliver", "web"}


def auth_users() -> set[str]:
    return set(re.findall(r"^\s*user:\s*([\w-]+)\s*$", (DEPLOY / "nats" / "auth.conf").read_text(), re.M))


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def k8s() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "switchboard.yaml").read_text()) if d]


def commands() -> set[str]:
    return {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}


def nats_identity(env: dict[str, str]) -> tuple[str, str]:
    return env["SWITCHBOARD_NATS_USER"], env["SWITCHBOARD_NATS_INBOX_PREFIX"]


def test_auth_conf_has_one_user_per_service_plus_admin_and_reader() -> None:
    assert auth_users() == SERVICES | {"admin", "pm-reader"}


def test_compose_runs_every_service_as_its_own_nats_user() -> None:
    doc = compose()
    services = doc["services"]
    assert SERVICES <= set(services)
    assert "auth.conf" in (DEPLOY / "nats" / services["nats"]["command"][-1].split("/")[-1]).read_text()
    for user in auth_users():  # the server knows every password; each service gets only its own
        assert f"SB_NATS_{user.upper().replace('-', '_')}_PASSWORD" in services["nats"]["environment"]
    for name in SERVICES:
        svc = services[name]
        env = svc["environment"]
        assert svc["command"][0] == name and name in commands()
        assert nats_identity(env) == (name, f"_INBOX_{name}")
        assert env["SWITCHBOARD_NATS_PASSWORD"] == f"${{SB_NATS_{name.upper()}_PASSWORD}}"
        assert svc["depends_on"] == ["nats"]
    assert services["web"]["ports"] == ["8080:8080"] and "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(services["ingest"]["healthcheck"]["test"])
    assert services["web"]["environment"]["SWITCHBOARD_SESSION_SECRET"].startswith("${SWITCHBOARD_SESSION_SECRET:?")


def test_k8s_deploys_every_service_as_its_own_nats_user_with_probes() -> None:
    docs = k8s()
    deployments = {d["metadata"]["name"].removeprefix("switchboard-"): d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == SERVICES
    for name, d in deployments.items():
        spec = d["spec"]
        assert spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
        (container,) = spec["template"]["spec"]["containers"]
        assert container["args"][0] == name and name in commands()
        env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
        assert nats_identity(env) == (name, f"_INBOX_{name}")
        assert env["SWITCHBOARD_NATS_PASSWORD"] == {"secretKeyRef": {"name": "switchboard-nats", "key": name}}
    web = deployments["web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["args"][1:] == ["--host", "0.0.0.0", "--port", "8080"]
    assert web["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
    deliver = deployments["deliver"]["spec"]["template"]["spec"]["containers"][0]
    assert deliver["livenessProbe"]["httpGet"]["port"] == int(
        next(e["value"] for e in deliver["env"] if e["name"] == "SWITCHBOARD_DELIVER_METRICS_PORT"))
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    assert services["switchboard-web"]["spec"]["ports"][0]["targetPort"] == 8080


def test_deploy_readme_documents_users_and_settings() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for user in auth_users():
        assert f"`{user}`" in readme
        assert f"SB_NATS_{user.upper().replace('-', '_')}_PASSWORD" in readme
    for var in ("SWITCHBOARD_OUTBOUND_ALLOW", "SWITCHBOARD_FEEDBACK_SECRET", "SWITCHBOARD_SESSION_SECRET",
                "SWITCHBOARD_PUBLIC_URL", "SWITCHBOARD_DELIVER_METRICS_PORT"):
        assert var in readme, var
