"""The wire contract: every message on a Switchboard subject is one of these models."""

from schemas.item import (
    Account,
    AccountRef,
    AccountUpdate,
    Answer,
    AreaMatch,
    DeadLetter,
    Decision,
    Item,
    KbMatch,
    Person,
    item_id,
)

__all__ = [
    "Account",
    "AccountRef",
    "AccountUpdate",
    "Answer",
    "AreaMatch",
    "DeadLetter",
    "Decision",
    "Item",
    "KbMatch",
    "Person",
    "item_id",
]
