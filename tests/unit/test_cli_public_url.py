"""`switchboard up --port P` (README: when 8000 is taken) makes the "did this help?" links point at port P,
unless SWITCHBOARD_PUBLIC_URL says where the receiver is reached."""

from __future__ import annotations

import pytest

from services.cli.serve import with_local_public_url
from services.common.settings import Settings

pytestmark = pytest.mark.unit


def test_port_moves_the_default_public_url_but_never_an_explicit_one() -> None:
    assert with_local_public_url(Settings(port=8001), 8001, {}).public_url == "http://127.0.0.1:8001"
    assert with_local_public_url(Settings(host="0.0.0.0", port=8001), 8001, {}).public_url == "http://127.0.0.1:8001"
    assert with_local_public_url(Settings(), None, {}).public_url == "http://127.0.0.1:8000"
    explicit = Settings(public_url="https://sb.example.com")
    assert with_local_public_url(explicit, 8001, {"SWITCHBOARD_PUBLIC_URL": "https://sb.example.com"}).public_url == "https://sb.example.com"
