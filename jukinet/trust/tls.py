"""Mutual-TLS credentials and connection options for servers and channels.

Servers require a client certificate that chains to the network's trust
bundle; channels present the node's own certificate and verify the server
against the same bundle *and* against the DNS name derived from the SPIFFE ID
it must have (`node_dns_name`), so a record is never sent to another node that
happens to answer at the configured address.

gRPC's TLS stack (BoringSSL) negotiates TLS 1.3 and, with peers that offer it,
the hybrid post-quantum key exchange X25519MLKEM768; the negotiated group is
visible as ``ssl_negotiated_key_exchange_group`` in ``auth_context()``.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from jukinet.core.config import Credentials
from jukinet.core.identity import NODE_ROLES, Identity

# Connection age: after this, the server sends GOAWAY and clients reconnect,
# presenting (and checking) whatever credentials are current then.
DEFAULT_GRACE_S = 30.0


def node_dns_name(identity: Identity) -> str:
    """The DNS SAN a node's certificate carries besides its SPIFFE ID.

    e.g. ``prefecture-14.juki.example`` for spiffe://juki.example/prefecture/14.
    """
    return f"{identity.label}.{identity.trust_domain}"


def certificate_dns_names(identity: Identity, extra: Iterable[str] = ()) -> list[str]:
    """The DNS names a certificate of `identity` carries: a node's derived name (what its peers
    check), none for a client; `extra` only where the CA operator types them (`pki issue
    --dns`), never from a request (ca/signing.py)."""
    derived = [node_dns_name(identity)] if identity.role in NODE_ROLES else []
    return list(dict.fromkeys([*derived, *extra]))


def channel_credentials(key: bytes, cert: bytes, bundle: bytes) -> grpc.ChannelCredentials:
    """Client side: present our certificate, verify the server's against the bundle."""
    return grpc.ssl_channel_credentials(
        root_certificates=bundle, private_key=key, certificate_chain=cert
    )


def server_options(max_connection_age_s: float) -> list[tuple[str, int]]:
    """Options bounding connection age so rotated or revoked credentials take effect, and
    keeping a node's port its own: gRPC's default SO_REUSEPORT would let a second process bind
    the same port and silently take half its connections; without it, that process fails."""
    return [
        ("grpc.so_reuseport", 0),
        ("grpc.max_connection_age_ms", int(max_connection_age_s * 1000)),
        ("grpc.max_connection_age_grace_ms", int(DEFAULT_GRACE_S * 1000)),
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ]


def secure_channel(address: str, creds: Credentials, server: Identity) -> grpc.Channel:
    """A mutually authenticated channel to `address`, which must be `server` (files read now)."""
    return channel_to(
        address,
        channel_credentials(
            creds.key_file.read_bytes(),
            creds.cert_file.read_bytes(),
            creds.trust_bundle.read_bytes(),
        ),
        server,
    )


def channel_to(
    address: str, credentials: grpc.ChannelCredentials, server: Identity
) -> grpc.Channel:
    """A channel to `address` with `credentials`, verifying the server is `server`.

    `address` may name several replicas of one node: a DNS name with several addresses, or
    ``ipv4:HOST:PORT,HOST:PORT``; calls go round-robin over those that answer.
    """
    return grpc.secure_channel(
        address,
        credentials,
        options=[
            ("grpc.ssl_target_name_override", node_dns_name(server)),
            ("grpc.default_authority", node_dns_name(server)),
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
            ("grpc.lb_policy_name", "round_robin"),
            # A node back from a restart is reached again within seconds, not minutes.
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 5000),
        ],
    )
