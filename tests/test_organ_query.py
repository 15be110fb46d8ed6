"""The organ's signed query (provision/organ_query.py) as the prefecture reads it: what the
organ signed verifies; anything else — any bytes, cut, changed or extended — is one of the
ORGAN_PROOF_* refusals, never another exception."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from juki.v1 import my_number_link_service_pb2 as link_pb
from juki.v1 import provision_service_pb2 as pb
from jukinet.core.clock import SYSTEM
from jukinet.core.errors import RefusedError
from jukinet.core.identity import Identity
from jukinet.provision import organ_query
from jukinet.trust import pki
from tests.helpers.damage import CUTS, FLIPS, TAILS, damaged, examples

ORGAN = Identity.parse("spiffe://juki.example/organ/14/tax-office")
FUHYO = Identity.parse("spiffe://juki.example/fuhyo/14")
PROOF_REASONS = {"ORGAN_PROOF_MISSING", "ORGAN_PROOF_INVALID", "ORGAN_PROOF_STALE"} | {
    "ORGAN_PROOF_MISMATCH"
}


@pytest.fixture(scope="module")
def signed() -> tuple[link_pb.MyNumberLinkRequest, Any]:
    """A link request carrying the tax office's signed query, and the CA that issued it."""
    ca = pki.create_ca("test CA")
    cert, key = pki.issue(ca, ORGAN)
    request_id = str(uuid.uuid4())
    query = pb.ResidentQuery(
        task_id="fuhyo5-prefectural-tax", request_id=request_id, juminhyo_code="12345678901"
    )
    link = link_pb.MyNumberLinkRequest(
        juminhyo_code="12345678901",
        task_id="fuhyo5-prefectural-tax",
        organ=ORGAN.spiffe_id,
        request_id=request_id,
        organ_query=organ_query.sign(query, audience=FUHYO.spiffe_id, key=key, at=SYSTEM.now()),
        organ_certificate=cert.public_bytes(serialization.Encoding.DER),
    )
    return link, ca


def _verify(link: link_pb.MyNumberLinkRequest, ca: Any, now: dt.datetime | None = None) -> Any:
    return organ_query.verify(
        link,
        fuhyo=FUHYO,
        organ=ORGAN,
        cas=[ca.certificate],
        revocation=None,
        now=now or SYSTEM.now(),
    )


def test_what_the_organ_signed_verifies_and_only_for_a_while(signed: Any) -> None:
    link, ca = signed
    assert _verify(link, ca).juminhyo_code == "12345678901"
    with pytest.raises(RefusedError) as stale:
        _verify(link, ca, SYSTEM.now() + dt.timedelta(minutes=6))
    assert stale.value.reason == "ORGAN_PROOF_STALE"
    with pytest.raises(RefusedError) as other_ca:
        _verify(link, pki.create_ca("another CA"))
    assert other_ca.value.reason == "ORGAN_PROOF_INVALID"


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=st.sampled_from(["query", "signature", "certificate"]),
    cut=CUTS,
    flips=FLIPS,
    tail=TAILS,
)
def test_any_altered_proof_is_one_organ_proof_refusal(
    signed: Any, field: str, cut: int, flips: list[tuple[int, int]], tail: bytes
) -> None:
    link, ca = signed
    altered = link_pb.MyNumberLinkRequest()
    altered.CopyFrom(link)
    if field == "certificate":
        altered.organ_certificate = damaged(link.organ_certificate, cut, flips, tail)
    else:
        value = damaged(getattr(link.organ_query, field), cut, flips, tail)
        setattr(altered.organ_query, field, value)
    try:
        assert _verify(altered, ca) == _verify(link, ca)  # unchanged, or changed harmlessly
    except RefusedError as refusal:
        assert refusal.reason in PROOF_REASONS


@settings(max_examples=examples(200))
@given(
    query=st.binary(max_size=5000), signature=st.binary(max_size=300), der=st.binary(max_size=9000)
)
def test_any_bytes_are_one_organ_proof_refusal(query: bytes, signature: bytes, der: bytes) -> None:
    link = link_pb.MyNumberLinkRequest(
        organ_query={"query": query, "signature": signature}, organ_certificate=der
    )
    with pytest.raises(RefusedError) as refused:
        organ_query.verify(
            link, fuhyo=FUHYO, organ=ORGAN, cas=[], revocation=None, now=SYSTEM.now()
        )
    assert refused.value.reason in PROOF_REASONS
