"""The PKI scripts and library: identities, EKUs, lifetimes, key file modes."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jukinet.ca.ledger import IssuedLedger, LedgerError
from jukinet.core.identity import Identity, IdentityError, Role
from jukinet.trust import pki
from tests.helpers.damage import examples

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jukinet.cli", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def test_scripts_issue_a_node_certificate(tmp_path: Path) -> None:
    env = {**os.environ, "JUKI_PYTHON": sys.executable}
    subprocess.run(
        ["bash", str(ROOT / "certs" / "init-ca.sh"), str(tmp_path / "ca")],
        check=True,
        timeout=60,
        env=env,
    )
    subprocess.run(
        [
            "bash",
            str(ROOT / "certs" / "issue.sh"),
            str(tmp_path / "ca"),
            "spiffe://juki.example/prefecture/14",
            str(tmp_path / "out"),
            "prefecture-14",
        ],
        check=True,
        timeout=60,
        env=env,
    )
    cert = pki.load_certificate(tmp_path / "out" / "prefecture-14.crt")
    key_mode = stat.S_IMODE((tmp_path / "out" / "prefecture-14.key").stat().st_mode)
    assert key_mode == 0o600
    assert stat.S_IMODE((tmp_path / "ca" / "ca.key").stat().st_mode) == 0o600
    assert pki.spiffe_id_of(cert) == "spiffe://juki.example/prefecture/14"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(hours=1) <= life <= dt.timedelta(days=1, minutes=10)
    inspected = json.loads(
        _run("pki", "inspect", str(tmp_path / "out" / "prefecture-14.crt")).stdout
    )
    assert inspected["spiffe_id"] == "spiffe://juki.example/prefecture/14"
    assert inspected["serial"] == f"{cert.serial_number:x}"


def test_init_ca_refuses_to_overwrite(tmp_path: Path) -> None:
    _run("pki", "init-ca", "--dir", str(tmp_path))
    again = subprocess.run(
        [sys.executable, "-m", "jukinet.cli", "pki", "init-ca", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "refusing to overwrite a CA" in again.stderr


@pytest.mark.parametrize(
    ("spiffe_id", "role", "code", "name"),
    [
        ("spiffe://juki.example/national", Role.NATIONAL, "", ""),
        ("spiffe://juki.example/prefecture/14", Role.PREFECTURE, "14", ""),
        ("spiffe://juki.example/cs/141003", Role.CS, "141003", ""),
        ("spiffe://juki.example/organ/14/passport-centre", Role.ORGAN, "14", "passport-centre"),
        ("spiffe://juki.example/operator/14/alice", Role.OPERATOR, "14", "alice"),
    ],
)
def test_identities_parse(spiffe_id: str, role: Role, code: str, name: str) -> None:
    identity = Identity.parse(spiffe_id)
    assert (identity.role, identity.code, identity.name) == (role, code, name)
    assert identity.spiffe_id == spiffe_id


@pytest.mark.parametrize(
    "bad",
    [
        "https://juki.example/national",
        "spiffe://juki.example/mayor/14",
        "spiffe://juki.example/prefecture/48",
        "spiffe://juki.example/prefecture/14/extra",
        "spiffe://juki.example/cs/14100",
        "spiffe://juki.example/organ/14",
        "spiffe://juki.example/national/1",
    ],
)
def test_malformed_identities_are_rejected(bad: str) -> None:
    with pytest.raises(IdentityError):
        Identity.parse(bad)


_LEDGER_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=40),
    st.floats(allow_nan=False),
    st.just("spiffe://juki.example/cs/141003"),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)).map(dt.datetime.isoformat),
)
_LEDGER_LINES = st.one_of(
    st.text(max_size=80),
    st.fixed_dictionaries(
        {key: _LEDGER_VALUES for key in ("spiffe_id", "serial", "issuer", "not_after")},
        optional={"parent": _LEDGER_VALUES, "other": _LEDGER_VALUES},
    ).map(json.dumps),
)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_LEDGER_LINES, max_size=4))
def test_any_ca_ledger_reads_as_entries_or_one_ledger_error(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str]
) -> None:
    # The ledger revoking an identity reads (ca/ledger.py): a damaged line is a LedgerError,
    # never another exception, and what it returns can be filtered by identity and expiry.
    ledger = IssuedLedger(tmp_path_factory.mktemp("ledger") / "issued.jsonl")
    ledger.path.write_text("\n".join(lines), encoding="utf-8")
    try:
        found = ledger.unexpired("spiffe://juki.example/cs/141003", dt.datetime.now(dt.UTC))
    except LedgerError:
        return
    assert all(entry.spiffe_id == "spiffe://juki.example/cs/141003" for entry in found)
