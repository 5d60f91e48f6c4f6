"""The bundled example config + demo.env + samples work together: what `switchboard demo` sends is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli.demo import read_env_file
from services.config.loader import load_config

from . import SAMPLES, accept, signed

pytestmark = pytest.mark.unit

EXAMPLES = SAMPLES.parent
NOW = 1_772_443_900.0


CONFIG = load_config(EXAMPLES / "config")
ENV = read_env_file(EXAMPLES / "demo.env")


@pytest.mark.parametrize("source", CONFIG.sources, ids=lambda s: s.name)
def test_every_example_source_accepts_its_signed_sample(source):
    secrets = [ENV[n] for n in source.secrets]
    tokens = [ENV[n] for n in source.tokens]
    samples = sorted(Path(SAMPLES).glob(f"{source.kind}.*"))
    assert samples, f"no sample for kind {source.kind}"
    for sample in samples:
        request = signed(source, sample.read_bytes(), NOW, secrets, tokens, delivery_id=f"demo-{source.name}")
        drafts = accept(source, request, NOW, secrets, tokens)
        assert drafts
        assert len({d.delivery_id for d in drafts}) == len(drafts)
        assert any(d.category in ("feedback", "account") for d in drafts)
