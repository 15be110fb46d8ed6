"""Channels from a client to a node of a network description."""

from __future__ import annotations

import grpc

from jukinet.client.renewal import client_lock, renew_if_due
from jukinet.core.network import ClientEntry, NetworkDescription, NodeEntry
from jukinet.trust import tls


def connect(network: NetworkDescription, node: NodeEntry, client: ClientEntry) -> grpc.Channel:
    """A mutually authenticated channel to `node`, presenting `client`'s certificate (renewed
    first if it is past half-life and the network names a signing service)."""
    renew_if_due(network, client)
    creds = network.credentials(client)
    if network.signing_service is None:
        return tls.secure_channel(node.address, creds, node.identity)
    with client_lock(client):  # never a key and certificate half renewed by another process
        return tls.secure_channel(node.address, creds, node.identity)
