"""Node configuration: one frozen dataclass, read from one JSON file.

This module is the only place that reads configuration files or juki-net's
environment variables. OpenTelemetry's own OTEL_* variables are read by the
OpenTelemetry SDK (see telemetry.py).

Environment overrides (useful under a process manager):

``JUKI_DATABASE_URL``
    SQLAlchemy URL of the node's database, e.g.
    ``postgresql+psycopg://juki@db/juki_pref14``; overrides ``database_url``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jukinet.core.identity import Identity

DATABASE_URL_ENV = "JUKI_DATABASE_URL"

# The hops a node may have, by their config field: where changes go next (and
# forwarded queries), a CS's fuhyo server, a fuhyo server's prefecture server.
NEXT_HOP, FUHYO_HOP, LINK_HOP = "next_hop", "fuhyo_hop", "link_hop"


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """Where a node's TLS material lives.

    cert_file/key_file: this node's certificate (PEM) and private key (0600).
    trust_bundle: the CA certificates of the network it accepts (PEM).
    """

    cert_file: Path
    key_file: Path
    trust_bundle: Path


@dataclass(frozen=True, kw_only=True)
class NextHop:
    """The node this node forwards changes to (CS → prefecture → national).

    address: host:port; spiffe_id: the identity its certificate must carry
    (checked after the TLS handshake, so a different node at that address is
    never sent a record).
    """

    address: str
    spiffe_id: str


@dataclass(frozen=True, kw_only=True)
class NodeConfig:
    """Everything one node process needs.

    name: short name in the network, e.g. "cs-141003".
    spiffe_id: the node's identity; must match its certificate.
    listen: host:port to serve on ("127.0.0.1:0" picks a free port).
    database_url: SQLAlchemy URL; a SQLite file by default.
    credentials: TLS material.
    keyring_file: the node's private sealing keys (JSON, 0600).
    key_directory: folder of every node's CA-signed key document (*.keydoc).
    revocation_list: PEM file of the CAs' CRLs, checked on every call; None
        disables revocation checks (not for production).
    next_hop: where to forward changes, or None (national).
    trace_file: JSON-lines file for finished spans, or None (then OTEL_*).
    max_connection_age_s: connections are closed after this many seconds so
        renewed or revoked credentials take effect on every peer.
    outbox_batch_size: changes sent in one delivery RPC at most.
    log_secret_file: the secret the provision log hashes keys with (0600,
        created on first use); None: ``provision-log.secret`` beside the keyring.
    bulk_approval_threshold: bulk provisions of more rows need an approval.
    fuhyo_hop: a CS's fuhyo prefecture server (fuhyo changes go there), or None.
    link_hop: a fuhyo server's own prefecture server (the narrow link), or None.
    my_number_ttl_s: how long a fuhyo server keeps an obtained My Number for
        a re-send, at most (deleted earlier when the organ confirms).
    my_number_store_file: the fuhyo server's temporary My Number store (a
        SQLite file of its own); None: ``my-number-store.db`` beside the keyring.
    """

    name: str
    spiffe_id: str
    listen: str
    database_url: str
    credentials: Credentials
    keyring_file: Path
    key_directory: Path
    revocation_list: Path | None = None
    next_hop: NextHop | None = None
    trace_file: Path | None = None
    max_connection_age_s: float = 300.0
    outbox_batch_size: int = 500
    log_secret_file: Path | None = None
    bulk_approval_threshold: int = 1000
    fuhyo_hop: NextHop | None = None
    link_hop: NextHop | None = None
    my_number_ttl_s: float = 300.0
    my_number_store_file: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> Identity:
        """The parsed identity of this node."""
        return Identity.parse(self.spiffe_id)

    def to_json(self) -> str:
        """The config as JSON (paths as strings)."""
        return json.dumps(asdict(self), default=str, indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeConfig:
        """Build from parsed JSON; unknown keys are an error."""
        data = dict(data)
        creds = data.pop("credentials")
        hop = data.pop("next_hop", None)
        trace = data.pop("trace_file", None)
        crl = data.pop("revocation_list", None)
        secret = data.pop("log_secret_file", None)
        fuhyo_hop = data.pop("fuhyo_hop", None)
        link_hop = data.pop("link_hop", None)
        store = data.pop("my_number_store_file", None)
        return cls(
            credentials=Credentials(**{k: Path(v) for k, v in creds.items()}),
            keyring_file=Path(data.pop("keyring_file")),
            key_directory=Path(data.pop("key_directory")),
            next_hop=NextHop(**hop) if hop else None,
            trace_file=Path(trace) if trace else None,
            revocation_list=Path(crl) if crl else None,
            log_secret_file=Path(secret) if secret else None,
            fuhyo_hop=NextHop(**fuhyo_hop) if fuhyo_hop else None,
            link_hop=NextHop(**link_hop) if link_hop else None,
            my_number_store_file=Path(store) if store else None,
            **data,
        )


def load_node_config(path: Path) -> NodeConfig:
    """Read a node's JSON config file and apply environment overrides."""
    data = json.loads(path.read_text(encoding="utf-8"))
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        data["database_url"] = url
    return NodeConfig.from_dict(data)
