"""The deliver stage (contract 5): answers, team notifications and PM replies become HTTP calls to the tools,
once each (ledger.py + once.py), through the guarded outbound client (services/outbound/)."""
