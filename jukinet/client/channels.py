"""Channels from a client to a node of a network description."""

from __future__ import annotations

import grpc

from jukinet.core.config import Credentials
from jukinet.core.network import ClientEntry, NetworkDescription, NodeEntry
from jukinet.trust import tls


def connect(network: NetworkDescription, node: NodeEntry, client: ClientEntry) -> grpc.Channel:
    """A mutually authenticated channel to `node`, presenting `client`'s certificate."""
    creds = Credentials(
        cert_file=client.cert, key_file=client.key, trust_bundle=network.trust_bundle
    )
    return tls.secure_channel(node.address, creds, node.identity)
