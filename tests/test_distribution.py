"""Trust material between hosts: only what a trusted CA signed is taken in, never an older bundle,
the last good copy stays when a part fails, and a CA rollover reaches a node that trusted only
the old CA."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from juki.v1 import envelope_pb2
from juki.v1 import trust_service_pb2 as pb
from jukinet.ca.folder import CaFolder
from jukinet.ca.signing import Signer
from jukinet.core import clock
from jukinet.core.identity import Identity
from jukinet.runtime.trust_refresh import TrustFiles, TrustRefresher, _not_older, read_folder
from jukinet.sealing.key_documents import sign_document, verify_document
from jukinet.sealing.keys import NodeKeyring, new_entries
from jukinet.trust import pki
from jukinet.trust.distribution import (
    TrustMaterialError,
    sign_bundle,
    verify_bundle,
    verify_crls,
)
from tests.helpers.damage import CUTS, FLIPS, TAILS, damaged, examples

NODE = "spiffe://juki.example/prefecture/14"
IDENTITY = Identity.parse(NODE)
PEM = serialization.Encoding.PEM


@pytest.fixture
def ca(tmp_path: Path) -> CaFolder:
    folder = CaFolder(tmp_path / "pki")
    folder.ensure_ca()
    return folder


def _node_files(tmp_path: Path, ca: CaFolder) -> TrustFiles:
    """A node that was handed the CA's bundle and nothing else yet."""
    files = TrustFiles(
        tmp_path / "node/bundle.pem", tmp_path / "node/crl.pem", tmp_path / "node/keys"
    )
    files.key_directory.mkdir(parents=True)
    files.bundle.write_bytes(ca.bundle.read_bytes())
    return files


def _refresher(files: TrustFiles, fetch: object) -> TrustRefresher:
    return TrustRefresher(files, fetch, interval_s=60, clock=clock.SYSTEM)  # type: ignore[arg-type]


def test_a_bundle_is_taken_only_from_a_trusted_ca_and_never_older(ca: CaFolder) -> None:
    signer = ca.signer()
    pem = ca.bundle.read_bytes()
    now = clock.SYSTEM.now()
    signed = sign_bundle([signer], pem, now)
    assert verify_bundle(signed, [signer.certificate], None) == [signer.certificate]
    foreign = pki.create_ca("someone else")
    with pytest.raises(TrustMaterialError, match="not signed by a CA trusted here"):
        verify_bundle(sign_bundle([foreign], pem, now), [signer.certificate], None)
    tampered = pb.SignedTrustBundle()
    tampered.CopyFrom(signed)
    tampered.bundle_pem = pem + pki.pem(foreign.certificate)
    with pytest.raises(TrustMaterialError):
        verify_bundle(tampered, [signer.certificate], None)
    older = sign_bundle([signer], pem, now - dt.timedelta(hours=1))
    with pytest.raises(TrustMaterialError, match="older"):
        verify_bundle(older, [signer.certificate], signed)
    leaf, _ = pki.issue(signer, IDENTITY)
    with pytest.raises(TrustMaterialError, match="not a CA"):
        verify_bundle(sign_bundle([signer], pki.pem(leaf), now), [signer.certificate], None)


def test_crls_must_be_signed_by_the_bundles_cas_one_each(ca: CaFolder) -> None:
    signer = ca.signer()
    verify_crls(ca.crl.read_bytes(), [signer.certificate])
    foreign = pki.create_ca("someone else")
    with pytest.raises(TrustMaterialError, match="not signed"):
        verify_crls(pki.build_crl(foreign, []).public_bytes(PEM), [signer.certificate])
    with pytest.raises(TrustMaterialError, match="has no revocation list"):
        verify_crls(b"", [signer.certificate])


def test_a_refresh_takes_in_what_verifies_and_keeps_the_last_good_copy(
    ca: CaFolder, tmp_path: Path
) -> None:
    ring = NodeKeyring.create(tmp_path / "ring.json", new_entries(clock.SYSTEM.now()))
    document = ring.document(NODE, clock.SYSTEM.now())
    published = ca.published / "keys" / "prefecture-14.keydoc"
    published.parent.mkdir(parents=True, exist_ok=True)
    published.write_bytes(sign_document(document, ca.signer()).SerializeToString())
    files = _node_files(tmp_path, ca)
    refresher = _refresher(files, lambda: read_folder(ca.published))
    assert refresher.age_seconds() == -1
    changed = refresher.refresh()
    assert set(changed) == {"crl.pem", "prefecture-14.keydoc", "bundle.pem"}
    assert refresher.age_seconds() >= 0 and files.crls.read_bytes() == ca.crl.read_bytes()
    assert refresher.refresh() == []  # nothing new: nothing written
    # A material whose bundle a foreign CA signed changes nothing, whatever else it holds.
    foreign = pki.create_ca("someone else")
    forged = read_folder(ca.published)
    forged.bundle.CopyFrom(sign_bundle([foreign], pki.pem(foreign.certificate), clock.SYSTEM.now()))
    forged.crls_pem = pki.build_crl(foreign, []).public_bytes(PEM)
    before = {p.name: p.read_bytes() for p in (files.bundle, files.crls)}
    with pytest.raises(TrustMaterialError):
        _refresher(files, lambda: forged).refresh()
    assert {p.name: p.read_bytes() for p in (files.bundle, files.crls)} == before
    # A key document a foreign CA signed is skipped; the others are taken in.
    good = read_folder(ca.published)
    good.key_documents.append(sign_document(document, foreign))
    assert _refresher(files, lambda: good).refresh() == []


def test_a_ca_rollover_reaches_a_node_that_trusted_only_the_old_ca(
    ca: CaFolder, tmp_path: Path
) -> None:
    files = _node_files(tmp_path, ca)
    refresher = _refresher(files, lambda: read_folder(ca.published))
    refresher.refresh()
    ca.begin_rollover()  # bundle: old + new, signed by both
    assert "bundle.pem" in refresher.refresh()
    assert len(_cas(files)) == 2
    leaf, key = pki.issue(ca.signer(), IDENTITY)
    pki.write_pair(tmp_path, "node", leaf, key)
    ca.finish_rollover([tmp_path / "node.crt"])  # bundle: new only, signed by the new CA
    assert "bundle.pem" in refresher.refresh()
    assert [c.subject for c in _cas(files)] == [ca.signer().certificate.subject]


def _cas(files: TrustFiles) -> list[x509.Certificate]:
    return list(x509.load_pem_x509_certificates(files.bundle.read_bytes()))


def test_a_rollover_resigns_the_published_key_documents(ca: CaFolder, tmp_path: Path) -> None:
    ring = NodeKeyring.create(tmp_path / "ring.json", new_entries(clock.SYSTEM.now()))
    signer = Signer(ca)
    request = tmp_path / "request"
    request.write_bytes(ring.document(NODE, clock.SYSTEM.now()).SerializeToString())
    published = signer.sign_key_document(request.read_bytes(), expect=IDENTITY)
    ca.begin_rollover()
    assert signer.resign_published() == [published]
    leaf, key = pki.issue(ca.signer(), IDENTITY)
    pki.write_pair(tmp_path, "node", leaf, key)
    ca.finish_rollover([tmp_path / "node.crt"])
    signed = envelope_pb2.SignedKeyDocument.FromString(published.read_bytes())
    assert verify_document(signed, [ca.signer().certificate]).spiffe_id == NODE


@pytest.fixture(scope="module")
def crl_world() -> tuple[pki.Issuer, bytes]:
    """A CA and its CRL as PEM (module-wide: the property tests below reuse them)."""
    issuer = pki.create_ca("test CA")
    return issuer, pki.build_crl(issuer, []).public_bytes(PEM)


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=CUTS,
    flips=FLIPS,
    tail=TAILS,
    held=st.binary(max_size=512),
)
def test_any_revocation_lists_are_taken_whole_or_are_one_trust_material_error(
    crl_world: tuple[pki.Issuer, bytes],
    cut: int,
    flips: list[tuple[int, int]],
    tail: bytes,
    held: bytes,
) -> None:
    # What an upstream node hands down, cut, changed or extended, against anything held here
    # (the held file is the node's own, but may be damaged): the lists, or one error.
    issuer, crl_pem = crl_world
    offered = damaged(crl_pem, cut, flips, tail)
    try:
        crls = verify_crls(offered, [issuer.certificate], held)
    except TrustMaterialError:
        return
    assert [c.issuer for c in crls] == [issuer.certificate.subject]


@settings(max_examples=examples(200))
@given(held=st.binary(max_size=512), document=st.binary(max_size=256))
def test_any_held_key_document_is_compared_or_replaced(held: bytes, document: bytes) -> None:
    # A node's held key document may be any bytes (damaged on disk): the newness check answers
    # yes or no, never an exception; a document that is not one is replaced.
    offered = sign_document(
        envelope_pb2.KeyDocument(spiffe_id=NODE, issued_at={"seconds": 1_800_000_000}),
        pki.create_ca("test CA"),
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "held.keydoc"
        path.write_bytes(held)
        assert _not_older(offered, path) in (True, False)
        wrapped = envelope_pb2.SignedKeyDocument(document=document).SerializeToString()
        path.write_bytes(wrapped)
        assert _not_older(offered, path) in (True, False)
