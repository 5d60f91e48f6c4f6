"""Digests by revenue, their schedule, and the knowledge base's gaps (contract 7; docs/digests.md)."""
