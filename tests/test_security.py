"""Mutual TLS and the policy table: who is refused, with what status; nothing is written."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from juki.v1 import (
    common_pb2,
    cs_service_pb2,
    cs_service_pb2_grpc,
    envelope_pb2,
    national_service_pb2,
    national_service_pb2_grpc,
    prefecture_service_pb2,
    prefecture_service_pb2_grpc,
)
from jukinet.core import clock
from jukinet.core.config import Credentials
from jukinet.core.errors import error_info
from jukinet.core.identity import Identity
from jukinet.core.methods import DELIVER_PREFECTURE_CHANGES
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.storage import open_database
from jukinet.storage.schema import audit_log
from jukinet.transparency import tlog, verify
from jukinet.trust import pki, tls
from jukinet.trust.credentials import CredentialWatcher, server_credentials
from tests.helpers.certs import credentials_for, credentials_without_spiffe_id
from tests.helpers.network import (
    channel_as,
    everything_written,
    node_credentials,
    node_db,
    node_sealer,
)

DOMAIN = "spiffe://juki.example"


def _submit(net: LocalNetwork, creds: Credentials, node: str = "cs-141003") -> None:
    change = synthetic.birth("141003", random.Random())
    with channel_as(net, node, creds) as channel:
        cs_service_pb2_grpc.CsServiceStub(channel).SubmitChange(
            cs_service_pb2.SubmitChangeRequest(change=change), timeout=5
        )


def _refused(net: LocalNetwork, call: Callable[[], Any]) -> grpc.RpcError:
    before = everything_written(net)
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert everything_written(net) == before, "a refused call wrote something"
    return caught.value


def test_client_without_certificate_is_refused(network: LocalNetwork) -> None:
    info = network.node_info("cs-141003")
    creds = grpc.ssl_channel_credentials(root_certificates=network.bundle.read_bytes())
    channel = grpc.secure_channel(
        info.address, creds, options=[("grpc.ssl_target_name_override", info.tls_name)]
    )
    stub = cs_service_pb2_grpc.CsServiceStub(channel)
    change = synthetic.birth("141003", random.Random())
    error = _refused(
        network,
        lambda: stub.SubmitChange(cs_service_pb2.SubmitChangeRequest(change=change), timeout=5),
    )
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # the TLS handshake itself fails
    channel.close()


def test_certificate_from_another_ca_is_refused(network: LocalNetwork, tmp_path: Path) -> None:
    foreign = pki.create_ca("someone else's CA")
    creds = credentials_for(
        network, tmp_path, "foreign", f"{DOMAIN}/register/141003", issuer=foreign
    )
    error = _refused(network, lambda: _submit(network, creds))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


def test_expired_certificate_is_refused(network: LocalNetwork, tmp_path: Path) -> None:
    creds = credentials_for(
        network,
        tmp_path,
        "expired",
        f"{DOMAIN}/register/141003",
        not_before=clock.SYSTEM.now() - dt.timedelta(days=2),
        lifetime=dt.timedelta(days=1),
    )
    error = _refused(network, lambda: _submit(network, creds))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


def test_certificate_without_spiffe_id_is_unauthenticated(
    network: LocalNetwork, tmp_path: Path
) -> None:
    creds = credentials_without_spiffe_id(network, tmp_path)
    error = _refused(network, lambda: _submit(network, creds))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(error).reason == "NO_NETWORK_IDENTITY"


def test_foreign_trust_domain_is_unauthenticated(network: LocalNetwork, tmp_path: Path) -> None:
    creds = credentials_for(
        network, tmp_path, "other-domain", "spiffe://other.example/register/141003"
    )
    error = _refused(network, lambda: _submit(network, creds))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    "spiffe_id",
    [
        f"{DOMAIN}/register/141305",  # another municipality's register system
        f"{DOMAIN}/operator/14/alice",  # operators do not enter changes
        f"{DOMAIN}/cs/141003",  # the CS itself is not its register system
        f"{DOMAIN}/organ/14/passport-centre",
    ],
)
def test_wrong_identity_cannot_submit(
    network: LocalNetwork, tmp_path: Path, spiffe_id: str
) -> None:
    creds = credentials_for(network, tmp_path, "wrong", spiffe_id)
    error = _refused(network, lambda: _submit(network, creds))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(error).reason == "CALLER_NOT_ADMITTED"
    # The refusal is on record, with the caller's identity, and the chain is intact.
    engine = node_db(network, "cs-141003")
    with engine.connect() as conn:
        actors = [
            r.actor for r in conn.execute(select(audit_log).where(audit_log.c.outcome == "refused"))
        ]
    engine.dispose()
    assert spiffe_id in actors
    with open_database(network.node_info("cs-141003").database_url).reading() as conn:
        assert verify.rows_against_leaves(conn, tlog.AUDIT) == []


# The policy refuses these callers before their payload is even looked at.
NO_ENVELOPE = envelope_pb2.SealedEnvelope()


@pytest.mark.parametrize(
    "spiffe_id",
    [f"{DOMAIN}/cs/131016", f"{DOMAIN}/prefecture/14", f"{DOMAIN}/national", f"{DOMAIN}/fuhyo/14"],
)
def test_only_a_cs_of_the_prefecture_delivers_to_it(
    network: LocalNetwork, tmp_path: Path, spiffe_id: str
) -> None:
    creds = credentials_for(network, tmp_path, "node", spiffe_id)

    def call() -> None:
        with channel_as(network, "prefecture-14", creds) as channel:
            prefecture_service_pb2_grpc.PrefectureServiceStub(channel).DeliverMunicipalChanges(
                prefecture_service_pb2.DeliverMunicipalChangesRequest(envelope=NO_ENVELOPE),
                timeout=5,
            )

    assert _refused(network, call).code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    "spiffe_id", [f"{DOMAIN}/cs/141003", f"{DOMAIN}/fuhyo/14", f"{DOMAIN}/operator/14/bob"]
)
def test_only_prefecture_servers_deliver_to_national(
    network: LocalNetwork, tmp_path: Path, spiffe_id: str
) -> None:
    creds = credentials_for(network, tmp_path, "node", spiffe_id)

    def call() -> None:
        with channel_as(network, "national", creds) as channel:
            national_service_pb2_grpc.NationalServiceStub(channel).DeliverPrefectureChanges(
                national_service_pb2.DeliverPrefectureChangesRequest(envelope=NO_ENVELOPE),
                timeout=5,
            )

    assert _refused(network, call).code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_prefecture_cannot_deliver_another_prefectures_change(
    network: LocalNetwork, tmp_path: Path
) -> None:
    # A change of 141003 (Kanagawa) delivered, properly sealed, by Tokyo's server.
    batch = common_pb2.ChangeBatch(changes=[synthetic.birth("141003", random.Random())])
    envelope = node_sealer(network, "prefecture-13").seal(
        batch,
        recipient=network.node_info("national").spiffe_id,
        method=DELIVER_PREFECTURE_CHANGES,
    )
    before = everything_written(network)
    with channel_as(network, "national", node_credentials(network, "prefecture-13")) as channel:
        reply = national_service_pb2_grpc.NationalServiceStub(channel).DeliverPrefectureChanges(
            national_service_pb2.DeliverPrefectureChangesRequest(envelope=envelope), timeout=5
        )
    (result,) = reply.results
    assert result.outcome == common_pb2.CHANGE_OUTCOME_REJECTED
    assert result.reason == "ORIGIN_MISMATCH"
    after = everything_written(network)
    assert after["national"][0] == before["national"][0], "no record version was written"


def test_invalid_change_names_the_field_not_the_value(network: LocalNetwork) -> None:
    change = synthetic.birth("141003", random.Random())
    change.record.my_number = change.record.my_number[:-1] + str(
        (int(change.record.my_number[-1]) + 1) % 10
    )
    with network.client_channel("cs-141003", "register-141003") as channel:
        stub = cs_service_pb2_grpc.CsServiceStub(channel)
        error = _refused(
            network,
            lambda: stub.SubmitChange(cs_service_pb2.SubmitChangeRequest(change=change), timeout=5),
        )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(error)
    assert (info.reason, info.metadata["field"]) == ("INVALID_FIELD", "record.my_number")
    for value in (change.record.my_number, change.record.juminhyo_code, change.record.name_kanji):
        assert value not in error.details()


def test_tls13_with_hybrid_post_quantum_key_exchange(tmp_path: Path) -> None:
    """Our server and channel credentials negotiate TLS 1.3 with X25519MLKEM768."""
    issuer = pki.create_ca("test CA")
    pki.write_bundle(tmp_path / "bundle.pem", [issuer.certificate])
    server_id, client_id = (
        Identity.parse(f"{DOMAIN}/national"),
        Identity.parse(f"{DOMAIN}/prefecture/14"),
    )

    def creds(identity: Identity, stem: str, **kw: Any) -> Credentials:
        cert, key = pki.issue(issuer, identity, **kw)
        c, k = pki.write_pair(tmp_path, stem, cert, key)
        return Credentials(cert_file=c, key_file=k, trust_bundle=tmp_path / "bundle.pem")

    server_creds = creds(server_id, "server", dns_names=[tls.node_dns_name(server_id)])
    client_creds = creds(client_id, "client")
    seen: dict[str, list[bytes]] = {}

    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        seen.update(context.auth_context())
        return b"ok"

    server = grpc.server(futures.ThreadPoolExecutor(2))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "t.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(handler)}
            )
        ]
    )
    port = server.add_secure_port(
        "127.0.0.1:0", server_credentials(CredentialWatcher(server_creds))
    )
    server.start()
    try:
        with tls.secure_channel(f"127.0.0.1:{port}", client_creds, server_id) as channel:
            assert channel.unary_unary("/t.Echo/Echo")(b"x", timeout=5) == b"ok"
    finally:
        server.stop(0)
    assert seen["ssl_tls_version"] == [b"TLSv1.3"]
    assert seen["ssl_negotiated_key_exchange_group"] == [b"X25519MLKEM768"]
    assert seen["peer_spiffe_id"] == [client_id.spiffe_id.encode()]


def test_channel_refuses_a_server_with_another_identity(network: LocalNetwork) -> None:
    """A record is never sent to a node other than the expected one, even at the right address."""
    info = network.node_info("prefecture-13")  # a real node, but not the one we expect
    who = network.info.clients["register-141003"]
    creds = Credentials(cert_file=who.cert, key_file=who.key, trust_bundle=network.bundle)
    with (
        tls.secure_channel(info.address, creds, Identity.parse(f"{DOMAIN}/cs/141003")) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        cs_service_pb2_grpc.CsServiceStub(channel).SubmitChange(
            cs_service_pb2.SubmitChangeRequest(change=synthetic.birth("141003")), timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
