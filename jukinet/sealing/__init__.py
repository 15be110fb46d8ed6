"""Payloads sealed between nodes, and what a node keeps sealed for itself.

Sealing keys (`keys`), CA-signed key documents (`key_documents`), envelopes encrypted to
the receiver and signed by the sender (`envelope`), replay protection
(`replay`), sealing at rest (`at_rest`) and the one helper every sealed RPC
goes through on both sides (`sealed_rpc`).
"""
