"""Generate the checked-in wire contract: JSON Schema of every message, and an AsyncAPI 3.0 document of
every channel. `python -m schemas.export` rewrites them; tests/unit/test_schemas.py fails when they drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.delivery import Delivery
from schemas.digest import DigestMessage, Lease
from schemas.inbox import ActivityEvent, ItemState
from schemas.item import SCHEMA_VERSION, DeadLetter, Item
from schemas.outbox import Feedback, Reply
from schemas.theme import Theme, ThemeReport
from services.common import names

HERE = Path(__file__).parent
JSONSCHEMA_DIR = HERE / "jsonschema"
ASYNCAPI_FILE = HERE / "asyncapi.json"

MODELS = {"item": Item, "dead_letter": DeadLetter, "reply": Reply, "feedback": Feedback,
          "activity": ActivityEvent, "item_state": ItemState}
MODELS["delivery"] = Delivery  # KV sb_deliveries values (the delivery ledger), not a channel
MODELS["digest"] = DigestMessage  # sb.outbox.digest.<team>.<slot>
MODELS["schedule_lease"] = Lease  # KV sb_schedule values (digest leases), not a channel
MODELS["theme"] = Theme  # KV sb_themes values t.<id> (contract 7), not a channel
MODELS["theme_report"] = ThemeReport  # one row of `switchboard themes --json`

CHANNELS = [
    # (channel id, address, stream, message, who publishes, description)
    ("events", f"{names.EVENTS_PREFIX}.{{source}}.{{id}}", names.EVENTS, "item", "ingest",
     "Verified, normalised items, one per event. Kept for the dedup horizon (72 h by default)."),
    ("enriched", f"{names.ENRICHED_PREFIX}.{{source}}.{{id}}", names.ENRICHED, "item", "enrich",
     "Items with account, area, intent and best KB article."),
    ("queue", f"{names.QUEUE_PREFIX}.{{team}}.{{id}}", names.QUEUES, "item", "route",
     "A PM team's queue. Subscribe to sb.queue.<team>.> with any NATS client."),
    ("answers", f"{names.ANSWERS_PREFIX}.{{source}}.{{id}}", names.ANSWERS, "item", "route",
     "Items answered from the knowledge base (`answer` set)."),
    ("dropped", f"{names.DROPPED_PREFIX}.{{source}}.{{id}}", names.DROPPED, "item", "route",
     "Items a drop rule removed, with the reason in `decision`."),
    ("records", f"{names.RECORDS_PREFIX}.{{source}}.{{id}}", names.RECORDS, "item", "route",
     "Account and usage events, applied to the account directory."),
    ("dlq", f"{names.DLQ_PREFIX}.{{stage}}.{{id}}", names.DLQ, "dead_letter", "ingest, enrich, route, deliver",
     "What a stage could not process, with the reason and the original payload. Replayable."),
    ("reply", f"{names.OUTBOX_PREFIX}.reply.{{id}}.{{seq}}", names.OUTBOX, "reply", "web (inbox resolve)",
     "A PM's resolution note for the asker; deliver posts it to the source tool."),
    ("feedback", f"{names.FEEDBACK_PREFIX}.{{id}}", names.FEEDBACK, "feedback", "ingest (Slack button, feedback link)",
     "The first 'did this help?' verdict on an answer; route re-decides 'not helpful' into the team queue."),
    ("activity", f"{names.ACTIVITY_PREFIX}.{{team}}.{{id}}", names.ACTIVITY, "activity", "web (inbox)",
     "Every inbox state change (claim, snooze, reassign, resolve, reopen): who, what, when, from -> to."),
    ("digest", f"{names.OUTBOX_PREFIX}.digest.{{team}}.{{slot}}", names.OUTBOX, "digest", "deliver (digest scheduler)",
     "A team's scheduled digest (teams.yaml digest:), one per due slot; deliver posts it to the team's Slack."),
]


def json_schemas() -> dict[str, dict[str, Any]]:
    return {name: model.model_json_schema(mode="serialization") for name, model in MODELS.items()}


def asyncapi() -> dict[str, Any]:
    schemas = json_schemas()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for cid, address, stream, message, publisher, description in CHANNELS:
        params = {p.strip("{}"): {"description": f"the {p.strip('{}')} token"} for p in address.split(".") if p.startswith("{")}
        channels[cid] = {
            "address": address,
            "description": f"{description} JetStream stream {stream}; published by {publisher}.",
            "parameters": params,
            "messages": {message: {"$ref": f"#/components/messages/{message}"}},
        }
        operations[f"publish_{cid}"] = {"action": "send", "channel": {"$ref": f"#/channels/{cid}"}}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Switchboard",
            "version": f"{SCHEMA_VERSION}.0.0",
            "description": "Webhook items on NATS JetStream: ingest → enrich → route → team queues, answers, DLQ.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {name: {"name": name, "payload": {"$ref": f"#/components/schemas/{name}"}} for name in MODELS},
            "schemas": schemas,
        },
    }


def rendered() -> dict[Path, str]:
    files = {JSONSCHEMA_DIR / f"{name}.json": json.dumps(s, indent=2, sort_keys=True) + "\n" for name, s in json_schemas().items()}
    files[ASYNCAPI_FILE] = json.dumps(asyncapi(), indent=2, sort_keys=True) + "\n"
    return files


def main() -> None:
    JSONSCHEMA_DIR.mkdir(exist_ok=True)
    for path, text in rendered().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
