"""Standard Webhooks: the official vectors (webhook-formats.md §1) and the reference library."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from services.ingest.adapters import standard
from services.ingest.errors import AuthenticationFailed

from . import accept, make_request, make_source, sample_bytes, signed

pytestmark = pytest.mark.unit

# standard-webhooks/standard-webhooks libraries/python/tests/test_webhooks.py::test_sign_function
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
PAYLOAD = b'{"test": 2432232314}'
VALID = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
TAMPERED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
SRC = make_source("standard")


def _req(sig: str, ts: int = TS, body: bytes = PAYLOAD):
    return make_request(
        {"content-type": "application/json", "webhook-id": MSG_ID, "webhook-timestamp": str(ts), "webhook-signature": sig},
        body,
    )


def test_official_vector_passes():
    standard.verify(_req(VALID), [SECRET], [], SRC, TS)


def test_library_agrees_with_vector():
    assert Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(TS, tz=UTC), PAYLOAD.decode()) == VALID


def test_tampered_signature_fails():
    with pytest.raises(AuthenticationFailed):
        standard.verify(_req(TAMPERED), [SECRET], [], SRC, TS)


def test_multi_signature_header_passes():
    # same file: "v1,Ceo5... v2,Ceo5... <valid>" must pass
    header = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQHVvpvFs0= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQHVvpvFs0= " + VALID
    standard.verify(_req(header), [SECRET], [], SRC, TS)


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamp_outside_tolerance(skew):
    with pytest.raises(AuthenticationFailed):
        standard.verify(_req(VALID), [SECRET], [], SRC, TS + skew)


def test_rotation_second_secret():
    standard.verify(_req(VALID), ["whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB", SECRET], [], SRC, TS)


def test_no_secret_configured():
    with pytest.raises(AuthenticationFailed):
        standard.verify(_req(VALID), [], [], SRC, TS)


def test_signer_matches_library_and_round_trips():
    now = 1_772_000_000
    body = sample_bytes("standard.json")
    req = signed(SRC, body, now, [SECRET], delivery_id="msg_demo_1")
    lib = Webhook(SECRET).sign("msg_demo_1", datetime.fromtimestamp(now, tz=UTC), body.decode())
    assert req.headers["webhook-signature"] == lib
    drafts = accept(SRC, req, now, [SECRET])
    assert len(drafts) == 1
    d = drafts[0]
    assert d.delivery_id == "msg_demo_1"
    assert d.category == "feedback" and "invoices" in (d.text or "")
    assert d.person and d.person.email == "maria.lopez@acme.co"
    assert d.account_hint and d.account_hint.id
