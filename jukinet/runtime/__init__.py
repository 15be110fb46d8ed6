"""A node as a process: the gRPC server and its parts wired together, and its scheduled jobs.

`node` builds one node from its config and its kind's ServiceSpec (mTLS,
policy, tracing, health, reflection, outbox deliverers, hop channels);
`retention` purges what the law no longer lets a node keep. The servicers a
node serves live in the top-level `services` package.
"""
