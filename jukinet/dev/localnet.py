"""The local network `juki-net up` runs: its plan, its PKI, its processes.

State directory layout (everything a node or script needs is found from
``network.json``)::

    DIR/network.json           trust bundle, client credentials, every node
    DIR/pki/                   CA, trust bundle, CRLs (see localpki.py; kept across runs)
    DIR/pki/clients/*.crt|key  operator and register-system certificates
    DIR/keys/<name>.keydoc     every node's CA-signed sealing key document
    DIR/nodes/<name>/          config.json, node.crt|key, sealing-keys.json (0600),
                               data.db, spans.jsonl, node.log

Each node runs in its own process (``juki-net serve --config …``). Re-running
with the same DIR keeps the CA, the ports and every node's database; node and
client certificates are re-issued (they are short-lived).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import grpc

from juki.v1.access_service_pb2 import ACCESS_GRANT_STATE_ACTIVE as ACTIVE
from jukinet.ca.folder import CaFolder
from jukinet.client import access
from jukinet.client.channels import connect
from jukinet.core import clock
from jukinet.core.config import Credentials, NextHop, NodeConfig
from jukinet.core.identity import DEFAULT_TRUST_DOMAIN, Identity, Role
from jukinet.core.network import OPERATOR, ClientEntry, NetworkDescription, NetworkError, NodeEntry
from jukinet.dev.supervisor import STARTUP_TIMEOUT_S, Supervisor
from jukinet.dev.topology import (
    ADMINISTRATORS,
    AGENCIES,
    CLERK,
    HOST,
    OPERATOR_IDENTITY,
    ORGANS,
    SUPERVISOR,
    TOPOLOGY,
    NodePlan,
    free_port,
    port_is_free,
)
from jukinet.sealing.key_directory import publish
from jukinet.sealing.key_documents import sign_document
from jukinet.sealing.keys import NodeKeyring, new_entries, retire, rotate, superseded
from jukinet.trust import pki, tls

# How often national's two witnesses compare what each cosigned, here (config.gossip_interval_s).
GOSSIP_INTERVAL_S = 5.0


class LocalNetwork:
    """Prepares and runs the local network in `state_dir`."""

    def __init__(
        self,
        state_dir: Path,
        *,
        topology: tuple[NodePlan, ...] = TOPOLOGY,
        trust_domain: str = DEFAULT_TRUST_DOMAIN,
        node_lifetime_hours: float = 24.0,
        my_number_ttl_s: float = 300.0,
        database_url: Callable[[str], str] | None = None,
        restart: bool = True,
        log_format: str = "text",
    ) -> None:
        """`database_url(node name)` gives a node's database (default: SQLite in its folder);
        `restart`: restart a node process that exits (Supervisor); `log_format`: the nodes'."""
        self.dir = state_dir.resolve()
        self.database_url = database_url
        self.topology = topology
        self.trust_domain = trust_domain
        self.node_lifetime_hours = node_lifetime_hours
        self.my_number_ttl_s = my_number_ttl_s
        self.log_format = log_format
        self.pki = CaFolder(self.dir / "pki")
        self.supervisor = Supervisor(restart=restart)
        self._info: NetworkDescription | None = None

    @property
    def info(self) -> NetworkDescription:
        """The network description (after `prepare` or `load`)."""
        if self._info is None:
            raise NetworkError(f"{self.dir}: the network is not prepared; run `juki-net up`")
        return self._info

    # -- paths -----------------------------------------------------------------
    @property
    def pki_dir(self) -> Path:
        """Where the CA, bundle and client credentials live."""
        return self.dir / "pki"

    @property
    def bundle(self) -> Path:
        """The trust bundle."""
        return self.pki_dir / "bundle.pem"

    @property
    def key_dir(self) -> Path:
        """Every node's CA-signed key document."""
        return self.dir / "keys"

    def node_dir(self, name: str) -> Path:
        """A node's own folder."""
        return self.dir / "nodes" / name

    def identity(self, plan: NodePlan) -> Identity:
        """A planned node's identity."""
        return Identity.of(plan.role, plan.code, trust_domain=self.trust_domain)

    # -- preparation -------------------------------------------------------------
    def _ports(self) -> dict[str, int]:
        """A port per node and per node's metrics endpoint ("<name>/metrics"), the ones of the
        last run where they are still free."""
        previous: dict[str, int] = {}
        path = self.dir / "network.json"
        if path.exists():
            for node in NetworkDescription.load(path).nodes:
                previous[node.name] = int(node.address.rsplit(":", 1)[1])
                if node.metrics_address:
                    previous[f"{node.name}/metrics"] = int(node.metrics_address.rsplit(":", 1)[1])
        ports: dict[str, int] = {}
        for name in (n for p in self.topology for n in (p.name, f"{p.name}/metrics")):
            port = previous.get(name)
            while port is None or not port_is_free(port) or port in ports.values():
                port = free_port()
            ports[name] = port
        return ports

    def _clients(self) -> dict[str, Identity]:
        """The non-node identities: an operator, each CS's register system, organs, agencies."""
        domain = self.trust_domain
        clients = {OPERATOR: Identity.of(Role.OPERATOR, *OPERATOR_IDENTITY, trust_domain=domain)}
        for stem, (code, name) in (*ADMINISTRATORS.items(), CLERK, SUPERVISOR):
            clients[stem] = Identity.of(Role.OPERATOR, code, name, trust_domain=domain)
        for prefecture, name in ORGANS:
            clients[f"organ-{prefecture}-{name}"] = Identity.of(
                Role.ORGAN, prefecture, name, trust_domain=domain
            )
        for name in AGENCIES:
            clients[f"agency-{name}"] = Identity.of(Role.AGENCY, name=name, trust_domain=domain)
        for plan in self.topology:
            if plan.role is Role.CS:
                clients[f"register-{plan.code}"] = Identity.of(
                    Role.REGISTER, plan.code, trust_domain=self.trust_domain
                )
        return clients

    def issue_node_certificate(self, name: str) -> tuple[Path, Path]:
        """Issue or renew a node's certificate (new key, written beside the old atomically)."""
        identity = self.identity(self._plan(name))
        return self.pki.issue(
            identity,
            self.node_dir(name),
            "node",
            lifetime=dt.timedelta(hours=self.node_lifetime_hours),
            dns_names=[tls.node_dns_name(identity), "localhost"],
            ip_addresses=[HOST],
        )

    def issue_client_certificates(self) -> dict[str, ClientEntry]:
        """Issue or renew every client certificate; returns their network description entries."""
        entries = {}
        for stem, identity in self._clients().items():
            cert, key = self.pki.issue(
                identity, self.pki_dir / "clients", stem, lifetime=pki.CLIENT_LIFETIME
            )
            entries[stem] = ClientEntry(spiffe_id=identity.spiffe_id, cert=cert, key=key)
        return entries

    def prepare(self) -> NetworkDescription:
        """Create or refresh the PKI, node configs and network.json; returns the latter."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pki.ensure_ca()
        self.pki.write_crls()
        ports = self._ports()
        nodes = []
        for plan in self.topology:
            identity = self.identity(plan)
            folder = self.node_dir(plan.name)
            cert_path, key_path = self.issue_node_certificate(plan.name)

            def to(name: str) -> NextHop:
                return NextHop(
                    address=f"{HOST}:{ports[name]}",
                    spiffe_id=self.identity(self._plan(name)).spiffe_id,
                )

            def hop(name: str | None) -> NextHop | None:
                return None if name is None else to(name)

            keyring_file = folder / "sealing-keys.json"
            if not keyring_file.exists():
                NodeKeyring.create(keyring_file, new_entries(clock.SYSTEM.now()))
            self.publish_keys(plan)
            config = NodeConfig(
                name=plan.name,
                spiffe_id=identity.spiffe_id,
                listen=f"{HOST}:{ports[plan.name]}",
                database_url=(
                    self.database_url(plan.name)
                    if self.database_url
                    else f"sqlite:///{folder / 'data.db'}"
                ),
                credentials=Credentials(
                    cert_file=cert_path, key_file=key_path, trust_bundle=self.bundle
                ),
                keyring_file=keyring_file,
                key_directory=self.key_dir,
                revocation_list=self.pki.crl,
                next_hop=hop(plan.next_hop),
                fuhyo_hop=hop(plan.fuhyo_hop),
                link_hop=hop(plan.link_hop),
                peer_witness_hop=hop(plan.peer_witness_hop),
                gossip_interval_s=GOSSIP_INTERVAL_S,
                my_number_ttl_s=self.my_number_ttl_s,
                trace_file=folder / "spans.jsonl",
                metrics_listen=f"{HOST}:{ports[plan.name + '/metrics']}",
                log_format=self.log_format,
                administrators=[
                    Identity.of(Role.OPERATOR, *who, trust_domain=self.trust_domain).spiffe_id
                    for who in ADMINISTRATORS.values()
                ],
            ).with_witnesses([to(w) for w in plan.witness_hops])
            pki.write_atomic(folder / "config.json", config.to_json().encode())
            nodes.append(
                NodeEntry(
                    name=plan.name,
                    role=plan.role,
                    code=plan.code,
                    spiffe_id=identity.spiffe_id,
                    address=config.listen,
                    tls_name=tls.node_dns_name(identity),
                    metrics_address=config.metrics_listen,
                    config=folder / "config.json",
                    certificate=cert_path,
                    database_url=config.database_url,
                    trace_file=config.trace_file,
                    log_file=folder / "node.log",
                )
            )
        self._info = NetworkDescription(
            trust_domain=self.trust_domain,
            trust_bundle=self.bundle,
            revocation_list=self.pki.crl,
            key_directory=self.key_dir,
            clients=self.issue_client_certificates(),
            nodes=tuple(nodes),
        )
        pki.write_atomic(self.dir / "network.json", self._info.to_json().encode())
        return self._info

    def load(self) -> NetworkDescription:
        """Read network.json of an already prepared network (for operator commands)."""
        self._info = NetworkDescription.load(self.dir / "network.json")
        return self._info

    # -- certificate lifecycle -------------------------------------------------------
    def renew_all(self) -> None:
        """Renew every node and client certificate and re-sign every key document."""
        for plan in self.topology:
            self.issue_node_certificate(plan.name)
            self.publish_keys(plan)
        self.issue_client_certificates()

    def renew_due(self, now: dt.datetime) -> list[str]:
        """Renew the node certificates past half their lifetime; returns the nodes renewed."""
        renewed = []
        for plan in self.topology:
            cert = pki.load_certificate(self.node_dir(plan.name) / "node.crt")
            if pki.past_half_life(cert, now):
                self.issue_node_certificate(plan.name)
                renewed.append(plan.name)
        if self.pki.crl_due(now):
            self.pki.write_crls()
        return renewed

    def revoke_node(self, name: str) -> int:
        """Revoke a node's current certificate; returns its serial."""
        return self.pki.revoke(self.node_dir(name) / "node.crt")

    def rollover_begin(self) -> None:
        """Trust a new CA beside the old one; renewals now come from the new CA."""
        self.pki.begin_rollover()

    def rollover_finish(self) -> None:
        """Stop trusting the old CA (refused while any certificate still comes from it)."""
        in_use = [self.node_dir(p.name) / "node.crt" for p in self.topology]
        in_use += [self.pki_dir / "clients" / f"{stem}.crt" for stem in self._clients()]
        self.pki.finish_rollover(in_use)

    # -- sealing keys ------------------------------------------------------------------
    def keyring(self, name: str) -> NodeKeyring:
        """A node's private sealing keys."""
        return NodeKeyring(self.node_dir(name) / "sealing-keys.json")

    def publish_keys(self, plan: NodePlan) -> None:
        """Sign a node's current key document with the CA and put it in the key directory."""
        issuer = self.pki.signer()
        witnesses = [self.identity(self._plan(w)).spiffe_id for w in plan.witness_hops]
        document = self.keyring(plan.name).document(
            self.identity(plan).spiffe_id, clock.SYSTEM.now(), witnesses
        )
        publish(self.key_dir, plan.name, sign_document(document, issuer))

    def rotate_keys(self, name: str) -> None:
        """Give a node new sealing keys and publish them beside the old (overlap begins)."""
        rotate(self.keyring(name), clock.SYSTEM.now())
        self.publish_keys(self._plan(name))

    def retire_keys(self, name: str) -> list[str]:
        """End the overlap: drop all but the newest key of each use; returns the ids dropped."""
        ring = self.keyring(name)
        ring.refresh()
        old = superseded(ring.entries, clock.SYSTEM.now())
        retire(ring, old)
        self.publish_keys(self._plan(name))
        return old

    def _plan(self, name: str) -> NodePlan:
        for plan in self.topology:
            if plan.name == name:
                return plan
        known = ", ".join(p.name for p in self.topology)
        raise NetworkError(f"no node {name!r} in this local network (nodes: {known})")

    # -- processes ---------------------------------------------------------------
    def node_info(self, name: str) -> NodeEntry:
        """The network description's entry of one node."""
        return self.info.node(name)

    def _files(self, name: str) -> tuple[Path, Path]:
        """A local node's config and log file."""
        info = self.node_info(name)
        assert info.config is not None and info.log_file is not None  # set by prepare()
        return info.config, info.log_file

    def start_node(self, name: str, *, wait: bool = True) -> None:
        """Start one node's process (and wait until it answers health checks)."""
        config, log_file = self._files(name)
        self.supervisor.start(name, config, log_file)
        if wait:
            self.wait_healthy(name)

    def wait_healthy(self, name: str, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Block until `name` reports SERVING; raise if its process died or time ran out."""
        with self.operator_channel(name) as channel:
            self.supervisor.wait_healthy(name, channel, timeout)

    def stop_node(self, name: str) -> None:
        """Stop one node gracefully (it is not restarted)."""
        self.supervisor.stop(name)

    def start(self) -> None:
        """Start every node in topology order; the operator and the supervisor get every right
        on each."""
        for plan in self.topology:
            self.start_node(plan.name, wait=False)
        for plan in self.topology:
            self.wait_healthy(plan.name)
        self.grant_operator()
        self.grant_operator(SUPERVISOR[0])

    def grant_operator(self, client: str = OPERATOR) -> None:
        """Give `client` every right on every node it holds none on yet: admin-a grants, admin-b
        approves (the two-person rule, as anyone would)."""
        grantor, approver = ADMINISTRATORS
        operator = self.info.client(client).spiffe_id
        for node in self.info.nodes:
            if node.role is Role.CA:
                continue
            held = access.grants(self.info, node, grantor)
            if any(g.operator == operator and g.state == ACTIVE for g in held):
                continue
            grant = access.grant(self.info, node, grantor, operator, list(access.RIGHTS), 366)
            access.approve(self.info, node, approver, grant.grant_id)

    def stop(self) -> None:
        """Stop every node, all at once (signalled clients-side first)."""
        self.supervisor.stop_all([plan.name for plan in reversed(self.topology)])

    def describe_address(self, name: str, address: str) -> None:
        """Clients reach `name` at `address` from now on (e.g. a target naming its replicas)."""
        self._info = self.info.with_address(name, address)

    # -- clients -------------------------------------------------------------------
    def client_channel(self, node_name: str, client: str) -> grpc.Channel:
        """A channel to `node_name` presenting the certificate of `client` (e.g. 'operator')."""
        return connect(self.info, self.info.node(node_name), self.info.client(client))

    def operator_channel(self, node_name: str) -> grpc.Channel:
        """A channel to `node_name` as the operator."""
        return self.client_channel(node_name, OPERATOR)
