"""Ingest's exception tree. Each rejection carries the HTTP status it answers with.

    IngestError
    ├── RequestRejected            a 4xx: nothing is published
    │   ├── UnknownSource          404
    │   ├── PayloadTooLarge        413
    │   ├── UnsupportedContentType 415
    │   ├── AuthenticationFailed   401  (missing/invalid signature or token, stale timestamp)
    │   ├── Forbidden              403  (authenticated sender, but not one we accept: e.g. another Salesforce org)
    │   ├── MalformedBody          400  (bad JSON/XML/form, nesting deeper than 64)
    │   ├── NotAnswered            404  (a "did this help?" verdict on an item that was not answered)
    │   └── RateLimited            429  (with Retry-After)
    ├── NormaliseError             verified and parsed, but our adapter could not make an item of it:
    │                               the request is still accepted (202) and kept in the dead-letter stream
    └── BrokerUnavailable          503 (with Retry-After): JetStream did not acknowledge

Adapters raise only `AuthenticationFailed`, `Forbidden`, `MalformedBody` and `NormaliseError`.
"""

from __future__ import annotations


class IngestError(Exception):
    pass


class RequestRejected(IngestError):
    status = 400
    retry_after: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownSource(RequestRejected):
    status = 404


class PayloadTooLarge(RequestRejected):
    status = 413


class UnsupportedContentType(RequestRejected):
    status = 415


class AuthenticationFailed(RequestRejected):
    status = 401


class Forbidden(RequestRejected):
    status = 403


class MalformedBody(RequestRejected):
    status = 400


class NotAnswered(RequestRejected):
    status = 404


class RateLimited(RequestRejected):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NormaliseError(IngestError):
    """The payload verified and parsed, but could not be turned into items. Kept, never lost."""


class BrokerUnavailable(IngestError):
    status = 503
    retry_after = 5
