"""Sealing and opening envelopes: every check of envelope.py, key documents and rotation."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import grpc
import pytest

from juki.v1 import common_pb2, envelope_pb2
from jukinet.core import clock
from jukinet.core.errors import RefusedError
from jukinet.core.identity import Identity
from jukinet.dev import synthetic
from jukinet.sealing.envelope import AT_REST_METHOD
from jukinet.sealing.keys import (
    ML_DSA_65,
    KeyTrustError,
    retire,
    rotate,
    superseded,
)
from jukinet.sealing.sealed_rpc import SealedEndpoint
from jukinet.storage import open_database
from jukinet.trust import pki
from tests.helpers.sealing import World, make_world

CS = "spiffe://juki.example/cs/141003"
PREF14 = "spiffe://juki.example/prefecture/14"
PREF13 = "spiffe://juki.example/prefecture/13"
METHOD = "/juki.v1.PrefectureService/DeliverMunicipalChanges"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path, (CS, PREF14, PREF13))


def _batch() -> common_pb2.ChangeBatch:
    return common_pb2.ChangeBatch(changes=[synthetic.birth("141003", random.Random(5))])


def _reason(call: object) -> str:
    with pytest.raises(RefusedError) as caught:
        call()  # type: ignore[operator]
    return caught.value.reason


def test_sealed_batch_opens_for_its_recipient(world: World) -> None:
    envelope = world.sealer(CS).seal(_batch(), recipient=PREF14, method=METHOD)
    header, batch = world.sealer(PREF14).open(
        envelope, common_pb2.ChangeBatch, peer=CS, method=METHOD
    )
    assert batch == _batch()
    assert (header.sender, header.recipient, header.method) == (CS, PREF14, METHOD)
    assert header.suite == envelope_pb2.HPKE_SUITE_MLKEM768X25519_HKDFSHA256_AES256GCM
    assert header.payload_type == "juki.v1.ChangeBatch"
    assert len(envelope.encapsulated_key) == 1120
    # The plaintext is nowhere in the envelope.
    raw = envelope.SerializeToString()
    for value in (_batch().changes[0].record.juminhyo_code, _batch().changes[0].record.name_kanji):
        assert value.encode() not in raw


def test_envelope_for_another_node_is_refused(world: World) -> None:
    envelope = world.sealer(CS).seal(_batch(), recipient=PREF13, method=METHOD)
    opener = world.sealer(PREF14)
    reason = _reason(lambda: opener.open(envelope, common_pb2.ChangeBatch, peer=CS, method=METHOD))
    assert reason == "ENVELOPE_WRONG_RECIPIENT"


def test_envelope_signed_by_other_than_the_peer_is_refused(world: World) -> None:
    envelope = world.sealer(PREF13).seal(_batch(), recipient=PREF14, method=METHOD)
    opener = world.sealer(PREF14)
    reason = _reason(lambda: opener.open(envelope, common_pb2.ChangeBatch, peer=CS, method=METHOD))
    assert reason == "ENVELOPE_SENDER_NOT_PEER"


def test_envelope_for_another_method_is_refused(world: World) -> None:
    envelope = world.sealer(CS).seal(_batch(), recipient=PREF14, method="/juki.v1.Other/Method")
    opener = world.sealer(PREF14)
    reason = _reason(lambda: opener.open(envelope, common_pb2.ChangeBatch, peer=CS, method=METHOD))
    assert reason == "ENVELOPE_WRONG_METHOD"


@pytest.mark.parametrize("skew", [dt.timedelta(minutes=-6), dt.timedelta(minutes=6)])
def test_envelope_outside_the_time_window_is_refused(world: World, skew: dt.timedelta) -> None:
    envelope = world.sealer(CS).seal(
        _batch(), recipient=PREF14, method=METHOD, now=clock.SYSTEM.now() + skew
    )
    opener = world.sealer(PREF14)
    reason = _reason(lambda: opener.open(envelope, common_pb2.ChangeBatch, peer=CS, method=METHOD))
    assert reason == "ENVELOPE_OUTSIDE_TIME_WINDOW"


def test_any_flipped_byte_is_refused(world: World) -> None:
    envelope = world.sealer(CS).seal(_batch(), recipient=PREF14, method=METHOD)
    opener = world.sealer(PREF14)
    fields = ("header", "encapsulated_key", "ciphertext", "signature")
    checked = 0
    for name in fields:
        original = getattr(envelope, name)
        for i in range(len(original)):
            tampered = envelope_pb2.SealedEnvelope()
            tampered.CopyFrom(envelope)
            setattr(tampered, name, original[:i] + bytes([original[i] ^ 0x01]) + original[i + 1 :])
            with pytest.raises(RefusedError):
                opener.open(tampered, common_pb2.ChangeBatch, peer=CS, method=METHOD)
            checked += 1
    assert checked == sum(len(getattr(envelope, f)) for f in fields)


def test_unpublished_signing_key_is_unknown(world: World) -> None:
    world.add("spiffe://juki.example/cs/141305", published=False)
    envelope = world.sealer("spiffe://juki.example/cs/141305").seal(
        _batch(), recipient=PREF14, method=METHOD
    )
    opener = world.sealer(PREF14)
    reason = _reason(
        lambda: opener.open(
            envelope, common_pb2.ChangeBatch, peer="spiffe://juki.example/cs/141305", method=METHOD
        )
    )
    assert reason == "ENVELOPE_UNKNOWN_KEY"


def test_key_document_from_a_foreign_ca_is_ignored(world: World) -> None:
    world.add("spiffe://juki.example/cs/141305", published=False)
    world.publish("spiffe://juki.example/cs/141305", issuer=pki.create_ca("someone else"))
    with pytest.raises(KeyTrustError):
        world.sealer(CS).seal(_batch(), recipient="spiffe://juki.example/cs/141305", method=METHOD)


def test_rotation_keeps_old_envelopes_openable_until_retired(world: World) -> None:
    sender, receiver = world.sealer(CS), world.sealer(PREF14)
    before = sender.seal(_batch(), recipient=PREF14, method=METHOD)
    old_key = envelope_pb2.EnvelopeHeader.FromString(before.header).recipient_key_id
    rotate(world.rings[PREF14], clock.SYSTEM.now() + dt.timedelta(seconds=1))
    world.publish(PREF14)
    receiver = world.sealer(PREF14)
    after = world.sealer(CS).seal(
        _batch(), recipient=PREF14, method=METHOD, now=clock.SYSTEM.now() + dt.timedelta(seconds=2)
    )
    new_key = envelope_pb2.EnvelopeHeader.FromString(after.header).recipient_key_id
    assert new_key != old_key, "senders seal to the newest key"
    receiver.open(
        before, common_pb2.ChangeBatch, peer=CS, method=METHOD
    )  # overlap: old still opens
    receiver.open(
        after,
        common_pb2.ChangeBatch,
        peer=CS,
        method=METHOD,
        now=clock.SYSTEM.now() + dt.timedelta(seconds=2),
    )
    retire(world.rings[PREF14], [old_key])
    reason = _reason(lambda: receiver.open(before, common_pb2.ChangeBatch, peer=CS, method=METHOD))
    assert reason == "ENVELOPE_UNKNOWN_KEY"


def test_keys_made_for_later_are_published_first_and_used_from_then(world: World) -> None:
    """A node on its own host rotates with an activation time: peers may already seal to the
    new key (it holds the private half), but it signs with the old key until then, and the
    old keys are superseded only once the new ones are active."""
    ring = world.rings[PREF14]
    old_signing = ring.current_signing_key()[0]
    now = clock.SYSTEM.now()
    rotate(ring, now, now + dt.timedelta(hours=2))
    assert ring.current_signing_key()[0] == old_signing
    assert superseded(ring.entries, now) == []
    world.publish(PREF14)
    sealed = world.sealer(PREF14).seal(_batch(), recipient=CS, method=METHOD)
    world.sealer(CS).open(sealed, common_pb2.ChangeBatch, peer=PREF14, method=METHOD)
    later = now + dt.timedelta(hours=2, seconds=1)
    ring.clock = clock.ManualClock(later)
    assert ring.current_signing_key()[0] != old_signing
    dropped = superseded(ring.entries, later)
    assert old_signing.key_id in dropped and len(dropped) == 2  # encryption and signing
    assert all(not e.key_id.startswith("log-") for e in ring.entries if e.key_id in dropped)


def test_ml_dsa_65_signatures_work_too(world: World) -> None:
    world.add("spiffe://juki.example/cs/141305", signature_algorithm=ML_DSA_65)
    sender = world.sealer("spiffe://juki.example/cs/141305")
    envelope = sender.seal(_batch(), recipient=PREF14, method=METHOD)
    header, _ = world.sealer(PREF14).open(
        envelope, common_pb2.ChangeBatch, peer="spiffe://juki.example/cs/141305", method=METHOD
    )
    assert header.signature_algorithm == ML_DSA_65
    assert len(envelope.signature) == 3309


def test_a_replayed_message_id_is_refused(world: World, tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'node.db'}")
    envelope = world.sealer(CS).seal(_batch(), recipient=PREF14, method=METHOD)
    endpoint = SealedEndpoint(world.sealer(PREF14), METHOD)
    request = endpoint.open(envelope, common_pb2.ChangeBatch, Identity.parse(CS))
    with db.transaction() as conn:
        request.remember(conn)
    again = endpoint.open(envelope, common_pb2.ChangeBatch, Identity.parse(CS))
    with pytest.raises(RefusedError) as caught, db.transaction() as conn:
        again.remember(conn)
    assert (caught.value.code, caught.value.reason) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "ENVELOPE_REPLAYED",
    )
    db.dispose()


def test_private_key_file_is_owner_only(world: World) -> None:
    assert world.rings[CS].path.stat().st_mode & 0o777 == 0o600


def _change() -> common_pb2.Change:
    return _batch().changes[0]


def test_data_at_rest_opens_only_here_and_only_unaltered(world: World) -> None:
    mine, other = world.sealer(CS), world.sealer(PREF14)
    sealed = mine.seal_at_rest(_change())
    assert mine.open_at_rest(sealed, common_pb2.Change) == _change()
    for value in (_change().record.juminhyo_code, _change().record.my_number):
        assert value.encode() not in sealed
    assert sealed != mine.seal_at_rest(_change()), "a fresh nonce every time"
    # Another node holds no key of that id; a flipped byte or another type fails to authenticate.
    assert _reason(lambda: other.open_at_rest(sealed, common_pb2.Change)) == "AT_REST_KEY_RETIRED"
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    assert _reason(lambda: mine.open_at_rest(flipped, common_pb2.Change)) == "AT_REST_TAMPERED"
    as_batch = lambda: mine.open_at_rest(sealed, common_pb2.ChangeBatch)  # noqa: E731
    assert _reason(as_batch) == "AT_REST_TAMPERED"
    with pytest.raises(RefusedError) as caught:
        mine.open_at_rest(flipped, common_pb2.Change)
    assert caught.value.code == grpc.StatusCode.DATA_LOSS


def test_data_at_rest_survives_rotation_until_the_key_is_retired(world: World) -> None:
    ring = world.rings[CS]
    before = world.sealer(CS).seal_at_rest(_change())
    old_key = ring.current_encryption_entry().key_id
    rotate(ring, clock.SYSTEM.now())
    after = world.sealer(CS).seal_at_rest(_change())
    assert old_key.encode() in before and old_key.encode() not in after
    assert world.sealer(CS).open_at_rest(before, common_pb2.Change) == _change()
    retire(ring, [old_key])
    assert world.sealer(CS).open_at_rest(after, common_pb2.Change) == _change()
    reason = _reason(lambda: world.sealer(CS).open_at_rest(before, common_pb2.Change))
    assert reason == "AT_REST_KEY_RETIRED"


def test_data_sealed_at_rest_by_earlier_versions_still_opens(world: World) -> None:
    """Earlier versions sealed outbox entries as envelopes to the node itself."""
    mine = world.sealer(CS)
    legacy = mine.seal(_change(), recipient=CS, method=AT_REST_METHOD).SerializeToString()
    assert mine.open_at_rest(legacy, common_pb2.Change) == _change()
