"""Encrypted backups: sealed to a custodian's key, refused when cut, altered or opened with
another key; a node restored from one into a fresh database is consistent with its neighbours."""

from __future__ import annotations

import io
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from juki.v1 import consistency_service_pb2 as consistency_pb
from jukinet.client import calls as clients
from jukinet.core import clock
from jukinet.dev import localpg, synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.runtime import backup
from jukinet.sealing import backup_box
from jukinet.sealing.backup_box import BackupError, BackupSigner
from jukinet.sealing.keys import ED25519
from jukinet.storage import open_database
from jukinet.storage.schema import audit_log
from jukinet.transparency import tlog, verify
from jukinet.trust.audit import AuditLog
from tests.helpers.cli import juki_net
from tests.helpers.damage import CUTS, FLIPS, TAILS, damaged, examples
from tests.helpers.network import pending_outbox, running_network, versions, wait_for
from tests.helpers.postgres import postgres_server
from tests.helpers.sealing import make_world

PREFECTURE = "spiffe://juki.example/prefecture/14"
SMALL = b"a small database" * 30


def _signer() -> tuple[BackupSigner, Ed25519PublicKey]:
    key = Ed25519PrivateKey.generate()
    return BackupSigner("k1", ED25519, key.sign), key.public_key()


def _sealed(tmp_path: Path, data: bytes) -> tuple[bytes, Path, Ed25519PublicKey]:
    public, private = backup_box.make_recipient(tmp_path / "custodian")
    out = io.BytesIO()
    signer, verifying = _signer()
    backup_box.seal(io.BytesIO(data), out, {"node": "test"}, public, signer)
    return out.getvalue(), private, verifying


@pytest.fixture(scope="module")
def sealed_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[bytes, Path, Ed25519PublicKey]:
    """One sealed and signed backup of SMALL, its custodian key and the signer's public key."""
    return _sealed(tmp_path_factory.mktemp("sealed"), SMALL)


def _open(sealed: bytes, key: Path, verifying: Ed25519PublicKey) -> bytes:
    def verify(header: dict[str, Any], signed: bytes, signature: bytes) -> None:
        assert header["signer_key_id"] == "k1"
        try:
            verifying.verify(signature, signed)
        except InvalidSignature:
            raise BackupError("not signed") from None

    out = io.BytesIO()
    backup_box.open_sealed(io.BytesIO(sealed), out, key, verify)
    return out.getvalue()


def test_a_sealed_backup_opens_only_whole_unaltered_signed_and_with_its_key(
    tmp_path: Path,
) -> None:
    data = random.Random(5).randbytes(backup_box.CHUNK * 2 + 12345)  # three chunks
    sealed, key, verifying = _sealed(tmp_path, data)
    assert _open(sealed, key, verifying) == data
    assert data[:4096] not in sealed
    assert oct((key.stat().st_mode) & 0o777) == "0o600"
    signature = 4 + 64
    cut_at_chunk = len(sealed) - signature - (backup_box.CHUNK + 12345 + 16 + 4)
    tampered = bytearray(sealed)
    tampered[len(sealed) // 2] ^= 1
    header_changed = sealed.replace(b'"node": "test"', b'"node": "tess"')
    unsigned = sealed[:-signature]
    for broken in (sealed[:-1], sealed[:cut_at_chunk], bytes(tampered), header_changed, unsigned):
        with pytest.raises(BackupError):
            _open(broken, key, verifying)
    _, other_key, _ = _sealed(tmp_path / "other", b"x")
    with pytest.raises(BackupError, match="another recipient"):
        _open(sealed, other_key, verifying)
    # Sealed with the custodian's public key by someone else: opens, but is not the node's.
    forged, _, _ = _sealed(tmp_path, data)
    with pytest.raises(BackupError, match="not signed"):
        _open(forged, key, verifying)


@pytest.mark.parametrize("field", ["header", "sealed key", "chunk", "signature"])
def test_every_length_of_a_backup_is_bounded_before_it_is_read(tmp_path: Path, field: str) -> None:
    sealed, key, verifying = _sealed(tmp_path, b"a small database")
    # Where each length prefix stands: after MAGIC, then after each field in turn.
    at = len(backup_box.MAGIC)
    offsets = {}
    for name in ("header", "sealed key", "chunk", "signature"):
        offsets[name] = at
        at += 4 + int.from_bytes(sealed[at : at + 4], "big")
    assert at == len(sealed)
    position = offsets[field]
    huge = sealed[:position] + (2**32 - 1).to_bytes(4, "big") + sealed[position + 4 :]
    with pytest.raises(BackupError, match="longer than any"):
        _open(huge, key, verifying)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with running_network(tmp_path_factory.mktemp("net")) as net:
        yield net


def _compared(net: LocalNetwork, node: str) -> consistency_pb.ConsistencyReport | None:
    """The resident comparison of 141003 at `node`; None while its next hop is not back yet."""
    try:
        (report,) = clients.consistency_check(
            net.info, net.info.node(node), "141003", consistency_pb.RECORD_FILE_RESIDENT
        )
    except grpc.RpcError as error:
        if error.code() is grpc.StatusCode.UNAVAILABLE:
            return None
        raise
    return report


def test_backup_restore_into_a_fresh_node_then_the_consistency_check_finds_nothing(
    network: LocalNetwork, tmp_path: Path
) -> None:
    rng = random.Random(515)
    births = [synthetic.birth("141003", rng) for _ in range(5)]
    for change in births:
        clients.submit_change(network.info, change)
    last = births[-1].record.juminhyo_code
    wait_for(lambda: versions(network, "national", last), timeout=60)
    wait_for(lambda: pending_outbox(network, "prefecture-14") == 0, timeout=60)
    config = network.node_info("prefecture-14").config
    assert config is not None
    done = juki_net("backup-key", "--out", str(tmp_path / "custodian"))
    assert done.returncode == 0, done.stderr
    recipient = tmp_path / "custodian" / "backup-recipient.pub"
    key = tmp_path / "custodian" / "backup-recipient.key"
    backup = tmp_path / "prefecture-14.backup"
    done = juki_net(
        "backup", "--config", str(config), "--recipient", str(recipient), "--out", str(backup)
    )
    assert done.returncode == 0, done.stderr
    sealed = backup.read_bytes()
    for change in births:  # nothing of a person is readable in the file
        assert change.record.juminhyo_code.encode() not in sealed
        assert change.record.name_kanji.encode() not in sealed
    # Into a node that holds data: refused, one line.
    done = juki_net("restore", "--config", str(config), "--in", str(backup), "--key", str(key))
    assert done.returncode == 2 and "already holds data" in done.stderr
    # Of another node: refused.
    other = network.node_info("prefecture-13").config
    done = juki_net("restore", "--config", str(other), "--in", str(backup), "--key", str(key))
    assert done.returncode == 2 and "not of this node" in done.stderr
    # The node's disk is lost: a fresh database, restored from the backup.
    network.stop_node("prefecture-14")
    database = Path(network.node_info("prefecture-14").database_url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        lost = database.with_name(database.name + suffix)
        if lost.exists():
            os.rename(lost, tmp_path / f"lost{suffix}")
    done = juki_net("restore", "--config", str(config), "--in", str(backup), "--key", str(key))
    assert done.returncode == 0, done.stderr
    network.start_node("prefecture-14")
    assert versions(network, "prefecture-14", last)
    below = wait_for(lambda: _compared(network, "cs-141003"), timeout=60, interval=1.0)
    above = wait_for(lambda: _compared(network, "prefecture-14"), timeout=60, interval=1.0)
    for report in (below, above):
        assert report.complete, report.incomplete_reason
        found = report.found
        kinds = (found.missing_above, found.missing_below)
        assert (*kinds, found.different_version, found.different_content) == (0, 0, 0, 0)


def test_a_postgresql_node_is_backed_up_with_pg_dump_and_restored_with_pg_restore(
    tmp_path: Path,
) -> None:
    with postgres_server() as server:
        source_url = localpg.create_database(server, "source")
        source = open_database(source_url)
        AuditLog(source).append(
            actor="spiffe://juki.example/operator/14/a", action="/m", outcome="ok"
        )
        source.dispose()
        public, private = backup_box.make_recipient(tmp_path / "custodian")
        out = tmp_path / "pg.backup"
        world = make_world(tmp_path / "world", (PREFECTURE,))
        source_config = world.node_config(PREFECTURE, source_url)
        header = backup.take(source_config, public, out, clock.SYSTEM.now())
        assert header["database"] == "postgresql"
        fresh = world.node_config(PREFECTURE, localpg.create_database(server, "fresh"))
        backup.restore(fresh, out, private)
        with pytest.raises(BackupError, match="already holds data"):
            backup.restore(fresh, out, private)
        restored = open_database(fresh.database_url)
        with restored.reading() as conn:
            assert verify.rows_against_leaves(conn, tlog.AUDIT) == []
            assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 1
        restored.dispose()


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=CUTS,
    flips=FLIPS,
    tail=TAILS,
)
def test_any_backup_file_opens_whole_or_is_one_backup_error(
    sealed_once: tuple[bytes, Path, Ed25519PublicKey],
    cut: int,
    flips: list[tuple[int, int]],
    tail: bytes,
) -> None:
    # A real backup cut short anywhere, with bytes changed anywhere and anything appended: it
    # opens only as it was written; anything else is a BackupError, never another exception.
    sealed, key, verifying = sealed_once
    changed = damaged(sealed, cut, flips, tail)
    try:
        opened = _open(changed, key, verifying)
    except BackupError:
        return
    assert changed == sealed and opened == SMALL


@settings(max_examples=examples(150), deadline=None)
@given(st.binary(max_size=512))
def test_any_bytes_after_the_magic_are_one_backup_error(
    sealed_once: tuple[bytes, Path, Ed25519PublicKey], rest: bytes
) -> None:
    _, key, verifying = sealed_once
    with pytest.raises(BackupError):
        _open(backup_box.MAGIC + rest, key, verifying)
