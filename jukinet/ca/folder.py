"""A CA folder: its CAs, trust bundle, CRLs, revocations and CA rollover.

Files in ``DIR/pki/``::

    ca.crt, ca.key            the CA that signs (and, outside a rollover, the only one trusted)
    ca-next.crt, ca-next.key  during a rollover: the new CA, trusted and signing
    bundle.pem                the trust bundle every node and client reads
    crl.pem                   one CRL per trusted CA (checked on every call, see revocation.py)
    revoked.json              serials revoked so far, by CA fingerprint
    settings.json             the CRLs' lifetime (`init-ca --crl-hours`)
    approved.json             identities whose requests the operator signed (signing.py)
    issued.jsonl              every certificate issued, renewals with their parent (ledger.py)
    retired/                  CAs rolled out of service
    published/                what every node's trust material comes from (`publish`):
        bundle.signed         the bundle, signed by every CA it holds (trust/distribution.py)
        crl.pem               the CRLs
        keys/<label>.keydoc   every node's CA-signed sealing-key document

A rollover has no flag day: `begin_rollover` makes the new CA and trusts
both; everything is renewed from the new CA; `finish_rollover` checks that
nothing still depends on the old CA and only then stops trusting it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509

from jukinet.ca.ledger import IssuedLedger, LedgerError
from jukinet.core.clock import SYSTEM, Clock
from jukinet.core.errors import JukiError
from jukinet.core.identity import Identity
from jukinet.trust import pki
from jukinet.trust.distribution import sign_bundle
from jukinet.trust.pki import fingerprint


class PkiError(JukiError):
    """A PKI folder operation that cannot be done (no CA yet, a certificate not of this CA)."""


class RolloverError(PkiError):
    """A rollover step that would break the network (e.g. certificates of the old CA remain)."""


class CaFolder:
    """Operations on one ``DIR/pki`` folder."""

    def __init__(self, directory: Path, *, clock: Clock = SYSTEM) -> None:
        self.dir = directory
        self.clock = clock

    @property
    def ledger(self) -> IssuedLedger:
        """Every certificate this CA folder issued (what revoking an identity revokes)."""
        return IssuedLedger(self.dir / "issued.jsonl")

    @property
    def published(self) -> Path:
        """The publication folder (the national server's trust source)."""
        return self.dir / "published"

    @property
    def crl_lifetime(self) -> dt.timedelta:
        """How long a CRL stays valid (settings.json, default 24 h)."""
        path = self.dir / "settings.json"
        hours = json.loads(path.read_text())["crl_hours"] if path.exists() else None
        return dt.timedelta(hours=hours) if hours else pki.CRL_LIFETIME

    @property
    def bundle(self) -> Path:
        """The trust bundle."""
        return self.dir / "bundle.pem"

    @property
    def crl(self) -> Path:
        """The CRL file."""
        return self.dir / "crl.pem"

    def _load(self, stem: str) -> pki.Issuer | None:
        cert = self.dir / f"{stem}.crt"
        if not cert.exists():
            return None
        try:
            return pki.Issuer.load(cert, self.dir / f"{stem}.key")
        except (OSError, ValueError):
            raise PkiError(
                f"{cert}: a CA certificate without a readable CA key beside it"
            ) from None

    def _new_ca(self, stem: str) -> None:
        name = f"juki-net CA {self.clock.now():%Y%m%dT%H%M%S%f}"
        issuer = pki.create_ca(name, clock=self.clock)
        pki.write_pair(self.dir, stem, issuer.certificate, issuer.key)

    def ensure_ca(self, *, crl_lifetime: dt.timedelta | None = None) -> None:
        """Create the CA, bundle, CRL and publication if this folder has none yet."""
        if crl_lifetime is not None:
            settings = {"crl_hours": crl_lifetime.total_seconds() / 3600}
            pki.write_atomic(self.dir / "settings.json", json.dumps(settings).encode())
        if self._load("ca") is None:
            self._new_ca("ca")
            self.write_bundle()
        if not self.crl.exists():
            self.write_crls()

    def trusted(self) -> list[pki.Issuer]:
        """The CAs the network trusts now (two during a rollover)."""
        return [i for i in (self._load("ca"), self._load("ca-next")) if i is not None]

    def signer(self) -> pki.Issuer:
        """The CA that signs new certificates and documents (the new one during a rollover)."""
        trusted = self.trusted()
        if not trusted:
            raise PkiError(f"{self.dir}: no CA here; create one with `juki-net pki init-ca`")
        return trusted[-1]

    def write_bundle(self) -> None:
        """Write the trust bundle from the trusted CAs, and publish it signed by each."""
        trusted = self.trusted()
        pki.write_bundle(self.bundle, [i.certificate for i in trusted])
        signed = sign_bundle(trusted, self.bundle.read_bytes(), self.clock.now())
        pki.write_atomic(self.published / "bundle.signed", signed.SerializeToString())

    def _revoked(self) -> dict[str, list[int]]:
        path = self.dir / "revoked.json"
        data: dict[str, list[int]] = json.loads(path.read_text()) if path.exists() else {}
        return data

    def write_crls(self) -> None:
        """Re-sign every trusted CA's CRL (fresh nextUpdate), and publish them."""
        revoked = self._revoked()
        crls = [
            pki.build_crl(
                i,
                revoked.get(fingerprint(i.certificate), []),
                lifetime=self.crl_lifetime,
                clock=self.clock,
            )
            for i in self.trusted()
        ]
        pki.write_crls(self.crl, crls)
        pki.write_crls(self.published / "crl.pem", crls)

    def crl_due(self, now: dt.datetime) -> bool:
        """True once any CRL is past half its validity (time to re-sign)."""
        if not self.crl.exists():
            return True
        return any(pki.crl_past_half_life(crl, now) for crl in pki.load_crls(self.crl.read_bytes()))

    def issue(
        self,
        identity: Identity,
        out: Path,
        stem: str,
        *,
        lifetime: dt.timedelta,
        dns_names: Iterable[str] = (),
        ip_addresses: Iterable[str] = (),
    ) -> tuple[Path, Path]:
        """Issue (or renew: new key, atomically beside the old) a certificate from the signer,
        recorded in the ledger first."""
        signer = self.signer()
        cert, key = pki.issue(
            signer,
            identity,
            lifetime=lifetime,
            dns_names=list(dns_names),
            ip_addresses=list(ip_addresses),
            clock=self.clock,
        )
        self.ledger.record(cert, signer.certificate)
        return pki.write_pair(out, stem, cert, key)

    def revoke(self, cert_path: Path) -> int:
        """Revoke a certificate (issuer + serial) and publish new CRLs; returns the serial."""
        cert = pki.load_certificate(cert_path)
        issuer = next((i for i in self.trusted() if _issued_by(cert, i)), None)
        if issuer is None:
            raise PkiError(f"{cert_path}: not issued by a CA of {self.dir}")
        self._revoke({fingerprint(issuer.certificate): [int(cert.serial_number)]})
        return int(cert.serial_number)

    def revoke_identity(self, identity: Identity) -> list[int]:
        """Revoke every certificate the ledger holds for `identity` that has not expired
        (renewals a thief made included) and publish new CRLs; the serials revoked."""
        try:
            found = self.ledger.unexpired(identity.spiffe_id, self.clock.now())
        except LedgerError as damaged:
            raise PkiError(str(damaged)) from None
        by_issuer: dict[str, list[int]] = {}
        for entry in found:
            by_issuer.setdefault(entry.issuer, []).append(entry.serial)
        self._revoke(by_issuer)
        return sorted(entry.serial for entry in found)

    def _revoke(self, serials: dict[str, list[int]]) -> None:
        """Add serials (by issuing CA's fingerprint) to revoked.json, and re-sign the CRLs."""
        revoked = self._revoked()
        for issuer, listed in serials.items():
            held = revoked.setdefault(issuer, [])
            held.extend(s for s in listed if s not in held)
        pki.write_atomic(self.dir / "revoked.json", json.dumps(revoked).encode())
        self.write_crls()

    def begin_rollover(self) -> None:
        """Make the next CA and trust it beside the current one."""
        if self._load("ca-next") is not None:
            raise RolloverError("a rollover is already under way")
        self._new_ca("ca-next")
        self.write_bundle()
        self.write_crls()

    def finish_rollover(self, in_use: Iterable[Path]) -> None:
        """Stop trusting the old CA, once every certificate in use is from the new one."""
        old, new = self._load("ca"), self._load("ca-next")
        if old is None or new is None:
            raise RolloverError("no rollover under way")
        stale = [p for p in in_use if not _issued_by(pki.load_certificate(p), new)]
        if stale:
            raise RolloverError(
                f"{len(stale)} certificate(s) still from the old CA; renew them first"
            )
        retired = self.dir / "retired"
        retired.mkdir(exist_ok=True)
        serial = f"{old.certificate.serial_number:x}"
        for suffix in ("crt", "key"):
            (self.dir / f"ca.{suffix}").replace(retired / f"ca-{serial}.{suffix}")
            (self.dir / f"ca-next.{suffix}").replace(self.dir / f"ca.{suffix}")
        self.write_bundle()
        self.write_crls()


def _issued_by(cert: x509.Certificate, issuer: pki.Issuer) -> bool:
    return pki.issuing_ca(cert, [issuer.certificate]) is not None
