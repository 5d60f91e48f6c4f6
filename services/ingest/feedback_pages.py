"""The signed "did this help?" link (contract 5): `GET /feedback/{token}` shows a one-click confirm page,
`POST /feedback/{token}` records the verdict (services/ingest/verdicts.py).

- GET changes nothing: mail scanners and link previews that fetch every URL in an e-mail cannot vote.
- The token (services/common/feedback_tokens.py, HMAC-signed item id + verdict) is the capability: the POST
  needs no login, no cookie and no CSRF token. A cross-site form can only post a token its author already
  holds, which they could post themselves; nothing here reads ambient credentials (no session, no cookie),
  so there is nothing for a forged request to borrow. A bad or unsigned token, or an item with no stored
  answer, is 404. `Referrer-Policy: no-referrer` keeps the token out of the article site's logs, and
  `Cache-Control: no-store` out of shared caches.
"""

from __future__ import annotations

from typing import Mapping

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from schemas.item import Item
from services.common.feedback_tokens import BadToken, read_token
from services.common.html import SECURITY_HEADERS, render
from services.common.logging import get_logger
from services.ingest.errors import NotAnswered
from services.ingest.verdicts import FeedbackRecorder

log = get_logger("switchboard.ingest")

HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
HEADINGS = {"confirm": "Did this help?", "recorded": "Thank you", "repeat": "Already recorded", "missing": "Link not valid",
            "unavailable": "Please try again"}


def page(state: str, item: Item | None = None, verdict: str | None = None, kept: str | None = None) -> str:
    answer = item.answer if item is not None else None
    return render(
        "feedback.html",
        state=state,
        heading=HEADINGS[state],
        item=item,
        verdict=verdict,
        kept=kept,
        article_title=(answer.title or answer.article) if answer else "",
        article_url=answer.url if answer and answer.url and answer.url.startswith(("https://", "http://")) else None,
        question=((item.title + ": ") if item and item.title else "") + ((item.text or "")[:500] if item else ""),
    )


def html(body: str, status: int = 200) -> Response:
    return HTMLResponse(body, status_code=status, headers=HEADERS)


class FeedbackPages:
    def __init__(self, recorder: FeedbackRecorder, environ: Mapping[str, str]) -> None:
        self.recorder = recorder
        self.environ = environ

    async def handle(self, request: Request) -> Response:
        try:
            item_id, verdict = read_token(str(request.path_params.get("token", "")), self.environ)
            if request.method == "POST":
                recorded = await self.recorder.record(item_id, verdict, "link")
                state = "recorded" if recorded.first else "repeat"
                return html(page(state, recorded.item, verdict, recorded.feedback.verdict))
            item = await self.recorder.answered(item_id)
        except (BadToken, NotAnswered) as exc:
            log.info("feedback.link_refused", method=request.method, reason=str(exc))
            return html(page("missing"), 404)
        except Exception as exc:  # noqa: BLE001 - the broker did not answer: nothing was recorded
            log.warning("feedback.link_unavailable", method=request.method, error=type(exc).__name__)
            return HTMLResponse(page("unavailable"), status_code=503, headers={**HEADERS, "Retry-After": "5"})
        return html(page("confirm", item, verdict))
