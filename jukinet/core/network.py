"""The network description (network.json): which nodes a client can reach, and as whom.

Written by `juki-net up` for the local network; read by the CLI, the demo,
the benchmark and the tests. A client finds a node by its role and code
(`node_of`), never by a name pattern, and a client identity by its name or
its role and code (`client_of`). The local network also lists, per node,
where its own files are (config, database, traces, log); a description of
nodes on other hosts leaves those out.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jukinet.core.config import Credentials
from jukinet.core.errors import JukiError
from jukinet.core.identity import Identity, IdentityError, Role

OPERATOR = "operator"  # the client name operator commands use unless told otherwise


class NetworkError(JukiError):
    """A network description that cannot be read, or that lacks what was asked of it."""


@dataclass(frozen=True, kw_only=True)
class ClientEntry:
    """A client identity: its SPIFFE ID and its certificate and key files."""

    spiffe_id: str
    cert: Path
    key: Path

    @property
    def identity(self) -> Identity:
        """The parsed identity."""
        return Identity.parse(self.spiffe_id)


@dataclass(frozen=True, kw_only=True)
class NodeEntry:
    """A node a client can reach.

    address: host:port it serves on; tls_name: the DNS name its certificate
    carries (what a client checks); metrics_address: host:port of its
    Prometheus endpoint, where it has one. The rest is set for a node whose
    files are on this machine (the local network) and None otherwise.
    """

    name: str
    role: Role
    code: str
    spiffe_id: str
    address: str
    tls_name: str
    metrics_address: str | None = None
    config: Path | None = None
    certificate: Path | None = None
    database_url: str | None = None
    trace_file: Path | None = None
    log_file: Path | None = None

    @property
    def identity(self) -> Identity:
        """The parsed identity."""
        return Identity.parse(self.spiffe_id)


_PATHS = ("config", "certificate", "trace_file", "log_file")


def _node_entry(raw: Mapping[str, Any]) -> NodeEntry:
    node = dict(raw)
    node["role"] = Role(node["role"])
    for key in _PATHS:
        node[key] = Path(node[key]) if node.get(key) else None
    return NodeEntry(**node)


@dataclass(frozen=True, kw_only=True)
class NetworkDescription:
    """Every node a client can reach and every client identity it may use."""

    trust_domain: str
    trust_bundle: Path
    revocation_list: Path | None = None
    # The published key documents (every node's CA-signed keys): what `juki-net audit verify`
    # checks checkpoints with.
    key_directory: Path | None = None
    clients: Mapping[str, ClientEntry]
    nodes: tuple[NodeEntry, ...]
    # The CA's signing service, where clients on other hosts renew their own certificates
    # (client/renewal.py); the local network renews them itself and names none.
    signing_service: NodeEntry | None = None

    def node(self, name: str) -> NodeEntry:
        """The node called `name`; NetworkError naming the known ones if there is none."""
        for node in self.nodes:
            if node.name == name:
                return node
        known = ", ".join(n.name for n in self.nodes)
        raise NetworkError(f"no node {name!r} in the network description (nodes: {known})")

    def node_of(self, role: Role, code: str = "") -> NodeEntry:
        """The node with `role` and `code` (e.g. the CS of municipality 141003)."""
        for node in self.nodes:
            if node.role is role and node.code == code:
                return node
        where = f" for {code}" if code else ""
        raise NetworkError(f"no {role.value} node{where} in the network description")

    def client(self, name: str) -> ClientEntry:
        """The client identity called `name`; NetworkError naming the known ones otherwise."""
        if name in self.clients:
            return self.clients[name]
        known = ", ".join(sorted(self.clients))
        raise NetworkError(f"no client {name!r} in the network description (clients: {known})")

    def client_of(self, role: Role, code: str) -> ClientEntry:
        """The client identity with `role` and `code` (e.g. municipality 141003's register)."""
        for entry in self.clients.values():
            identity = entry.identity
            if identity.role is role and identity.code == code:
                return entry
        raise NetworkError(f"no {role.value} client for {code} in the network description")

    @property
    def operator(self) -> ClientEntry:
        """The operator identity operator commands use."""
        return self.client(OPERATOR)

    def credentials(self, client: ClientEntry) -> Credentials:
        """The TLS credentials `client` presents, with this network's trust bundle."""
        return Credentials(
            cert_file=client.cert, key_file=client.key, trust_bundle=self.trust_bundle
        )

    def with_address(self, name: str, address: str) -> NetworkDescription:
        """This description, with node `name` reached at `address`."""
        nodes = tuple(
            dataclasses.replace(n, address=address) if n.name == name else n for n in self.nodes
        )
        return dataclasses.replace(self, nodes=nodes)

    def to_json(self) -> str:
        """The description as JSON (paths as strings)."""
        return json.dumps(dataclasses.asdict(self), default=str, indent=2, ensure_ascii=False)

    def save(self, path: Path) -> None:
        """Write the description to `path`."""
        path.write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkDescription:
        """Build from parsed JSON; KeyError, TypeError or ValueError if it is not one."""
        nodes = [_node_entry(raw) for raw in data["nodes"]]
        signing = data.get("signing_service")
        clients = {
            name: ClientEntry(spiffe_id=c["spiffe_id"], cert=Path(c["cert"]), key=Path(c["key"]))
            for name, c in data["clients"].items()
        }
        crl = data.get("revocation_list")
        keys = data.get("key_directory")
        description = cls(
            trust_domain=str(data["trust_domain"]),
            trust_bundle=Path(data["trust_bundle"]),
            revocation_list=Path(crl) if crl else None,
            key_directory=Path(keys) if keys else None,
            clients=clients,
            nodes=tuple(nodes),
            signing_service=_node_entry(signing) if signing else None,
        )
        spiffe_ids = [n.spiffe_id for n in description.nodes]
        spiffe_ids += [c.spiffe_id for c in description.clients.values()]
        for spiffe_id in spiffe_ids:
            Identity.parse(spiffe_id)  # IdentityError if malformed
        return description

    @classmethod
    def load(cls, path: Path) -> NetworkDescription:
        """Read a network description; NetworkError saying what is wrong with the file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NetworkError(f"{path}: no such network description") from None
        except IsADirectoryError:
            raise NetworkError(f"{path}: is a folder, not a network description") from None
        except json.JSONDecodeError as error:
            raise NetworkError(f"{path}: not JSON (line {error.lineno}: {error.msg})") from None
        except (OSError, UnicodeDecodeError) as error:
            raise NetworkError(f"{path}: cannot be read ({type(error).__name__})") from None
        except ValueError:  # json's own limit, e.g. an integer of more than 4300 digits
            raise NetworkError(f"{path}: not JSON that can be read (a value too long)") from None
        try:
            return cls.from_dict(data)
        except KeyError as error:
            raise NetworkError(f"{path}: not a network description (no {error})") from None
        except (TypeError, ValueError, AttributeError, IdentityError):
            raise NetworkError(f"{path}: not a network description (malformed entry)") from None
