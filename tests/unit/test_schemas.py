"""The checked-in JSON Schema and AsyncAPI must match the pydantic models (run `make schemas` after a change)."""

import pytest

from schemas.export import rendered

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("path,text", sorted(rendered().items()), ids=lambda v: getattr(v, "name", ""))
def test_exported_contract_matches_models(path, text):
    assert path.exists(), f"{path} missing: run `make schemas`"
    assert path.read_text() == text, f"{path.name} drifted from schemas/: run `make schemas` and commit"
