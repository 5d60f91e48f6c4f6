"""The dead-letter stream (SB_DLQ): reading it, and replaying dead letters after a fix.

`plan` is pure (what a replay publishes, where); `store` reads SB_DLQ and the replay marks;
`replay` publishes and marks. `switchboard dlq` (services.cli.dlq) is the command line over them.
"""
