"""What can go wrong with an outbound call, classified once (like httpx's tree, and mapped onto the
worker stages' transient/permanent split in services/common/errors.py):

    OutboundError
    ├── OutboundPermanent (PermanentError)   retrying cannot help: dead-letter now
    │   ├── Refused              the SSRF guard said no (scheme, host not configured, private address,
    │   │                        odd IP spelling); nothing was sent, no connection was opened
    │   ├── Redirected           a 3xx: redirects are never followed
    │   ├── Rejected             a 4xx other than 408/429 (bad credentials, unknown ticket, bad body)
    │   └── TooLarge             the answer's body is over the size cap
    └── OutboundTransient (TransientError)   retry with backoff, for a bounded time
        ├── Throttled            429 (and 503 with Retry-After): `retry_after` seconds when the tool said
        ├── ServerFailed         5xx, 408: the tool may or may not have applied the request
        ├── ConnectFailed        no connection (DNS, refused, connect timeout): nothing was sent
        └── OutcomeUnknown       the request went out but no answer came (read timeout, connection dropped):
                                 it may have been applied; look for the marker before sending again

Every error carries `record` (the request without its Authorization header) for the dead letter.
"""

from __future__ import annotations

from schemas.delivery import RequestRecord
from services.common.errors import PermanentError, TransientError


class OutboundError(Exception):
    record: RequestRecord | None = None
    status: int | None = None

    def __init__(self, message: str, record: RequestRecord | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.record = record
        self.status = status

    @property
    def dead_letter_request(self) -> RequestRecord | None:
        """Read by the consumer's dead-letter path (services/common/consumer.py)."""
        return self.record


class OutboundPermanent(OutboundError, PermanentError):
    pass


class Refused(OutboundPermanent):
    pass


class Redirected(OutboundPermanent):
    pass


class Rejected(OutboundPermanent):
    pass


class TooLarge(OutboundPermanent):
    pass


class OutboundTransient(OutboundError, TransientError):
    retry_after: float | None = None
    may_have_applied: bool = False  # True: look for the marker before sending again


class Throttled(OutboundTransient):
    def __init__(self, message: str, record: RequestRecord | None = None, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, record, status)
        self.retry_after = retry_after


class ServerFailed(Throttled):
    may_have_applied = True


class ConnectFailed(OutboundTransient):
    pass


class OutcomeUnknown(OutboundTransient):
    may_have_applied = True
