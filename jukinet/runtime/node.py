"""One node process: a gRPC server with mTLS, policy, tracing, health, reflection and an outbox.

`Node(config, spec)` builds everything without serving, so tests and
`juki-net up` bind real ports and stop nodes gracefully; `serve()` runs a
node in the foreground until SIGINT/SIGTERM. What makes a node a CS, a
prefecture, fuhyo or national server is its kind's `ServiceSpec`, defined
with its servicers in the top-level `services` package; the Node hands them
its parts (database, sealer, logs, channels to its hops, clock).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from functools import cached_property
from types import FrameType
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from juki.v1 import trust_service_pb2 as trust_pb
from juki.v1 import trust_service_pb2_grpc as trust_grpc
from jukinet.ca.folder import CaFolder
from jukinet.ca.signing import Signer
from jukinet.changes.outbox import Deliverer, Hop
from jukinet.core.clock import SYSTEM, Clock
from jukinet.core.config import (
    HOPS,
    NEXT_HOP,
    SIGNING_SERVICE,
    NextHop,
    NodeConfig,
)
from jukinet.core.errors import Reason, passed_on
from jukinet.core.identity import Identity, Role
from jukinet.core.methods import HEALTH_SERVICE, REFLECTION_SERVICE
from jukinet.core.telemetry import grpc_server_interceptor, setup_tracing, traced_channel
from jukinet.core.unexpected import UnexpectedErrors
from jukinet.provision.log import ProvisionLog, load_or_create_secret
from jukinet.runtime import node_metrics
from jukinet.runtime.jobs import BackgroundJob
from jukinet.runtime.renewal import CertificateRenewer, expiry_warning
from jukinet.runtime.svid import SvidSource
from jukinet.runtime.trust_refresh import TrustFiles, TrustRefresher, read_folder
from jukinet.sealing.envelope import Sealer
from jukinet.sealing.key_directory import KeyDirectory
from jukinet.sealing.keys import NodeKeyring
from jukinet.sealing.sealed_rpc import SealedEndpoint, SealedStub, unary
from jukinet.storage import Database, open_database
from jukinet.storage.leadership import Leadership, claim_sqlite
from jukinet.trust import credentials, pki, tls
from jukinet.trust.access import AccessLedger
from jukinet.trust.audit import AuditLog
from jukinet.trust.authz import AuthorizationInterceptor
from jukinet.trust.credentials import CredentialWatcher, ReloadingChannel
from jukinet.trust.reissue import Renew
from jukinet.trust.revocation import RevocationList

log = logging.getLogger(__name__)

WORKERS = 16
# How long a node waits for another node's answer to a sealed call.
HOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ServiceSpec:
    """What makes a node a CS, a prefecture server, a fuhyo server or the national server.

    role: the role its certificate must carry.
    service_names: full names of the gRPC services it serves (for health and reflection).
    register: adds its servicers to the server.
    senders: for each hop its outbox delivers to (NEXT_HOP, FUHYO_HOP), how
        to make the function that sends a batch there; used where the node's
        config names that hop.
    """

    role: Role
    service_names: tuple[str, ...]
    register: Callable[[grpc.Server, Node], None]
    senders: Mapping[str, Callable[[Node], Hop]] = field(default_factory=dict)


EXPIRY_CHECK_S = 60.0


class Node:
    """A node's parts, wired but not yet serving."""

    def __init__(self, config: NodeConfig, spec: ServiceSpec, *, clock: Clock = SYSTEM) -> None:
        self.config = config
        self.clock = clock
        self.identity: Identity = config.identity
        if self.identity.role is not spec.role:
            raise ValueError(f"config identity is a {self.identity.role}, not a {spec.role}")
        self._sqlite_claim = claim_sqlite(config.database_url)  # one process per SQLite file
        self.db: Database = open_database(config.database_url)
        self.audit = AuditLog(self.db, clock)
        self.access = AccessLedger(self.db, self.audit, frozenset(config.administrators), clock)
        self.tracer_provider = setup_tracing(config.name, config.trace_file)
        self.tracer = self.tracer_provider.get_tracer("juki-net")
        self.svid: SvidSource | None = None
        if config.workload_api:
            # SPIRE issues and rotates this node's credentials: the first SVID before anything
            # reads the credential files.
            self.svid = SvidSource(config.workload_api, config.credentials, config.spiffe_id)
            self.svid.fetch()
        self.credentials = CredentialWatcher(config.credentials)
        self.keyring = NodeKeyring(config.keyring_file, clock=clock)
        self.key_directory = KeyDirectory(config.key_directory, config.credentials.trust_bundle)
        self.sealer = Sealer(self.identity.spiffe_id, self.keyring, self.key_directory, clock=clock)
        self.revocation = (
            RevocationList(config.revocation_list, config.credentials.trust_bundle, clock=clock)
            if config.revocation_list
            else None
        )
        self.health = health.HealthServicer()
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix=config.name),
            interceptors=[
                grpc_server_interceptor(self.tracer_provider),  # type: ignore[list-item]
                AuthorizationInterceptor(
                    self.identity,
                    self.audit,
                    revocation=self.revocation,
                    access=self.access,
                ),
                UnexpectedErrors(),  # innermost: the tracing interceptor never sees the text
            ],
            options=tls.server_options(config.max_connection_age_s),
        )
        self._stopped = threading.Event()
        self._channels = {
            name: self._reloading_channel(hop)
            for name in HOPS
            if (hop := getattr(config, name)) is not None
        }
        self.started_at = clock.now()
        self.trust_files = TrustFiles(
            config.credentials.trust_bundle,
            config.revocation_list or config.credentials.trust_bundle.with_name("crl.pem"),
            config.key_directory,
        )
        self.trust_refresher = self._trust_refresher()
        self.renewer = self._renewer()
        self._service_names = spec.service_names
        self._closers: list[Callable[[], None]] = []
        self._jobs: list[BackgroundJob] = []
        spec.register(self.server, self)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*self._service_names, HEALTH_SERVICE, REFLECTION_SERVICE), self.server
        )
        self.port = self.server.add_secure_port(
            config.listen, credentials.server_credentials(self.credentials)
        )
        if self.port == 0:
            raise OSError(f"could not bind {config.listen}")
        self.deliverers = [
            Deliverer(
                self.db,
                make(self),
                batch_size=config.outbox_batch_size,
                tracer=self.tracer,
                destination=destination,
                clock=clock,
                leader=self.leadership(f"outbox:{destination}").held,
            )
            for destination, make in spec.senders.items()
            if destination in self._channels
        ]

    def _trust_refresher(self) -> TrustRefresher | None:
        """Refreshes the trust material from the CA's folder or the next hop (if configured)."""
        config = self.config
        if config.trust_refresh_s <= 0:
            return None
        source = config.trust_source
        if source is not None:
            return TrustRefresher(
                self.trust_files,
                lambda: read_folder(source),
                interval_s=config.trust_refresh_s,
                clock=self.clock,
            )
        if NEXT_HOP not in self._channels:
            raise ValueError(
                "a node refreshing its trust material needs a trust_source or next_hop"
            )
        upstream = self._channels[NEXT_HOP]

        def fetch() -> trust_pb.TrustMaterial:
            try:
                reply = trust_grpc.TrustServiceStub(upstream.get()).GetTrustMaterial(
                    trust_pb.GetTrustMaterialRequest(), timeout=HOP_TIMEOUT_S
                )
            except grpc.RpcError as error:
                raise passed_on(error, unavailable=Reason.NEXT_HOP_UNAVAILABLE) from None
            material: trust_pb.TrustMaterial = reply.material
            return material

        return TrustRefresher(
            self.trust_files, fetch, interval_s=config.trust_refresh_s, clock=self.clock
        )

    def _renewer(self) -> CertificateRenewer | None:
        """Renews the node's certificate at half-life: at the CA's signing service, or, for the
        signing service itself, with its own CA folder (if either is configured)."""
        if self.svid is not None:
            return None  # SPIRE rotates the SVID
        renew = self._renew_at_service() or self._renew_with_ca_folder()
        if renew is None:
            return None
        creds = self.config.credentials
        return CertificateRenewer(
            self.credentials,
            cert_file=creds.cert_file,
            key_file=creds.key_file,
            renew=renew,
            clock=self.clock,
            check_s=self.config.renewal_check_s,
        )

    def _renew_at_service(self) -> Renew | None:
        if SIGNING_SERVICE not in self._channels:
            return None
        service = self._channels[SIGNING_SERVICE]

        def renew(csr_pem: bytes) -> bytes:
            try:
                reply = trust_grpc.CertificateServiceStub(service.get()).RenewCertificate(
                    trust_pb.RenewCertificateRequest(csr_pem=csr_pem), timeout=HOP_TIMEOUT_S
                )
            except grpc.RpcError as error:
                raise passed_on(error, unavailable=Reason.NEXT_HOP_UNAVAILABLE) from None
            return bytes(reply.certificate_pem)

        return renew

    def _renew_with_ca_folder(self) -> Renew | None:
        folder = self.config.ca_folder
        if folder is None:
            return None
        signer = Signer(CaFolder(folder, clock=self.clock))
        return lambda csr_pem: pki.pem(signer.renew(csr_pem, self.identity))

    def _reloading_channel(self, hop: NextHop) -> ReloadingChannel:
        """A traced mTLS channel to `hop`, rebuilt when this node's credentials change."""
        peer = Identity.parse(hop.spiffe_id)

        def build(m: credentials.Material) -> grpc.Channel:
            creds = tls.channel_credentials(m.key, m.cert, m.bundle)
            return traced_channel(tls.channel_to(hop.address, creds, peer), self.tracer_provider)

        return ReloadingChannel(self.credentials, build)

    def start(self) -> None:
        """Serve, mark every service SERVING, and start delivering the outbox."""
        self.server.start()
        for name in ("", *self._service_names):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        for deliverer in self.deliverers:
            deliverer.start()
        for job in (self.trust_refresher, self.renewer, self.svid, *self._jobs):
            if job is not None:
                job.start()
        threading.Thread(target=self._watch_expiry, name="expiry", daemon=True).start()
        stop_metrics = node_metrics.start(
            self.config, self.db, self.credentials, self.revocation, self.keyring, self.clock
        )
        self._closers.append(stop_metrics)
        log.info("%s serving on port %d", self.config.name, self.port)

    def _watch_expiry(self) -> None:
        while True:
            warning = expiry_warning(self.credentials.current().certificate, self.clock.now())
            if warning:
                log.warning("%s: %s", self.config.name, warning)
            if self._stopped.wait(EXPIRY_CHECK_S):
                return

    @cached_property
    def provision_log(self) -> ProvisionLog:
        """The provision log (only nodes that provide records create its hashing secret)."""
        config = self.config
        secret_file = config.log_secret_file or config.keyring_file.with_name(
            "provision-log.secret"
        )
        return ProvisionLog(self.db, load_or_create_secret(secret_file), clock=self.clock)

    def close_on_stop(self, close: Callable[[], None]) -> None:
        """Run `close` when the node stops (after in-flight calls finished)."""
        self._closers.append(close)

    def hop(self, name: str) -> NextHop | None:
        """The configured hop `name` (one of config.HOPS), or None."""
        hop: NextHop | None = getattr(self.config, name)
        return hop

    def channel(self, hop: str) -> grpc.Channel | None:
        """This node's current channel to the configured `hop` (None if it has none)."""
        reloading = self._channels.get(hop)
        return None if reloading is None else reloading.get()

    def sealed_stub(
        self,
        hop: str,
        *,
        method: str,
        rpc: Callable[[grpc.Channel], Callable[..., Any]],
        request_type: Callable[..., Any],
        unavailable: Reason,
        timeout_s: float = HOP_TIMEOUT_S,
    ) -> SealedStub | None:
        """The sealed RPC `method` to the configured `hop` (None if the node has no such hop).

        `rpc(channel)` is the stub method; the channel is this node's current one
        to the hop (rebuilt when its credentials change), traced.
        """
        target = self.hop(hop)
        if target is None:
            return None
        channel = self._channels[hop]
        return SealedStub(
            self.sealer,
            target.spiffe_id,
            method,
            unary(lambda: rpc(channel.get()), request_type, timeout_s=timeout_s),
            unavailable,
        )

    def endpoint(self, method: str) -> SealedEndpoint:
        """The server side of the sealed RPC `method` at this node."""
        return SealedEndpoint(self.sealer, method)

    def leadership(self, job: str) -> Leadership:
        """Whether this replica leads `job` (released when the node stops)."""
        leadership = Leadership(self.db, job)
        self._closers.append(leadership.release)
        return leadership

    def add_job(self, job: BackgroundJob) -> None:
        """A background job of a service, started and stopped with the node."""
        self._jobs.append(job)

    def changes_queued(self) -> None:
        """Tell the outboxes something new waits (called after a commit)."""
        for deliverer in self.deliverers:
            deliverer.notify()

    def stop(self, grace: float = 5.0) -> None:
        """Stop gracefully: NOT_SERVING, finish in-flight calls, stop delivery, flush spans."""
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        for deliverer in self.deliverers:
            deliverer.stop()
        for job in (self.trust_refresher, self.renewer, self.svid, *self._jobs):
            if job is not None:
                job.stop()
        self.server.stop(grace).wait()
        for channel in self._channels.values():
            channel.close()
        for close in self._closers:
            close()
        self.tracer_provider.shutdown()
        self.db.dispose()
        if self._sqlite_claim is not None:
            self._sqlite_claim.close()


def serve(config: NodeConfig, spec: ServiceSpec) -> None:
    """Run one node in the foreground until SIGINT or SIGTERM."""
    node = Node(config, spec)
    node.start()
    done = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> Any:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    done.wait()
    node.stop()
