"""kill -9 recovery, compact (the full sizes run in `make chaos`, bench/chaos.py).

Every webhook answered 202 ends in exactly one final place (a team queue, answers, drop record, account
record or dead letter), counted by item id across all of them, after:
- SIGKILL of the enrich worker and of the route worker (separate processes) while they hold unacked messages;
- SIGKILL of `switchboard up` as a whole, mid-stream;
- SIGKILL of nats-server (restarted on the same port and store) while webhooks arrive; 503 meanwhile.
Senders retry every non-2xx (and connection errors) with the same delivery id, as real senders do.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import chaos_scenarios as scenarios

pytestmark = pytest.mark.e2e


def check(result) -> None:  # type: ignore[no-untyped-def]
    print(result.row())
    assert result.acknowledged == result.sent, result.row()  # everything was eventually accepted
    assert result.lost == 0 and result.duplicated == 0, result.row()
    assert result.landed == result.acknowledged


@pytest.fixture(autouse=True)
def _stop_leftovers():  # type: ignore[no-untyped-def]
    yield
    scenarios.cleanup()  # a failed scenario's processes and servers


def test_enrich_and_route_workers_killed_mid_stream(tmp_path: Path) -> None:
    result = asyncio.run(scenarios.worker_kills(tmp_path, n=300, rounds=1))
    check(result)
    assert "unacked at each kill: [0" not in result.notes and ", 0]" not in result.notes, result.notes


def test_switchboard_up_killed_mid_stream(tmp_path: Path) -> None:
    check(asyncio.run(scenarios.up_kill(tmp_path, n=250, kills=1)))


def test_nats_server_killed_and_restarted(tmp_path: Path) -> None:
    result = asyncio.run(scenarios.broker_kill(tmp_path, n=400, kills=1, down_s=6.0))
    check(result)
    assert "x 503" in result.notes and not result.notes.startswith("0 x 503"), result.notes  # 503 while down
