"""A team's own consumer, in a few lines: mirror a team's Switchboard queue into an issue tracker and claim each
item in the PM inbox, so the web inbox shows it is being handled.

    pip install faststream==0.7.8 httpx   # plus this repository (for the typed Item of schemas/)
    NATS_URL=nats://127.0.0.1:4222 SB_TEAM=platform TRACKER_URL=https://tracker.example/api \\
    TRACKER_TOKEN=... INBOX_URL=http://127.0.0.1:8080 INBOX_TOKEN=... \\
    faststream run examples.consumers.tracker_mirror:app
    faststream docs gen examples.consumers.tracker_mirror:app     # AsyncAPI docs of this consumer

FastStream defaults that lose messages, and what this file does instead (docs/inbox.md):
- the stream belongs to Switchboard: `JStream(..., declare=False)`, or FastStream would re-declare SB_QUEUES
  with its own limits;
- acks are explicit (`AckPolicy.MANUAL`): ack only after the tracker has the issue; on any failure, NAK with a
  delay so JetStream redelivers (the default would ack, or terminate, a message whose handler failed);
- a durable pull consumer (one message per fetch): a restart resumes where it stopped, and several copies of
  this process share the work.
The tracker call carries `Idempotency-Key: <item id>`, so a redelivery after a crash does not open a second issue.
"""

from __future__ import annotations

import os

import httpx
from faststream import AckPolicy, FastStream
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub

from schemas.item import Item
from services.common import names

RETRY_DELAY = 5.0


def issue_for(item: Item) -> dict:  # type: ignore[type-arg]
    """What the tracker gets: pure, so it is easy to adapt to Jira's or Linear's fields."""
    account = item.account
    lines = [item.text or "", "", f"Switchboard item {item.id} from {item.source} ({item.kind})"]
    if account:
        lines.append(f"Account: {account.name or account.id}, ARR {account.arr or 0:,.0f}, owner {account.owner or '-'}")
    if item.decision:
        lines.append(f"Routed by {item.decision.rule or 'built-in'}: {item.decision.reason}")
    return {"title": (item.title or item.text or item.id)[:200], "body": "\n".join(lines),
            "labels": ["switchboard", f"priority:{(item.decision.priority if item.decision else None) or 'normal'}"],
            "external_id": item.id}


def create(nats_url: str, team: str, tracker_url: str, tracker_token: str, inbox_url: str,
           inbox_token: str) -> tuple[NatsBroker, FastStream]:
    broker = NatsBroker(nats_url)
    app = FastStream(broker)
    http = httpx.AsyncClient(timeout=10)

    @broker.subscriber(
        names.queue_filter(team),  # sb.queue.<team>.>
        stream=JStream(name=names.QUEUES, declare=False),  # SB_QUEUES belongs to Switchboard: never re-declare it
        durable=f"{team}-tracker-mirror",
        pull_sub=PullSub(batch_size=1, timeout=5),
        ack_policy=AckPolicy.MANUAL,
        description=f"Mirrors team {team}'s queue into the tracker and claims each item in the inbox.",
    )
    async def mirror(item: Item, msg: NatsMessage) -> None:
        try:
            r = await http.post(f"{tracker_url}/issues", json=issue_for(item),
                                headers={"Authorization": f"Bearer {tracker_token}", "Idempotency-Key": item.id})
            r.raise_for_status()
            claim = await http.post(f"{inbox_url}/api/items/{item.id}/claim",
                                    headers={"Authorization": f"Bearer {inbox_token}"})
            # 409: someone already claimed it (fine); 404: the inbox has not seen the item yet (retry)
            if claim.status_code not in (200, 409):
                claim.raise_for_status()
        except httpx.HTTPError:
            await msg.nack(delay=RETRY_DELAY)
            return
        await msg.ack()

    @app.after_shutdown
    async def _close() -> None:
        await http.aclose()

    return broker, app


def _from_env() -> FastStream | None:
    names = ("NATS_URL", "SB_TEAM", "TRACKER_URL", "TRACKER_TOKEN", "INBOX_URL", "INBOX_TOKEN")
    if not all(os.environ.get(n) for n in names):
        return None
    return create(*(os.environ[n] for n in names))[1]


app = _from_env()
