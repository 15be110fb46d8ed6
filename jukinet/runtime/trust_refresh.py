"""Keeping a node's trust material fresh on its own host: fetched, verified, kept if good.

The trust bundle, the CAs' CRLs and the nodes' key documents reach a node
from the node above it (TrustService.GetTrustMaterial over its next hop),
or, at the national server, from the CA's publication folder. Each refresh
verifies every part against what the node trusts already
(trust/distribution.py, sealing/key_documents.verify_document), refuses what is older
than what it holds (the bundle by issue time, each CA's CRL by its number, each
node's key document by its issue time: never back in time), and writes only
what verified, each file atomically: the CRLs first, then the key documents,
then the bundle, so a reader never sees a bundle without its CRLs. What
fails is logged with its reason and the last good copy stays in use; the
node reports the age of its material in GetNodeStatus. The files are the
ones the node reads anyway (credentials.trust_bundle, revocation_list,
key_directory), which re-read themselves when they change.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from google.protobuf.message import DecodeError

from juki.v1 import envelope_pb2
from juki.v1 import trust_service_pb2 as pb
from jukinet.core.clock import Clock
from jukinet.core.errors import JukiError, Reason, RefusedError
from jukinet.core.identity import Identity, IdentityError
from jukinet.runtime.jobs import BackgroundJob
from jukinet.sealing.key_documents import verify_document
from jukinet.sealing.keys import KeyTrustError
from jukinet.trust import pki
from jukinet.trust.distribution import verify_bundle, verify_crls

log = logging.getLogger(__name__)

MIN_RETRY_S = 1.0

# Gets the trust material to take in (from the node above, or the CA's folder).
Fetch = Callable[[], pb.TrustMaterial]


@dataclass(frozen=True)
class TrustFiles:
    """Where a node keeps its trust material."""

    bundle: Path
    crls: Path
    key_directory: Path

    @property
    def signed_bundle(self) -> Path:
        """The bundle as the CA signed it (what the node passes on to the nodes below)."""
        return self.bundle.with_name(self.bundle.stem + ".signed")

    def read(self) -> pb.TrustMaterial:
        """The material held here; RefusedError(TRUST_MATERIAL_UNAVAILABLE) if there is none."""
        try:
            bundle = pb.SignedTrustBundle.FromString(self.signed_bundle.read_bytes())
            crls = self.crls.read_bytes()
        except OSError:
            raise RefusedError(Reason.TRUST_MATERIAL_UNAVAILABLE) from None
        documents = [
            envelope_pb2.SignedKeyDocument.FromString(p.read_bytes())
            for p in sorted(self.key_directory.glob("*.keydoc"))
        ]
        return pb.TrustMaterial(bundle=bundle, crls_pem=crls, key_documents=documents)


def read_folder(folder: Path) -> pb.TrustMaterial:
    """The trust material of a CA's publication folder (ca/folder.py)."""
    return TrustFiles(folder / "bundle.pem", folder / "crl.pem", folder / "keys").read()


def _issued_at(signed: envelope_pb2.SignedKeyDocument) -> int:
    return envelope_pb2.KeyDocument.FromString(signed.document).issued_at.ToNanoseconds()


def _not_older(signed: envelope_pb2.SignedKeyDocument, held_at: Path) -> bool:
    """Whether a verified key document was issued no earlier than the one held for its node
    (a key document listing a retired key is not taken back in)."""
    try:
        held = envelope_pb2.SignedKeyDocument.FromString(held_at.read_bytes())
        return _issued_at(signed) >= _issued_at(held)
    except (OSError, DecodeError):
        return True  # none held, or not readable: the verified document replaces it


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    pki.write_atomic(path, data)
    return True


class TrustRefresher(BackgroundJob):
    """Refreshes one node's trust material now and then, in a thread of its own."""

    def __init__(self, files: TrustFiles, fetch: Fetch, *, interval_s: float, clock: Clock) -> None:
        self._files = files
        self._fetch = fetch
        self._interval_s = interval_s
        self._clock = clock
        self._refreshed_at: dt.datetime | None = None
        super().__init__("trust-refresh")

    def age_seconds(self) -> int:
        """Whole seconds since the last good refresh; -1 if there was none yet."""
        if self._refreshed_at is None:
            return -1
        return int((self._clock.now() - self._refreshed_at).total_seconds())

    def refresh(self) -> list[str]:
        """Fetch, verify and take in the material; the names of the files that changed.

        Raises TrustMaterialError (or the fetch's error) having changed nothing
        if the bundle or the CRLs do not verify; a key document that does not
        verify is skipped and logged.
        """
        material = self._fetch()
        files = self._files
        current = (
            pb.SignedTrustBundle.FromString(files.signed_bundle.read_bytes())
            if files.signed_bundle.exists()
            else None
        )
        cas = verify_bundle(
            material.bundle, x509.load_pem_x509_certificates(files.bundle.read_bytes()), current
        )
        held_crls = files.crls.read_bytes() if files.crls.exists() else b""
        verify_crls(material.crls_pem, cas, held_crls)
        documents = self._verified_documents(material, cas)
        changed = [files.crls.name] if _write_if_changed(files.crls, material.crls_pem) else []
        for name, signed in documents.items():
            path = files.key_directory / f"{name}.keydoc"
            if not _not_older(signed, path):
                log.warning("a key document older than the one held was not taken in: %s", name)
                continue
            if _write_if_changed(path, signed.SerializeToString()):
                changed.append(path.name)
        if _write_if_changed(files.signed_bundle, material.bundle.SerializeToString()):
            _write_if_changed(files.bundle, material.bundle.bundle_pem)
            changed.append(files.bundle.name)
        self._refreshed_at = self._clock.now()
        return changed

    @staticmethod
    def _verified_documents(
        material: pb.TrustMaterial, cas: list[x509.Certificate]
    ) -> dict[str, envelope_pb2.SignedKeyDocument]:
        documents = {}
        for signed in material.key_documents:
            try:
                document = verify_document(signed, cas)
                documents[Identity.parse(document.spiffe_id).label] = signed
            except (KeyTrustError, IdentityError) as error:
                log.warning("a key document was not taken in: %s", error)
        return documents

    def run(self) -> None:
        """Refresh now and then every `interval_s` (sooner after a failure)."""
        retry_s = MIN_RETRY_S
        while not self.stopped.is_set():
            try:
                changed = self.refresh()
            except (JukiError, OSError, ValueError) as error:
                log.warning("trust material not refreshed (%s): %s", type(error).__name__, error)
                self.stopped.wait(retry_s)
                retry_s = min(self._interval_s, retry_s * 2)
                continue
            if changed:
                log.info("trust material refreshed: %s", ", ".join(changed))
            retry_s = MIN_RETRY_S
            self.stopped.wait(self._interval_s)
