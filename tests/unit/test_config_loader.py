"""The config loader: the example loads; every kind of error names its file and line; empty files are valid."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from services.config.errors import ConfigError, ConfigProblem
from services.config.models import SourceKindName
from services.config.loader import config_version, load_config, save_thresholds
from services.config.models import Thresholds

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def problems(root: Path) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_config(root)
    return info.value.problems


def where(root: Path) -> list[tuple[str, int | None]]:
    return [(Path(p.file).relative_to(root).as_posix(), p.line) for p in problems(root)]


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    kinds = {s.name: s.kind for s in config.sources}
    assert {"native": "standard", "zendesk": "zendesk", "intercom": "intercom"}.items() <= kinds.items()
    assert set(kinds.values()) == set(SourceKindName.__args__)  # one example source per kind
    assert len(config.areas.areas) == 5
    assert len({a.team for a in config.areas.areas}) >= 3
    assert all(6 <= len(a.examples) <= 10 for a in config.areas.areas)
    assert len(config.articles) >= 10
    assert all(3 <= len(a.questions) <= 6 and a.area and a.body for a in config.articles)
    assert 10 <= len(config.accounts) <= 15
    assert any((a.arr or 0) >= 100000 for a in config.accounts)
    assert config.rules[-1].route is not None and config.rules[-1].route.team == "$area"
    assert len(config.version) == 12 and config.version == config_version(EXAMPLE)


def test_demo_env_has_a_standard_webhooks_secret() -> None:
    import base64

    env = dict(line.split("=", 1) for line in (EXAMPLE.parent / "demo.env").read_text().splitlines()
               if line and not line.startswith("#"))
    secret = env["SWITCHBOARD_NATIVE_SECRET"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    sources = load_config(EXAMPLE).sources
    assert {v for s in sources for v in s.secrets} <= set(env)


def test_empty_folder_and_empty_files_are_valid(tmp_path: Path) -> None:
    assert load_config(tmp_path).rules == []
    write(tmp_path, {"sources.yaml": "", "areas.yaml": "areas: []\n", "rules.yaml": "rules:\n",
                     "accounts.csv": "", "intents.yaml": "# nothing yet\n", "calibration.yaml": ""})
    (tmp_path / "kb").mkdir()
    config = load_config(tmp_path)
    assert (config.sources, config.rules, config.articles, config.accounts) == ([], [], [], [])
    assert config.thresholds == Thresholds()


def test_missing_folder(tmp_path: Path) -> None:
    assert [p.message for p in problems(tmp_path / "nope")] == ["config folder not found"]


def test_yaml_syntax_error_has_its_line(tmp_path: Path) -> None:
    write(tmp_path, {"areas.yaml": """
        areas:
          - id: billing
            team: monetization
            keywords: [invoice, refund
        """})
    [problem] = problems(tmp_path)
    assert problem.file.endswith("areas.yaml") and problem.line in (4, 5)
    assert "YAML syntax error" in problem.message


def test_validation_errors_map_to_lines(tmp_path: Path) -> None:
    write(tmp_path, {"sources.yaml": """
        sources:
          - name: zendesk
            kind: zendesk
          - name: hub
            kind: hubspott
            secrets: [HUB]
          - kind: standard
            secret: [X]
        """})
    found = {(p.line, p.message) for p in problems(tmp_path)}
    assert any(line == 5 and "sources[1].kind" in msg for line, msg in found)
    assert any(line == 7 and "missing required field 'name'" in msg for line, msg in found)
    assert any(line == 8 and "unknown field 'secret' (did you mean 'secrets'?)" in msg for line, msg in found)


def test_model_validator_error_points_at_the_rule(tmp_path: Path) -> None:
    write(tmp_path, {"rules.yaml": """
        rules:
          - name: ok
            route: {team: qa}
          - name: two-actions
            route: {team: qa}
            drop: {reason: spam}
        """})
    [problem] = problems(tmp_path)
    assert (problem.line, "exactly one of route, answer, drop" in problem.message) == (4, True)


def test_rule_condition_errors_have_their_lines_and_all_are_collected(tmp_path: Path) -> None:
    write(tmp_path, {"rules.yaml": """
        rules:
          - name: strategic
            when:
              account.arr: {gtee: 100000}
              title: {matches: "([unclosed"}
            route: {team: strategic pm}
          - name: strategic
            when: {intnet: bug}
            answer: {}
          - name: fine
            route: {team: $area}
        """})
    found = problems(tmp_path)
    assert [(p.line, p.message.split(":")[0]) for p in found] == [
        (4, "rule 'strategic'"), (5, "rule 'strategic'"), (6, "rule 'strategic'"),
        (7, "rule name 'strategic' is used twice (first on line 2)"), (8, "rule 'strategic'"),
    ]
    assert "unknown operator 'gtee'" in found[0].message
    assert "bad regular expression" in found[1].message
    assert "team 'strategic pm'" in found[2].message
    assert "unknown field 'intnet'" in found[4].message
    assert str(found[0]).startswith(str(tmp_path / "rules.yaml") + ":4: ")


def test_kb_article_errors(tmp_path: Path) -> None:
    write(tmp_path, {
        "areas.yaml": "areas:\n  - {id: billing, team: monetization}\n",
        "kb/refunds.md": "---\ntitle: Refunds\narea: billng\nquestions: [Can I get a refund]\n---\nBody.\n",
        "kb/broken.md": "---\ntitle: Broken\nquestions: [a, b\n---\nBody.\n",
        "kb/extra.md": "---\ntitle: Extra\ntags: [x]\n---\nBody.\n",
        "kb/untitled.md": "No front matter and no heading.\n",
    })
    assert where(tmp_path) == [("kb/broken.md", 4), ("kb/extra.md", 3), ("kb/refunds.md", 3), ("kb/untitled.md", 1)]
    assert "did you mean 'billing'" in problems(tmp_path)[2].message


def test_kb_article_parsing(tmp_path: Path) -> None:
    write(tmp_path, {
        "kb/sso-setup.md": "---\ntitle: Set up SSO\nurl: https://help.example/sso\nquestions:\n  - How do I set up SSO?\n"
                           "---\n# Steps\n\n1. Open settings.\n",
        "kb/plain.md": "# Plain heading\n\nNo front matter.\n",
    })
    by_id = {a.id: a for a in load_config(tmp_path).articles}
    assert by_id["sso-setup"].title == "Set up SSO" and by_id["sso-setup"].url == "https://help.example/sso"
    assert by_id["sso-setup"].questions == ["How do I set up SSO?"]
    assert by_id["sso-setup"].body == "# Steps\n\n1. Open settings."
    assert by_id["plain"].title == "Plain heading"


def test_accounts_csv(tmp_path: Path) -> None:
    write(tmp_path, {"accounts.csv": """
        account_id,name,domain,arr,plan,owner,region
        acc_1,One,one.com,"120,000",enterprise,dana@x.com,EMEA

        acc_2,Two,two.com,,team,,
        """})
    one, two = load_config(tmp_path).accounts
    assert (one.arr, one.plan, one.attributes) == (120000.0, "enterprise", {"region": "EMEA"})
    assert (two.arr, two.owner, two.attributes) == (None, None, {})


def test_accounts_csv_errors(tmp_path: Path) -> None:
    write(tmp_path, {"accounts.csv": "account_id,name,arr\nacc_1,One,lots\n,Nobody,1\nacc_2,Two,5\nacc_2,Again,6\n"})
    assert [(p.line, p.message) for p in problems(tmp_path)] == [
        (2, "arr 'lots' is not a number"), (3, "account_id is empty"), (5, "account_id 'acc_2' already on line 4"),
    ]
    write(tmp_path, {"accounts.csv": "id,name\n1,x\n"})
    assert [(p.line, "account_id" in p.message) for p in problems(tmp_path)] == [(1, True)]


def test_problems_from_every_file_are_collected(tmp_path: Path) -> None:
    write(tmp_path, {
        "sources.yaml": "sources:\n  - {name: 'bad name', kind: standard}\n",
        "areas.yaml": "areas:\n  - {id: unknown, team: x}\n",
        "calibration.yaml": "kb: high\n",
        "intents.yaml": "intents:\n  bug: not-a-list\n",
    })
    assert sorted(where(tmp_path)) == [("areas.yaml", 1), ("calibration.yaml", 1), ("intents.yaml", 2),
                                       ("sources.yaml", 2)]


def test_duplicate_yaml_keys_are_reported(tmp_path: Path) -> None:
    write(tmp_path, {"areas.yaml": "areas:\n  - id: billing\n    team: a\n    team: b\n"})
    assert [(p.line, p.message) for p in problems(tmp_path)] == [(4, "duplicate key 'team'")]


def test_str_renders_file_line_message() -> None:
    error = ConfigError([ConfigProblem("rules.yaml", 3, "bad"), ConfigProblem("kb/a.md", None, "worse")])
    assert str(error) == "rules.yaml:3: bad\nkb/a.md: worse"


def test_version_changes_with_content(tmp_path: Path) -> None:
    write(tmp_path, {"rules.yaml": "rules: []\n"})
    before = load_config(tmp_path).version
    write(tmp_path, {"rules.yaml": "rules:\n  - {name: all, route: {team: x}}\n"})
    after = load_config(tmp_path).version
    assert before != after and after == load_config(tmp_path).version


def test_save_thresholds_round_trips(tmp_path: Path) -> None:
    path = save_thresholds(tmp_path, Thresholds(kb=0.72, notes={"precision": 0.95}))
    assert path == tmp_path / "calibration.yaml"
    assert load_config(tmp_path).thresholds == Thresholds(kb=0.72, notes={"precision": 0.95})


def test_a_pasted_secret_is_rejected_without_echoing_it(tmp_path: Path) -> None:
    write(tmp_path, {"sources.yaml": "sources:\n  - name: native\n    kind: standard\n"
                                     "    secrets: [whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0]\n"})
    [problem] = problems(tmp_path)
    assert problem.line == 4 and "not an environment variable name" in problem.message
    assert "c2Vj" not in problem.message


def test_yml_files_are_not_silently_ignored(tmp_path: Path) -> None:
    write(tmp_path, {"rules.yml": "rules: []\n"})
    assert [(p.file.endswith("rules.yml"), "rename" in p.message) for p in problems(tmp_path)] == [(True, True)]


# --- switchboard check -------------------------------------------------------------------------------------

def run_check(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    import typer
    from typer.testing import CliRunner

    from services.cli.check import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # keep `check` a named sub-command
    return CliRunner().invoke(app, ["check", *args], env=env)


def test_check_command_ok_and_warns_about_missing_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SWITCHBOARD_NATIVE_SECRET", "ZENDESK_SECRET", "ZENDESK_SECRET_NEXT", "INTERCOM_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    result = run_check("--config", str(EXAMPLE), env={"ZENDESK_SECRET": "x"})
    assert result.exit_code == 0, result.output
    assert "strategic-accounts" in result.output and load_config(EXAMPLE).version in result.output
    assert "INTERCOM_CLIENT_SECRET is not set" in result.output
    assert "ZENDESK_SECRET is not set" not in result.output


def test_check_command_reports_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, {"rules.yaml": "rules:\n  - name: r\n    when: {intent: {equals: bug}}\n    route: {team: x}\n"})
    result = run_check(env={"SWITCHBOARD_CONFIG": str(tmp_path)})
    assert result.exit_code == 1
    assert f"{tmp_path / 'rules.yaml'}:3: rule 'r': intent: unknown operator 'equals'" in result.output
