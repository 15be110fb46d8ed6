"""Sealed delivery on real servers: each envelope refusal, its record, and no plaintext at rest."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from juki.v1 import common_pb2, envelope_pb2, prefecture_service_pb2
from juki.v1 import prefecture_service_pb2_grpc as prefecture_grpc
from jukinet.client.calls import submit_change
from jukinet.core import clock
from jukinet.core.errors import error_info
from jukinet.core.methods import DELIVER_MUNICIPAL_CHANGES
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.sealing import at_rest
from jukinet.sealing.envelope import Sealer
from jukinet.sealing.key_directory import KeyDirectory
from jukinet.sealing.keys import NodeKeyring, new_entries
from jukinet.storage.schema import audit_log, outbox, seen_envelopes
from tests.helpers.network import (
    channel_as,
    everything_written,
    node_credentials,
    node_db,
    node_sealer,
    versions,
    wait_for,
)

PREFECTURE = "prefecture-14"


def _batch(seed: int) -> common_pb2.ChangeBatch:
    return common_pb2.ChangeBatch(changes=[synthetic.birth("141003", random.Random(seed))])


def _deliver(
    net: LocalNetwork, envelope: envelope_pb2.SealedEnvelope, as_node: str = "cs-141003"
) -> object:
    with channel_as(net, PREFECTURE, node_credentials(net, as_node)) as channel:
        return prefecture_grpc.PrefectureServiceStub(channel).DeliverMunicipalChanges(
            prefecture_service_pb2.DeliverMunicipalChangesRequest(envelope=envelope), timeout=5
        )


def _recipient(net: LocalNetwork) -> str:
    return str(net.node_info(PREFECTURE).spiffe_id)


def _refused_reasons(net: LocalNetwork) -> list[str]:
    engine = node_db(net, PREFECTURE)
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.reason).where(audit_log.c.outcome == "refused")
        ).all()
    engine.dispose()
    return [r.reason for r in rows]


def _assert_refused(
    net: LocalNetwork, envelope: envelope_pb2.SealedEnvelope, code: grpc.StatusCode, reason: str
) -> None:
    before = everything_written(net)
    with pytest.raises(grpc.RpcError) as caught:
        _deliver(net, envelope)
    assert caught.value.code() == code
    assert error_info(caught.value).reason == reason
    assert everything_written(net) == before, "nothing is applied"
    assert reason in _refused_reasons(net), "the refusal is recorded"


def test_replayed_envelope_is_refused(network: LocalNetwork) -> None:
    envelope = node_sealer(network, "cs-141003").seal(
        _batch(201), recipient=_recipient(network), method=DELIVER_MUNICIPAL_CHANGES
    )
    _deliver(network, envelope)
    code = _batch(201).changes[0].record.juminhyo_code
    wait_for(lambda: versions(network, "national", code))  # let the first delivery settle
    _assert_refused(network, envelope, grpc.StatusCode.ALREADY_EXISTS, "ENVELOPE_REPLAYED")


def test_envelope_for_another_node_is_refused(network: LocalNetwork) -> None:
    envelope = node_sealer(network, "cs-141003").seal(
        _batch(202),
        recipient=network.node_info("national").spiffe_id,
        method=DELIVER_MUNICIPAL_CHANGES,
    )
    _assert_refused(
        network, envelope, grpc.StatusCode.PERMISSION_DENIED, "ENVELOPE_WRONG_RECIPIENT"
    )


def test_stale_envelope_is_refused(network: LocalNetwork) -> None:
    envelope = node_sealer(network, "cs-141003").seal(
        _batch(203),
        recipient=_recipient(network),
        method=DELIVER_MUNICIPAL_CHANGES,
        now=clock.SYSTEM.now() - dt.timedelta(minutes=5, seconds=10),
    )
    _assert_refused(
        network, envelope, grpc.StatusCode.FAILED_PRECONDITION, "ENVELOPE_OUTSIDE_TIME_WINDOW"
    )


@pytest.mark.parametrize("field", ["header", "encapsulated_key", "ciphertext", "signature"])
def test_tampered_envelope_is_refused(network: LocalNetwork, field: str) -> None:
    envelope = node_sealer(network, "cs-141003").seal(
        _batch(204), recipient=_recipient(network), method=DELIVER_MUNICIPAL_CHANGES
    )
    value = getattr(envelope, field)
    i = (
        len(value) // 2 if field != "header" else len(value) - 3
    )  # inside the sealed_at/payload_type tail
    setattr(envelope, field, value[:i] + bytes([value[i] ^ 0x80]) + value[i + 1 :])
    before = everything_written(network)
    with pytest.raises(grpc.RpcError) as caught:
        _deliver(network, envelope)
    assert error_info(caught.value).reason in {"ENVELOPE_TAMPERED", "ENVELOPE_MALFORMED"}
    assert everything_written(network) == before


def test_envelope_with_an_unknown_key_is_refused(network: LocalNetwork, tmp_path: Path) -> None:
    info = network.node_info("cs-141003")
    rogue = NodeKeyring.create(
        tmp_path / "rogue.json", new_entries(clock.SYSTEM.now() - dt.timedelta(minutes=1))
    )
    sealer = Sealer(info.spiffe_id, rogue, KeyDirectory(network.key_dir, network.bundle))
    envelope = sealer.seal(
        _batch(205), recipient=_recipient(network), method=DELIVER_MUNICIPAL_CHANGES
    )
    _assert_refused(network, envelope, grpc.StatusCode.FAILED_PRECONDITION, "ENVELOPE_UNKNOWN_KEY")


def test_envelope_signed_by_a_node_other_than_the_peer_is_refused(network: LocalNetwork) -> None:
    envelope = node_sealer(network, "cs-141305").seal(
        _batch(206), recipient=_recipient(network), method=DELIVER_MUNICIPAL_CHANGES
    )
    _assert_refused(
        network, envelope, grpc.StatusCode.PERMISSION_DENIED, "ENVELOPE_SENDER_NOT_PEER"
    )


def test_envelope_for_another_method_is_refused(network: LocalNetwork) -> None:
    envelope = node_sealer(network, "cs-141003").seal(
        _batch(207),
        recipient=_recipient(network),
        method="/juki.v1.NationalService/DeliverPrefectureChanges",
    )
    _assert_refused(network, envelope, grpc.StatusCode.PERMISSION_DENIED, "ENVELOPE_WRONG_METHOD")


def _outbox_payloads(net: LocalNetwork, node: str) -> list[bytes]:
    engine = node_db(net, node)
    with engine.connect() as conn:
        payloads = [r.payload for r in conn.execute(select(outbox.c.payload))]
    engine.dispose()
    return payloads


def test_outboxes_hold_sealed_data_only(network: LocalNetwork) -> None:
    changes = [synthetic.birth("141003", random.Random(300 + i)) for i in range(3)]
    network.stop_node("national")  # keep rows pending at the prefecture as well
    try:
        for change in changes:
            submit_change(network.info, change)
        for change in changes:
            wait_for(lambda c=change: versions(network, PREFECTURE, c.record.juminhyo_code))
    finally:
        network.start_node("national")
    wait_for(lambda: all(versions(network, "national", c.record.juminhyo_code) for c in changes))
    secrets: list[bytes] = []
    for c in changes:
        r = c.record
        for value in (r.juminhyo_code, r.my_number, r.name_kanji, r.name_kana, r.address.text):
            secrets.append(value.encode())
            secrets.append(value.encode("utf-16-le"))
    scanned = 0
    for node in network.info.nodes:
        for payload in _outbox_payloads(network, node.name):
            for secret in secrets:
                assert secret not in payload, f"plaintext in {node.name}'s outbox"
            assert at_rest.is_sealed_here(payload)
            scanned += 1
    assert scanned >= 6, "the CS and the prefecture both queued the changes"


def test_sealed_flow_is_recorded_on_both_sides(network: LocalNetwork) -> None:
    """The receiver remembers each envelope id (replay table) it applied."""
    change = synthetic.birth("141003", random.Random(400))
    submit_change(network.info, change)
    wait_for(lambda: versions(network, "national", change.record.juminhyo_code))
    engine = node_db(network, "national")
    with engine.connect() as conn:
        senders = {r.sender for r in conn.execute(select(seen_envelopes.c.sender))}
    engine.dispose()
    assert "spiffe://juki.example/prefecture/14" in senders


def _national_has(net: LocalNetwork, seed: int) -> common_pb2.Change:
    change = synthetic.birth("141003", random.Random(seed))
    submit_change(net.info, change)
    wait_for(lambda: versions(net, "national", change.record.juminhyo_code))
    return change


def test_key_rotation_under_traffic(network: LocalNetwork) -> None:
    """Rotate the prefecture's keys on the running network: old and new both work, then retire."""
    ring = network.keyring(PREFECTURE)
    ring.refresh()
    # The sealing keys rotate; the log key, which signs checkpoints for years, stays.
    old_ids = {e.key_id for e in ring.entries if e.use != envelope_pb2.KEY_USE_LOG}
    # An envelope sealed to the old key before the rotation, delivered after it.
    before = node_sealer(network, "cs-141003").seal(
        _batch(500), recipient=_recipient(network), method=DELIVER_MUNICIPAL_CHANGES
    )
    network.rotate_keys(PREFECTURE)
    after = node_sealer(network, "cs-141003").seal(
        _batch(501), recipient=_recipient(network), method=DELIVER_MUNICIPAL_CHANGES
    )
    new_key = envelope_pb2.EnvelopeHeader.FromString(after.header).recipient_key_id
    assert new_key not in old_ids, "senders seal to the newly published key"
    _deliver(network, before)  # the overlap: the old key still opens
    _deliver(network, after)
    _national_has(network, 502)  # the nodes' own outboxes pick up the new document
    dropped = network.retire_keys(PREFECTURE)
    assert set(dropped) == old_ids
    _national_has(network, 503)
    # A sealer reading the directory now sees only the new key ...
    directory = KeyDirectory(network.key_dir, network.bundle)
    assert directory.encryption_key(_recipient(network), clock.SYSTEM.now()).key_id == new_key
    # ... and an envelope sealed to a retired key can no longer be opened (checked before replay).
    _assert_refused(network, before, grpc.StatusCode.FAILED_PRECONDITION, "ENVELOPE_UNKNOWN_KEY")
