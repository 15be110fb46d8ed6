"""Who is talking and whether they may: PKI, mutual TLS, revocation, the policy, the audit log.

Certificates and CRLs (`pki`), TLS credentials that follow renewals
(`tls`, `credentials`), the per-call revocation check (`revocation`), the
deny-by-default policy table and the interceptor that enforces it (`authz`),
who witnesses whose logs (`witnesses`) and the append-only audit log of
refusals and operator actions (`audit`).
"""
