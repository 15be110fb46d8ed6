"""Transparency: logs that whoever runs the node cannot rewrite unnoticed.

Each node keeps its provision log and its audit log as append-only Merkle
logs (RFC 9162 hashing, `merkle`). It signs checkpoints of them — tree size
and root hash — as C2SP signed notes with its own log key (`note`), keeps
them (`tlog`), and sends each one upstream to be witnessed: the node above
checks a consistency proof from the last checkpoint it cosigned and cosigns
only a log that grew by appending (`witness`). Anyone holding an export of a
log and its witnessed checkpoints can check it offline (`verify`). This layer
sits on storage and core only, so the audit log (trust) and the provision log
(provision) both build on it.
"""
