"""Demo helpers: correctly signed sample webhooks for `switchboard demo`, tests and the load generator."""
