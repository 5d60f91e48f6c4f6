"""kb calibrate / areas calibrate: statistical bounds, the trade table, labelled feedback, small-set advice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from services.cli.main import app

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "config"
LABELLED = ROOT / "examples" / "labelled"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _bm25(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_ENCODER", "bm25")  # the contract, not the model's figures
    monkeypatch.setenv("COLUMNS", "160")


@pytest.fixture()
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(EXAMPLE, target)
    return target


def test_kb_calibrate_with_the_example_labelled_set(config_dir: Path) -> None:
    args = ["kb", "calibrate", "--labelled", str(LABELLED / "kb.jsonl"), "--precision", "0.9", "--config", str(config_dir)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "bounds at 95% confidence" in out and "lower >= 0.900" in out and "upper <= 0.100" in out
    assert "the trade: the chosen threshold and two neighbours" in out and " * " in out
    assert "labelled feedback (not questions): 40 lines" in out
    note = yaml.safe_load((config_dir / "calibration.yaml").read_text())["notes"]["kb"]
    assert note["confidence"] == 0.95 and note["labelled"] == 156
    assert note["false_upper"] is not None and note["false_upper"] <= 0.1  # 65 null lines: the bound exists and holds
    assert note["feasible"] == (note["precision_lower"] is not None and note["precision_lower"] >= 0.9)


def test_small_set_is_called_too_small_and_answers_nothing(config_dir: Path, tmp_path: Path) -> None:
    rows = [{"text": "How do I reset my password?", "article": "password-reset"},
            {"text": "Where can I download my invoices?", "article": "invoice-download"},
            {"text": "The export is broken again", "article": None, "intent": "bug"},
            {"text": "What is the weather in Paris tomorrow?", "article": None}]
    labelled = tmp_path / "kb.jsonl"
    labelled.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(app, ["kb", "calibrate", "--labelled", str(labelled), "--precision", "0.9",
                                 "--config", str(config_dir)])
    assert result.exit_code == 0, result.output
    assert "labelled set too small: only 2 null lines" in result.output and "label at least 29" in result.output
    assert "nothing will be answered automatically" in result.output
    stored = yaml.safe_load((config_dir / "calibration.yaml").read_text())
    assert stored["notes"]["kb"]["feasible"] is False
    # a looser confidence asks for fewer lines
    result = runner.invoke(app, ["kb", "calibrate", "--labelled", str(labelled), "--precision", "0.9",
                                 "--confidence", "0.6", "--config", str(config_dir)])
    assert "bounds at 60% confidence" in result.stdout and "label at least 9" in result.output


def test_areas_calibrate_prints_bounds_and_neighbours(config_dir: Path) -> None:
    result = runner.invoke(app, ["areas", "calibrate", "--labelled", str(LABELLED / "areas.jsonl"),
                                 "--precision", "0.9", "--confidence", "0.9", "--config", str(config_dir)])
    assert result.exit_code == 0, result.output
    assert "area calibration" in result.stdout and "bounds at 90% confidence" in result.stdout
    assert "false assigned (35 null)" in result.stdout and "holds" in result.stdout
