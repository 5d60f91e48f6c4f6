"""Reading one answered item back from SB_ANSWERS: the "did this help?" loop needs the answer that was given
(ingest, to check a verdict names a real answer and to count it per article; route, to re-decide it).

SB_ANSWERS keeps one message per subject `sb.answers.<source>.<item id>`, so the last message on
`sb.answers.*.<id>` (a get by subject, served by the stream itself: no consumer) is the answer.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from schemas.item import Item
from services.common import names


async def answered_item(js: JetStreamContext, item_id: str, source: str | None = None) -> Item | None:
    """The item as answered (with `answer` set), or None when no answer with this id is stored (of `source`,
    when given). An id that cannot be a subject token is never an answered item."""
    if not names.TOKEN_RE.match(item_id) or (source is not None and not names.TOKEN_RE.match(source)):
        return None
    try:
        msg = await js.get_msg(names.ANSWERS, subject=names.answer_subject(source or "*", item_id))
    except NotFoundError:
        return None
    try:
        item = Item.model_validate_json(msg.data or b"")
    except ValidationError:
        return None
    return item if item.answer is not None else None
