"""The CRM lookup port (CrmLookup) and the errors every adapter raises."""

from __future__ import annotations

from typing import Protocol

from schemas.item import Account


class CrmConfigError(ValueError):
    """The CRM lookup settings cannot work (bad base URL, missing token): refuse to start."""


class CrmUnavailable(Exception):
    """A lookup failed (after its retries): the CRM did not say whether the account exists."""


class CrmLookup(Protocol):
    """Finds one account in a CRM. None = the CRM answered that there is none; CrmUnavailable = no answer."""

    kind: str

    def accepts_id(self, account_id: str, item_kind: str) -> bool:
        """Is this hint id one of this CRM's record ids (worth a by-id lookup)?"""
        ...

    async def by_id(self, account_id: str) -> Account | None: ...

    async def by_domain(self, domain: str) -> Account | None: ...

    async def aclose(self) -> None: ...
