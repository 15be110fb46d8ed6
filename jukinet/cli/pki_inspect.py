"""`juki-net pki inspect`: what an operator needs to know about one certificate file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cryptography import x509

from jukinet.cli.errors import UsageError
from jukinet.core import clock
from jukinet.sealing import key_documents
from jukinet.trust import pki
from jukinet.trust.revocation import RevocationList


def certificate(path: Path) -> x509.Certificate:
    """A PEM certificate file; UsageError if it is not one."""
    try:
        return pki.load_certificate(path)
    except ValueError:
        raise UsageError(f"{path}: not a PEM certificate") from None


def describe_certificate(
    path: Path, bundle: Path | None = None, crl: Path | None = None
) -> dict[str, str]:
    """What an operator needs to know about a certificate file (its chain and revocation,
    given a bundle; the CRL file defaults to crl.pem beside the bundle)."""
    cert = certificate(path)
    left = cert.not_valid_after_utc - clock.SYSTEM.now()
    try:
        holder = "(CA)" if pki.is_ca(cert) else pki.spiffe_id_of(cert)
    except (ValueError, x509.ExtensionNotFound):
        holder = "(none)"
    facts = {
        "spiffe_id": holder,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "seconds_left": str(int(left.total_seconds())),
        "status": "EXPIRED" if left.total_seconds() <= 0 else "valid",
    }
    if bundle is None:
        return facts
    try:
        chain = pki.issuing_ca(cert, key_documents.load_bundle(bundle))
    except ValueError:
        raise UsageError(f"{bundle}: not a PEM trust bundle") from None
    facts["chains_to_bundle"] = "yes" if chain is not None else "NO"
    if chain is not None:
        facts["issuer_fingerprint"] = pki.fingerprint(chain)
    crl = crl or bundle.with_name("crl.pem")
    if crl.exists() and RevocationList(crl, bundle).is_listed(cert):
        facts["status"] = "REVOKED"
    return facts


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print a certificate's identity, serial, validity, chain and revocation as JSON."""
    print(json.dumps(describe_certificate(args.file, args.bundle, args.crl), indent=2))
    return 0
