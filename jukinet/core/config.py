"""Node configuration: one frozen dataclass, read from one TOML (or JSON) file.

This module is the only place that reads configuration files or juki-net's
environment variables. OpenTelemetry's own OTEL_* variables are read by the
OpenTelemetry SDK (see telemetry.py). A config written by `juki-net node
init` is TOML (for people to read and edit); `juki-net up` writes JSON. Paths
in a config file may be relative: they are taken from the file's folder, so
a node folder can be moved as a whole. Unknown keys are an error.

Environment overrides (useful under a process manager):

``JUKI_DATABASE_URL``
    SQLAlchemy URL of the node's database, e.g.
    ``postgresql+psycopg://juki@db/juki_pref14``; overrides ``database_url``.
"""

from __future__ import annotations

import json
import os
import tomllib
import typing
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from jukinet.core.clock import time_of_day_in_japan
from jukinet.core.identity import Identity, Role

DATABASE_URL_ENV = "JUKI_DATABASE_URL"
SQLITE_PREFIX = "sqlite:///"

# The hops a node may have, by their config field: where changes go next (and
# forwarded queries), a CS's fuhyo server, a fuhyo server's prefecture server.
NEXT_HOP, FUHYO_HOP, LINK_HOP = "next_hop", "fuhyo_hop", "link_hop"
WITNESS_HOP, SECOND_WITNESS_HOP = "witness_hop", "second_witness_hop"
# The other witness of the same logs, with which a witness compares what it cosigned (gossip).
PEER_WITNESS_HOP = "peer_witness_hop"
# The CA's signing service (certificate renewal), by its config field.
SIGNING_SERVICE = "signing_service"
# The national server's witnesses, by config field, in order: as many as it may have.
WITNESS_HOPS = (WITNESS_HOP, SECOND_WITNESS_HOP)
# Every hop a node may have a channel to.
HOPS = (
    NEXT_HOP,
    FUHYO_HOP,
    LINK_HOP,
    WITNESS_HOP,
    SECOND_WITNESS_HOP,
    PEER_WITNESS_HOP,
    SIGNING_SERVICE,
)


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """Where a node's TLS material lives.

    cert_file/key_file: this node's certificate (PEM) and private key (0600).
    trust_bundle: the CA certificates of the network it accepts (PEM).
    """

    cert_file: Path
    key_file: Path
    trust_bundle: Path


def host_and_port(address: str) -> tuple[str, int]:
    """HOST:PORT as (host, port); ValueError if it is not one."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{address!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


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
    bulk_approval_threshold: an organ's bulk rows a day (streams without an approval) beyond
        which a bulk stream needs an approval (provision/approvals.py).
    fuhyo_hop: a CS's fuhyo prefecture server (fuhyo changes go there), or None.
    link_hop: a fuhyo server's own prefecture server (the narrow link), or None.
    link_per_hour: the My Numbers a prefecture server gives over the narrow link
        for one organ and task in an hour, at most (LINK_RATE_EXCEEDED beyond).
    my_number_ttl_s: how long a fuhyo server keeps an obtained My Number for
        a re-send, at most (deleted earlier when the organ confirms).
    my_number_store_file: the fuhyo server's temporary My Number store (a
        SQLite file of its own); None: ``my-number-store.db`` beside the keyring.
    signing_service: the network CA's signing service; set, the node renews
        its own certificate there at half its lifetime.
    trust_source: where the node refreshes its trust material (bundle, CRLs,
        key documents): the CA's publication folder (the national server);
        None: from its next hop, over TrustService.
    trust_refresh_s: how often the trust material is refreshed; 0: never
        (the local network, whose nodes share one PKI folder).
    ca_folder: the CA folder of the CA's signing service (role ca) only.
    advertised_address: host:port its clients and peers reach it at (`listen`
        may be 0.0.0.0:port); what `juki-net network describe` lists.
    renewal_check_s: how often the node checks whether its certificate is
        past half-life (the signing service: also its CRLs), at most.
    workload_api: the SPIFFE Workload API of the host's SPIRE agent (e.g.
        ``unix:///run/spire/agent/public/api.sock``); set, the node takes its
        X.509-SVID and bundle from there into its credential files, and SPIRE
        rotates them (runtime/svid.py) instead of the signing service.
    consistency_at: when the node runs its nightly consistency checks with the
        tier above, "HH:MM" in Japan; "" never (a CS, prefecture or fuhyo server).
    administrators: the SPIFFE IDs (operators) who manage the node's
        access-right ledger; two are needed to put a grant in effect. None:
        no operator can ever be granted anything here.
    log_format: "text" (default) or "json": JSON lines with node, trace and
        span ids and reason codes (core/logs.py).
    metrics_listen: HOST:PORT of the node's Prometheus endpoint (/metrics);
        loopback unless the operator opens it; None: no endpoint (metrics still
        go over OTLP when OTEL_METRICS_EXPORTER=otlp).
    witness_hop: the node that witnesses this node's log checkpoints when it
        is not the next hop (the national server, which has none: a
        prefecture server).
    second_witness_hop: the national server's second witness (another
        prefecture server); a checkpoint counts once both cosigned it.
    peer_witness_hop: at a witness of the national server's logs, the other
        one: every checkpoint interval each compares the last checkpoint it
        cosigned with the other's, to catch a node showing two histories.
    gossip_interval_s: how often a witness with a peer compares (at most the
        checkpoint interval of the logs it witnesses); 0: never.
    checkpoint_interval_s: how often the node signs checkpoints of its
        provision and audit logs and has its next hop witness them; 0: only
        on an operator's demand (`juki-net audit checkpoint`).
    notice_poll_s: how often a CS takes, from the servers above it, the
        notices of its changes refused there (誤りの通報); 0: never.
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
    link_per_hour: int = 100
    my_number_ttl_s: float = 300.0
    my_number_store_file: Path | None = None
    signing_service: NextHop | None = None
    trust_source: Path | None = None
    trust_refresh_s: float = 0.0
    ca_folder: Path | None = None
    advertised_address: str | None = None
    renewal_check_s: float = 30.0
    workload_api: str | None = None
    consistency_at: str = "02:30"
    checkpoint_interval_s: float = 3600.0
    witness_hop: NextHop | None = None
    second_witness_hop: NextHop | None = None
    peer_witness_hop: NextHop | None = None
    gossip_interval_s: float = 600.0
    metrics_listen: str | None = None
    log_format: str = "text"
    administrators: list[str] = field(default_factory=list)
    notice_poll_s: float = 5.0

    def __post_init__(self) -> None:
        Identity.parse(self.spiffe_id)  # IdentityError (a ValueError) if it is not one
        if self.log_format not in ("text", "json"):
            raise ValueError('log_format must be "text" or "json"')
        if self.metrics_listen:
            try:
                host_and_port(self.metrics_listen)
            except ValueError:
                raise ValueError("metrics_listen must be HOST:PORT") from None
        for administrator in self.administrators:
            if Identity.parse(administrator).role is not Role.OPERATOR:
                raise ValueError("administrators must be operators' SPIFFE IDs")
        if self.consistency_at:
            try:
                time_of_day_in_japan(self.consistency_at)
            except ValueError:
                raise ValueError("consistency_at must be HH:MM (in Japan) or empty") from None

    @property
    def identity(self) -> Identity:
        """The parsed identity of this node."""
        return Identity.parse(self.spiffe_id)

    @property
    def witness_hops(self) -> list[NextHop]:
        """The witnesses it names itself (the national server's), in order."""
        return [hop for name in WITNESS_HOPS if (hop := getattr(self, name)) is not None]

    def with_witnesses(self, hops: list[NextHop]) -> NodeConfig:
        """This config naming `hops` as its witnesses, in order; ValueError for more than a
        config holds."""
        if len(hops) > len(WITNESS_HOPS):
            raise ValueError(f"at most {len(WITNESS_HOPS)} witnesses")
        first, second = [*hops, None, None][:2]
        return replace(self, witness_hop=first, second_witness_hop=second)

    def as_dict(self) -> dict[str, Any]:
        """The config as plain data (paths as strings, unset keys left out)."""

        def plain(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items() if v is not None}
            return str(value) if isinstance(value, Path) else value

        data: dict[str, Any] = plain(asdict(self))
        return data

    def to_json(self) -> str:
        """The config as JSON."""
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)

    def to_toml(self) -> str:
        """The config as TOML (what `juki-net node init` writes)."""
        return tomli_w.dumps(self.as_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Path | None = None) -> NodeConfig:
        """Build from parsed TOML or JSON; relative paths are taken from `base`.

        KeyError for a missing key, TypeError for an unknown one, ValueError for
        a value of the wrong kind.
        """
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for name, raw in data.items():
            kind = hints.get(name)
            if kind is None:
                raise TypeError(f"unknown key {name!r}")
            try:
                values[name] = _converted(kind, raw, base)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
        return cls(**values)


def _converted(kind: Any, raw: Any, base: Path | None) -> Any:
    """`raw` as the field type `kind` (a path, a hop, credentials, text, a number, a list of
    text); ValueError naming the type it must be (a config holds nothing of another type)."""
    if typing.get_origin(kind) is list:
        if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
            return list(raw)
        raise ValueError("must be a list of text")
    kinds = set(typing.get_args(kind)) or {kind}
    if raw is None:
        if type(None) in kinds:
            return None
        raise ValueError("must be set")
    if Path in kinds and isinstance(raw, str):
        path = Path(raw)
        return path if base is None or path.is_absolute() else base / path
    for nested in (NextHop, Credentials):
        if nested in kinds:
            if not isinstance(raw, dict):
                raise ValueError(f"must be a table of {', '.join(nested.__dataclass_fields__)}")
            fields = typing.get_type_hints(nested)
            unknown = set(raw) - set(fields)
            if unknown:
                raise TypeError(f"unknown key {sorted(unknown)[0]!r} in a table")
            return nested(**{k: _converted(fields[k], v, base) for k, v in raw.items()})
    if str in kinds and isinstance(raw, str):
        return raw
    if int in kinds and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if float in kinds and isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    wanted = " or ".join(sorted(getattr(k, "__name__", str(k)) for k in kinds - {type(None)}))
    raise ValueError(f"must be {wanted}")


class ConfigError(ValueError):
    """A config file that is not a node config: what is wrong, never a value from it."""


def load_node_config(path: Path) -> NodeConfig:
    """Read a node's config file (TOML if it ends in .toml, else JSON) and apply overrides.

    Raises OSError if it cannot be read, ConfigError (a ValueError) for anything else: not
    TOML or JSON, not a table, a key missing or unknown, a value of the wrong type.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except ValueError as error:  # tomllib's and json's errors, a too long number
        raise ConfigError(f"not {'TOML' if path.suffix == '.toml' else 'JSON'} ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError("not a table of settings")
    base = path.resolve().parent
    url = os.environ.get(DATABASE_URL_ENV) or data.get("database_url", "")
    if not isinstance(url, str):
        raise ConfigError("database_url: must be str")
    if url.startswith(SQLITE_PREFIX) and not Path(url.removeprefix(SQLITE_PREFIX)).is_absolute():
        url = f"{SQLITE_PREFIX}{base / url.removeprefix(SQLITE_PREFIX)}"  # beside the config
    data["database_url"] = url
    try:
        return NodeConfig.from_dict(data, base=base)
    except KeyError as error:
        raise ConfigError(f"no {error}") from None
    except (TypeError, ValueError) as error:
        raise ConfigError(str(error)) from None
