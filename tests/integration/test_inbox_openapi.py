"""Property-based test of the inbox API against its own OpenAPI document (schemathesis): for generated valid and
invalid requests, never a 5xx, every status code documented, every response body matching its schema."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from services.common.embedded import EmbeddedNats
from tests.inbox_support import InboxServer, bearer, queued_item

pytestmark = pytest.mark.integration

ITEMS = [queued_item(i, team=t) for i, t in enumerate(["strategic-pm", "platform", "insights", "unrouted"])]


@pytest.fixture(scope="module")
def inbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedNats(Path(tmp_path_factory.mktemp("nats")) / "nats").start()
    try:
        with InboxServer(server.url, ITEMS) as inbox:
            yield inbox.url
    finally:
        server.stop()


def _fix_ids(case) -> None:  # type: ignore[no-untyped-def]
    """Half the generated ids become real items, so the state transitions run too (not only 404s)."""
    ids = case.path_parameters or {}
    if "item_id" in ids and len(str(ids["item_id"])) % 2 == 0:
        ids["item_id"] = ITEMS[len(str(ids["item_id"])) % len(ITEMS)].id


# (pytest 9 and schemathesis' own pytest plugin disagree, so the cases are drawn with hypothesis directly.)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_api_never_fails_and_keeps_its_schema(inbox_url: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{inbox_url}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9

    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case) -> None:  # type: ignore[no-untyped-def]
            _fix_ids(case)
            # schema-valid data may still be refused by the item's state (409: already claimed) or the clock
            # (422: a snooze in the past): positive_data_acceptance expects 2xx for valid data, which is not
            # this API's contract; every other check runs (no 5xx, documented codes, bodies match schemas)
            # every call carries a valid token, which can undo a negative case's only defect (a missing
            # Authorization header; an unknown query parameter the HTTP client drops), so
            # negative_data_rejection cannot hold either; unknown parameters and bad bodies are 422 by their
            # own tests (tests/integration/test_inbox_api.py)
            case.call_and_validate(base_url=inbox_url, headers=bearer("OPS"),
                                   excluded_checks=[positive_data_acceptance, negative_data_rejection])

        run()
