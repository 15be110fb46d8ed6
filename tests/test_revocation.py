"""Revocation fails closed; expiry warnings; the renew, revoke and rollover scripts."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jukinet.ca.folder import CaFolder
from jukinet.core import clock
from jukinet.core.errors import RefusedError
from jukinet.core.identity import Identity
from jukinet.runtime.renewal import expiry_warning
from jukinet.trust import pki
from jukinet.trust.revocation import RevocationList
from tests.helpers.files import rewrite_keeping_the_stamp

ROOT = Path(__file__).resolve().parent.parent
CS = Identity.parse("spiffe://juki.example/cs/141003")


@pytest.fixture
def local(tmp_path: Path) -> CaFolder:
    folder = CaFolder(tmp_path / "pki")
    folder.ensure_ca()
    return folder


def _issue(local: CaFolder, out: Path, stem: str = "cs") -> bytes:
    cert, _ = local.issue(CS, out, stem, lifetime=dt.timedelta(hours=1))
    return cert.read_bytes()


def _reason(check: RevocationList, pem: bytes) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(RefusedError) as caught:
        check.check(pem)
    return caught.value.code, caught.value.reason


def test_good_certificate_passes_and_revoked_one_is_refused(
    local: CaFolder, tmp_path: Path
) -> None:
    good, bad = _issue(local, tmp_path, "good"), _issue(local, tmp_path, "bad")
    check = RevocationList(local.crl, local.bundle)
    check.check(good)
    check.check(bad)
    local.revoke(tmp_path / "bad.crt")
    check.check(good)
    assert _reason(check, bad) == (grpc.StatusCode.UNAUTHENTICATED, "CERTIFICATE_REVOKED")


def test_a_revocation_written_within_one_tick_of_the_last_list_is_seen(
    local: CaFolder, tmp_path: Path
) -> None:
    """The list rewritten at the same size, in the same inode, with the same time (two
    writes within one tick of the file clock): read again, because its stamp is too recent
    to stand for its contents (core/file_stamps.py)."""
    bad = _issue(local, tmp_path, "bad")
    serial = x509.load_pem_x509_certificate(bad).serial_number
    issuer = local.signer()

    def listing(serials: list[int]) -> bytes:
        return pki.build_crl(issuer, serials).public_bytes(serialization.Encoding.PEM)

    decoy = listing([serial ^ 1])  # another serial of the same length
    pki.write_atomic(local.crl, decoy)
    check = RevocationList(local.crl, local.bundle)
    check.check(bad)
    revoking = next(  # ECDSA signatures vary in length: sign until one is the decoy's size
        pem for pem in (listing([serial]) for _ in range(100)) if len(pem) == len(decoy)
    )
    rewrite_keeping_the_stamp(local.crl, revoking)
    assert _reason(check, bad) == (grpc.StatusCode.UNAUTHENTICATED, "CERTIFICATE_REVOKED")


def test_stale_list_refuses_everything_of_that_ca(local: CaFolder, tmp_path: Path) -> None:
    pem = _issue(local, tmp_path)
    time = clock.ManualClock(clock.SYSTEM.now())
    check = RevocationList(local.crl, local.bundle, clock=time)
    check.check(pem)
    time.advance(pki.CRL_LIFETIME + dt.timedelta(minutes=1))
    assert _reason(check, pem) == (grpc.StatusCode.UNAVAILABLE, "REVOCATION_LIST_STALE")
    assert not local.crl_due(clock.SYSTEM.now())
    assert local.crl_due(clock.SYSTEM.now() + pki.CRL_LIFETIME / 2 + dt.timedelta(minutes=1))


def test_missing_or_foreign_list_fails_closed(local: CaFolder, tmp_path: Path) -> None:
    pem = _issue(local, tmp_path)
    foreign = pki.create_ca("someone else")
    pki.write_crls(tmp_path / "foreign-crl.pem", [pki.build_crl(foreign, [])])
    for path in (tmp_path / "absent.pem", tmp_path / "foreign-crl.pem"):
        check = RevocationList(path, local.bundle)
        assert _reason(check, pem) == (grpc.StatusCode.UNAVAILABLE, "REVOCATION_LIST_UNAVAILABLE")


def test_expiry_warning_in_the_last_quarter() -> None:
    issuer = pki.create_ca("test")
    cert, _ = pki.issue(issuer, CS, lifetime=dt.timedelta(hours=24))
    start = cert.not_valid_before_utc
    assert expiry_warning(cert, start + dt.timedelta(hours=12)) is None
    assert "expires in" in (expiry_warning(cert, start + dt.timedelta(hours=19)) or "")
    assert "expired" in (expiry_warning(cert, start + dt.timedelta(hours=25)) or "")


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "certs" / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "JUKI_PYTHON": sys.executable},
    )


def test_scripts_renew_revoke_and_roll_the_ca_over(tmp_path: Path) -> None:
    folder = tmp_path / "pki"
    assert _script("init-ca.sh", str(folder)).returncode == 0
    assert (
        _script(
            "issue.sh",
            str(folder),
            CS.spiffe_id,
            str(tmp_path),
            "cs",
            "--hours",
            "6",
            "--dns",
            "cs.example",
        ).returncode
        == 0
    )
    first = pki.load_certificate(tmp_path / "cs.crt")
    first_key = (tmp_path / "cs.key").read_bytes()
    # renew: new key, new serial, same identity, names and lifetime
    assert _script("renew.sh", str(folder), str(tmp_path / "cs.crt")).returncode == 0
    second = pki.load_certificate(tmp_path / "cs.crt")
    assert (tmp_path / "cs.key").read_bytes() != first_key
    assert second.serial_number != first.serial_number
    # a node certificate also names the DNS name its peers check, derived from its identity
    names = (["cs-141003.juki.example", "cs.example"], [])
    assert pki.spiffe_id_of(second) == CS.spiffe_id
    assert pki.names_of(first) == pki.names_of(second) == names
    assert second.not_valid_after_utc - second.not_valid_before_utc == dt.timedelta(hours=6)
    # revoke: the CRL lists it
    assert _script("revoke.sh", str(folder), str(tmp_path / "cs.crt")).returncode == 0
    check = RevocationList(folder / "crl.pem", folder / "bundle.pem")
    with pytest.raises(RefusedError):
        check.check((tmp_path / "cs.crt").read_bytes())
    # rollover: refused to finish while a certificate is still from the old CA
    assert _script("rollover.sh", str(folder), "begin").returncode == 0
    assert len(pki.load_crls((folder / "crl.pem").read_bytes())) == 2
    refused = _script("rollover.sh", str(folder), "finish", str(tmp_path / "cs.crt"))
    assert refused.returncode == 2 and "old CA" in refused.stderr
    assert _script("renew.sh", str(folder), str(tmp_path / "cs.crt")).returncode == 0
    assert _script("rollover.sh", str(folder), "finish", str(tmp_path / "cs.crt")).returncode == 0
    inspected = _script("inspect.sh", str(tmp_path / "cs.crt"), str(folder / "bundle.pem"))
    assert '"chains_to_bundle": "yes"' in inspected.stdout
    assert len(CaFolder(folder).trusted()) == 1
    # Against the retired CA alone, the renewed certificate does not chain.
    retired = next((folder / "retired").glob("*.crt"))
    assert (
        '"chains_to_bundle": "NO"'
        in _script("inspect.sh", str(tmp_path / "cs.crt"), str(retired)).stdout
    )
