"""`juki-net node init` (a node folder on the node's own machine) and `juki-net network describe`.

A node is provisioned on its own host: `node init` makes its TLS key and a
PKCS#10 request, its sealing keys and a key-document request, copies the
network's trust bundle the CA operator handed out, and writes its config
(TOML). Only the two requests travel to the CA operator (`juki-net pki sign`,
`juki-net pki sign-keys`); the signed certificate comes back. Private keys
never leave the host. `network describe` writes the network description a
client uses, from node folders (or copies of their config).
"""

from __future__ import annotations

import argparse
import ipaddress
import shutil
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from jukinet.cli import node_keys
from jukinet.cli.errors import UsageError, read_text
from jukinet.cli.parsing import Subcommands, command, group
from jukinet.core import clock
from jukinet.core.config import (
    FUHYO_HOP,
    LINK_HOP,
    NEXT_HOP,
    SIGNING_SERVICE,
    Credentials,
    NextHop,
    NodeConfig,
    load_node_config,
)
from jukinet.core.identity import (
    DEFAULT_TRUST_DOMAIN,
    NODE_ROLES,
    Identity,
    IdentityError,
    Role,
    hop_peer,
)
from jukinet.core.network import ClientEntry, NetworkDescription, NodeEntry
from jukinet.sealing.keys import NodeKeyring, new_entries
from jukinet.trust import pki, tls
from jukinet.trust.witnesses import NATIONAL_WITNESSES

# The files of a node folder (relative to it, as the config names them).
KEY, CSR, CERT = "node.key", "node.csr", "node.crt"
KEYRING, KEY_REQUEST = "sealing-keys.json", "key-document.request"
BUNDLE, CRLS, KEY_DOCUMENTS = "trust/bundle.pem", "trust/crl.pem", "trust/keys"
CONFIG = "config.toml"
TRUST_REFRESH_S = 300.0


def _identity(role: str, code: str, trust_domain: str) -> Identity:
    try:
        return Identity.of(Role(role), code, trust_domain=trust_domain)
    except (ValueError, IdentityError) as error:
        raise UsageError(f"--role/--code: not a node identity ({error})") from None


def _hop(node: Identity, name: str, address: str | None) -> NextHop | None:
    if not address:
        return None
    peer = Identity.of(Role.CA, trust_domain=node.trust_domain) if name == SIGNING_SERVICE else None
    peer = peer or hop_peer_of(node, name)
    return NextHop(address=address, spiffe_id=peer.spiffe_id)


def _witness_hops(node: Identity, addresses: list[str], prefectures: list[str]) -> list[NextHop]:
    """The national server's witnesses: one or two prefecture servers (every other node's is its
    next hop), each --witness-hop with its --witness-prefecture, in order."""
    if not addresses and not prefectures:
        return []
    if node.role is not Role.NATIONAL:
        raise UsageError("--witness-hop: only the national server names one (others: next hop)")
    if len(addresses) != len(prefectures) or len(addresses) > NATIONAL_WITNESSES:
        raise UsageError("--witness-hop and --witness-prefecture go together, at most twice")
    return [
        _prefecture_hop(node, a, p, "--witness-prefecture")
        for a, p in zip(addresses, prefectures, strict=True)
    ]


def _peer_witness_hop(
    node: Identity, address: str | None, prefecture: str | None
) -> NextHop | None:
    """At a prefecture server witnessing the national server's logs, the other witness."""
    if not address and not prefecture:
        return None
    if node.role is not Role.PREFECTURE:
        raise UsageError("--peer-witness-hop: only a prefecture server witnessing national has one")
    if not address or not prefecture:
        raise UsageError("--peer-witness-hop and --peer-witness-prefecture go together")
    return _prefecture_hop(node, address, prefecture, "--peer-witness-prefecture")


def _prefecture_hop(node: Identity, address: str, prefecture: str, option: str) -> NextHop:
    try:
        peer = Identity.of(Role.PREFECTURE, prefecture, trust_domain=node.trust_domain)
    except IdentityError as error:
        raise UsageError(f"{option}: {error}") from None
    return NextHop(address=address, spiffe_id=peer.spiffe_id)


def hop_peer_of(node: Identity, name: str) -> Identity:
    """The identity at the other end of a hop; UsageError if this kind of node has no such hop."""
    peer = hop_peer(node, name)
    if peer is None:
        raise UsageError(f"a {node.role.value} node has no {name.replace('_', '-')}")
    return peer


def _port(listen: str, option: str = "--listen") -> str:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"{option}: {listen!r} is not HOST:PORT")
    return port


def cmd_init(args: argparse.Namespace) -> int:
    """Make a node folder: keys and requests, the trust bundle, the config."""
    identity = _identity(args.role, args.code, args.trust_domain)
    if identity.role not in NODE_ROLES:
        raise UsageError(f"--role: {args.role} is not a node role")
    folder: Path = args.dir
    if (folder / KEY).exists():
        raise UsageError(f"{folder / KEY} exists; refusing to overwrite a node's key")
    bundle = read_text(args.bundle)
    if "BEGIN CERTIFICATE" not in bundle:
        raise UsageError(f"{args.bundle}: not a PEM trust bundle")
    if identity.role is Role.NATIONAL and args.trust_source is None:
        raise UsageError("the national server needs --trust-source (the CA's publication folder)")
    if identity.role is Role.CA and args.ca_folder is None:
        raise UsageError("the signing service needs --ca-folder")
    port = _port(args.listen)
    hops = {
        NEXT_HOP: _hop(identity, NEXT_HOP, args.next_hop),
        FUHYO_HOP: _hop(identity, FUHYO_HOP, args.fuhyo_hop),
        LINK_HOP: _hop(identity, LINK_HOP, args.link_hop),
        SIGNING_SERVICE: _hop(identity, SIGNING_SERVICE, args.signing_service),
    }
    witnesses = _witness_hops(identity, args.witness_hop, args.witness_prefecture)
    peer_witness = _peer_witness_hop(identity, args.peer_witness_hop, args.peer_witness_prefecture)
    ips = [a for a in args.advertise if _is_ip(a)]
    folder.mkdir(parents=True, exist_ok=True)
    key = pki.new_key()
    pki.write_private_key(folder / KEY, key)
    csr = pki.request(
        key, identity, dns_names=tls.certificate_dns_names(identity), ip_addresses=ips
    )
    pki.write_atomic(folder / CSR, csr.public_bytes(serialization.Encoding.PEM))
    ring = NodeKeyring.create(folder / KEYRING, new_entries(clock.SYSTEM.now()))
    (folder / KEY_DOCUMENTS).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.bundle, folder / BUNDLE)
    ca = args.ca_folder.resolve() if args.ca_folder else None
    config = NodeConfig(
        name=identity.label,
        spiffe_id=identity.spiffe_id,
        listen=args.listen,
        advertised_address=f"{args.advertise[0]}:{port}" if args.advertise else None,
        database_url=args.database_url or "sqlite:///data.db",
        credentials=Credentials(
            cert_file=Path(CERT),
            key_file=Path(KEY),
            trust_bundle=ca / "bundle.pem" if ca else Path(BUNDLE),
        ),
        keyring_file=Path(KEYRING),
        key_directory=Path(KEY_DOCUMENTS),
        # The signing service reads the CA folder itself; every other node keeps its own copy.
        revocation_list=ca / "crl.pem" if ca else Path(CRLS),
        trust_source=args.trust_source.resolve() if args.trust_source else None,
        trust_refresh_s=0.0 if ca else args.trust_refresh_s,
        ca_folder=ca,
        administrators=list(args.administrator),
        next_hop=hops[NEXT_HOP],
        fuhyo_hop=hops[FUHYO_HOP],
        link_hop=hops[LINK_HOP],
        signing_service=hops[SIGNING_SERVICE],
        peer_witness_hop=peer_witness,
        renewal_check_s=args.renewal_check_s,
        workload_api=args.workload_api,
    ).with_witnesses(witnesses)
    (folder / CONFIG).write_text(config.to_toml(), encoding="utf-8")
    node_keys.write_key_request(folder, config, ring)
    print(f"{identity}: node folder {folder}")
    print(f"  send to the CA operator: {folder / CSR} and {folder / KEY_REQUEST}")
    print(
        f"  put the signed certificate at {folder / CERT}; then: juki-net serve "
        f"--config {folder / CONFIG}"
    )
    return 0


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _node_entry(config_path: Path) -> NodeEntry:
    read_text(config_path)
    try:
        config = load_node_config(config_path)
        identity = config.identity
    except (ValueError, KeyError, TypeError, IdentityError) as error:
        raise UsageError(f"{config_path}: not a node config ({error})") from None
    return _reached_at(identity, config.advertised_address or config.listen, config.name)


def _reached_at(identity: Identity, address: str, name: str) -> NodeEntry:
    """The description's entry for `identity`, served at `address`."""
    return NodeEntry(
        name=name,
        role=identity.role,
        code=identity.code,
        spiffe_id=identity.spiffe_id,
        address=address,
        tls_name=tls.node_dns_name(identity),
    )


def _client_entry(spec: str) -> tuple[str, ClientEntry]:
    name, _, stem = spec.partition("=")
    if not name or not stem:
        raise UsageError(f"--client: {spec!r} is not NAME=PATH/STEM (STEM.crt and STEM.key)")
    cert = Path(f"{stem}.crt")
    read_text(cert)
    try:
        spiffe_id = pki.spiffe_id_of(pki.load_certificate(cert))
    except ValueError:
        raise UsageError(f"{cert}: not a certificate with one SPIFFE ID") from None
    return name, ClientEntry(
        spiffe_id=spiffe_id, cert=cert.resolve(), key=Path(f"{stem}.key").resolve()
    )


def _signing_service(address: str | None, trust_domain: str) -> NodeEntry | None:
    """Where the description's clients renew their certificates (client/renewal.py)."""
    if not address:
        return None
    _port(address, "--signing-service")
    identity = Identity.of(Role.CA, trust_domain=trust_domain)
    return _reached_at(identity, address, identity.label)


def cmd_describe(args: argparse.Namespace) -> int:
    """Write a client's network description from node configs and client certificates."""
    nodes = tuple(_node_entry(p) for p in args.config)
    clients = dict(_client_entry(spec) for spec in args.client)
    read_text(args.bundle)
    domains = {Identity.parse(n.spiffe_id).trust_domain for n in nodes}
    if len(domains) != 1:
        raise UsageError("the nodes must be of one trust domain")
    trust_domain = domains.pop()
    description = NetworkDescription(
        trust_domain=trust_domain,
        trust_bundle=args.bundle.resolve(),
        revocation_list=None,
        clients=clients,
        nodes=nodes,
        signing_service=_signing_service(args.signing_service, trust_domain),
    )
    description.save(args.out)
    print(f"{args.out}: {len(nodes)} node(s), {len(clients)} client(s)")
    return 0


def add_commands(sub: Subcommands) -> None:
    """node init, network describe."""
    node = group(
        sub,
        "node",
        summary="provision a node on its own machine",
        example="juki-net node init --dir cs-141003 --role cs --code 141003 --listen "
        "0.0.0.0:7001 --advertise 10.0.0.13 --next-hop 10.0.0.12:7001 --bundle bundle.pem",
    )
    init = command(
        node,
        "init",
        summary="make a node folder: keys and requests for the CA, the trust bundle, the config",
        details="Private keys never leave the folder; send node.csr and key-document.request to "
        "the CA operator (juki-net pki sign, pki sign-keys) and put node.crt back.",
        example="juki-net node init --dir prefecture-14 --role prefecture --code 14 --listen "
        "0.0.0.0:7001 --advertise 10.0.0.12 --next-hop 10.0.0.11:7001 "
        "--signing-service 10.0.0.11:7100 --bundle bundle.pem",
        func=cmd_init,
    )
    node_keys.add_commands(node)
    init.add_argument("--dir", type=Path, required=True, help="the node folder to make")
    init.add_argument(
        "--role", required=True, choices=sorted(r.value for r in NODE_ROLES), help="node kind"
    )
    init.add_argument("--code", default="", help="prefecture (2 digits) or municipality (6)")
    init.add_argument("--trust-domain", default=DEFAULT_TRUST_DOMAIN, help="default: %(default)s")
    init.add_argument("--listen", required=True, help="HOST:PORT to serve on")
    init.add_argument(
        "--advertise",
        action="append",
        default=[],
        help="a DNS name or IP address peers reach it at (repeatable; the first is listed "
        "in network descriptions)",
    )
    for hop, what in (
        ("--next-hop", "HOST:PORT of the node it forwards to (CS: its prefecture server)"),
        ("--fuhyo-hop", "HOST:PORT of a CS's fuhyo server"),
        ("--link-hop", "HOST:PORT of a fuhyo server's own prefecture server"),
        ("--signing-service", "HOST:PORT of the CA's signing service (renewal at half-life)"),
    ):
        init.add_argument(hop, help=what)
    init.add_argument(
        "--witness-hop",
        action="append",
        default=[],
        help="HOST:PORT of a prefecture server witnessing national's logs (national only; "
        "twice for two witnesses, each followed by its --witness-prefecture)",
    )
    init.add_argument(
        "--witness-prefecture", action="append", default=[], help="that prefecture's code"
    )
    init.add_argument(
        "--peer-witness-hop",
        help="HOST:PORT of the other witness of national's logs (a prefecture server that is "
        "one), to compare checkpoints with",
    )
    init.add_argument("--peer-witness-prefecture", help="that prefecture's code")
    init.add_argument(
        "--bundle", type=Path, required=True, help="the network's trust bundle, from the CA"
    )
    init.add_argument(
        "--trust-source", type=Path, help="the CA's publication folder (the national server)"
    )
    init.add_argument(
        "--trust-refresh-s",
        type=float,
        default=TRUST_REFRESH_S,
        help="how often trust material is refreshed (default: %(default)s)",
    )
    init.add_argument("--ca-folder", type=Path, help="the CA folder (the signing service only)")
    init.add_argument(
        "--renewal-check-s",
        type=float,
        default=30.0,
        help="how often to check for half-life, at most (default: %(default)s)",
    )
    init.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the folder)")
    init.add_argument(
        "--administrator",
        action="append",
        default=[],
        metavar="SPIFFE_ID",
        help="an operator who manages the node's access-right ledger (give two or more: one "
        "grants, another approves)",
    )
    init.add_argument(
        "--workload-api",
        help="take the certificate from the host's SPIRE agent instead of the CA, e.g. "
        "unix:///run/spire/agent/public/api.sock",
    )

    network = group(
        sub,
        "network",
        summary="network descriptions for clients",
        example="juki-net network describe --config prefecture-14/config.toml --bundle "
        "bundle.pem --client operator=clients/operator --out network.json",
    )
    describe = command(
        network,
        "describe",
        summary="write a client network description from node configs",
        example="juki-net network describe --config national/config.toml --config "
        "cs-141003/config.toml --bundle bundle.pem --client operator=clients/operator "
        "--out network.json",
        func=cmd_describe,
    )
    describe.add_argument(
        "--config", type=Path, action="append", required=True, help="a node's config (repeatable)"
    )
    describe.add_argument("--bundle", type=Path, required=True, help="the trust bundle")
    describe.add_argument(
        "--client",
        action="append",
        default=[],
        help="NAME=PATH/STEM: a client identity (STEM.crt, STEM.key; repeatable)",
    )
    describe.add_argument(
        "--signing-service",
        help="HOST:PORT of the CA's signing service: clients renew their certificates there "
        "at half-life",
    )
    describe.add_argument("--out", type=Path, required=True, help="the description to write")
