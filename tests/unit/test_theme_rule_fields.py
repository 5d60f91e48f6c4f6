"""theme.* are rule fields: `switchboard check` accepts theme.id/items/accounts/arr and rejects a typo."""

from __future__ import annotations

import pytest

from services.route.field_paths import check_path

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("path", ["theme.id", "theme.items", "theme.accounts", "theme.arr", "theme.label", "theme.area"])
def test_theme_fields_are_known(path: str) -> None:
    assert check_path(path) is None


def test_a_misspelt_theme_field_is_reported_with_a_hint() -> None:
    message = check_path("theme.arrr")
    assert message is not None and "'arrr'" in message and "did you mean 'arr'" in message
