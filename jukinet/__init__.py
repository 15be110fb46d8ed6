"""juki-net's shared core: what every node (CS, prefecture, fuhyo, national) is built from.

One module per concept: identity (SPIFFE IDs), pki (certificates), tls
(credentials), authz (who may call what), storage (SQLAlchemy + Alembic),
outbox (store-and-forward delivery), telemetry (OpenTelemetry), identifiers
and validation (the record's rules), node (the gRPC server process) and
localnet (the local network `juki-net up` runs).
"""
