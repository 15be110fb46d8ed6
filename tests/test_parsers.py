"""Parsers of outside bytes, fed anything: each answers with a value or its one documented
error, never another exception (the defect classes of issue "The protos as the whole contract",
each with its regression case)."""

from __future__ import annotations

import datetime as dt
import io
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from juki.v1 import common_pb2
from juki.v1 import provision_service_pb2 as pb
from jukinet.client.calls import BULK_COLUMNS, BulkFileError, read_bulk_file
from jukinet.core.clock import SYSTEM
from jukinet.core.errors import RefusedError
from jukinet.core.network import NetworkDescription, NetworkError
from jukinet.records import validation
from jukinet.sealing import at_rest
from jukinet.sealing.keys import NodeKeyring, new_entries
from jukinet.transparency import inclusion, note
from tests.helpers.damage import CUTS, FLIPS, TAILS, damaged

TODAY = dt.date(2026, 12, 7)
TASK = "pref5-passport"


def _query_with_birth_date(value: str) -> pb.ResidentQuery:
    return pb.ResidentQuery(
        task_id=TASK,
        request_id="00000000-0000-4000-8000-000000000001",
        operator_id="clerk-1",
        four_information=pb.FourInformation(name_kanji="山田太郎", birth_date=value),
    )


@pytest.mark.parametrize("written", ["2020-W01-1", "20200101", "2020-001", "２０２０-０１-０１"])
def test_a_date_is_taken_only_as_yyyy_mm_dd(written: str) -> None:
    with pytest.raises(RefusedError) as refused:
        validation.check_query(_query_with_birth_date(written), TODAY)
    assert refused.value.reason == "INVALID_FIELD"


@given(st.text(min_size=1, max_size=16))
def test_any_date_text_is_its_canonical_date_or_invalid_field(written: str) -> None:
    try:
        validation.check_query(_query_with_birth_date(written), TODAY)
    except RefusedError as refused:
        assert refused.reason == "INVALID_FIELD"
        return
    assert dt.date.fromisoformat(written).isoformat() == written


def _bulk(text: str) -> list[pb.ResidentQuery]:
    return list(read_bulk_file(io.StringIO(text, newline=""), TASK))


def test_a_bulk_file_with_an_unknown_sex_names_the_line_not_the_value() -> None:
    with pytest.raises(BulkFileError, match="line 3: sex") as bad:
        _bulk("name_kanji,birth_date,sex\n山田太郎,1980-01-01,male\n山田花子,1981-02-02,女性\n")
    assert "女性" not in str(bad.value)


_CELLS = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)


@settings(max_examples=300)
@given(
    columns=st.lists(st.sampled_from([*BULK_COLUMNS, "other"]), min_size=0, max_size=4),
    rows=st.lists(st.lists(_CELLS, max_size=5), max_size=4),
    noise=st.text(max_size=40),
)
def test_any_bulk_file_is_queries_or_one_bulk_file_error(
    columns: list[str], rows: list[list[str]], noise: str
) -> None:
    text = "\n".join([",".join(columns), *(",".join(row) for row in rows), noise])
    try:
        queries = _bulk(text)
    except BulkFileError:
        return
    assert all(q.task_id == TASK for q in queries)


@pytest.fixture(scope="module")
def ring(tmp_path_factory: pytest.TempPathFactory) -> NodeKeyring:
    return NodeKeyring.create(
        tmp_path_factory.mktemp("ring") / "keys.json", new_entries(SYSTEM.now())
    )


AT_REST_REASONS = {"AT_REST_MALFORMED", "AT_REST_KEY_RETIRED", "AT_REST_TAMPERED"}


@settings(max_examples=300)
@given(cut=CUTS, flips=FLIPS, tail=TAILS)
def test_any_at_rest_blob_opens_as_sealed_or_is_one_at_rest_refusal(
    ring: NodeKeyring, cut: int, flips: list[tuple[int, int]], tail: bytes
) -> None:
    change = common_pb2.Change(change_id="00000000-0000-4000-8000-000000000002")
    sealed = at_rest.seal(ring, change)
    changed = damaged(sealed, cut, flips, tail)
    try:
        opened = at_rest.open_sealed(ring, changed, common_pb2.Change)
    except RefusedError as refused:
        assert refused.reason in AT_REST_REASONS
        return
    assert changed == sealed and opened == change


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_any_note_text_is_a_note_or_one_note_error(text: str) -> None:
    try:
        signed = note.SignedNote.parse(text)
    except note.NoteError:
        return
    assert str(signed).endswith("\n")


def test_a_cosignature_with_a_time_out_of_range_is_a_note_error() -> None:
    # A real witness key signing an impossible time: the verifier says so, it does not crash.
    private = Ed25519PrivateKey.generate()
    witness = note.Signer("juki.example/prefecture/13", private, note.COSIGNATURE_TYPE)
    text = "juki.example/national/provision\n1\n" + "A" * 43 + "=\n"
    stamp = 2**63
    signature = private.sign(b"cosignature/v1\ntime " + str(stamp).encode() + b"\n" + text.encode())
    raw = witness.key.key_id + struct.pack(">Q", stamp) + signature
    signed = note.SignedNote(text, (("juki.example/prefecture/13", raw),))
    with pytest.raises(note.NoteError, match="no valid time"):
        signed.verified_by(witness.key)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(
    data=_JSON,
    shaped=st.fixed_dictionaries(
        {"format": st.just(inclusion.BUNDLE_FORMAT), "log": st.just("provision")},
        optional={"origin": _JSON, "checkpoint": _JSON, "rows": _JSON},
    ),
)
def test_any_proof_bundle_is_checked_or_one_bundle_error(data: Any, shaped: dict[str, Any]) -> None:
    # A person hands `verify-disclosure` any JSON: a check, or one BundleError.
    for bundle in (data, shaped):
        try:
            check = inclusion.verify_bundle(bundle, [], [])
        except inclusion.BundleError:
            continue
        assert not check.ok


def test_a_network_description_with_a_huge_number_is_a_network_error(tmp_path: Path) -> None:
    described = tmp_path / "network.json"
    described.write_text('{"trust_domain": "juki.example", "port": ' + "9" * 5000 + "}")
    with pytest.raises(NetworkError, match="too long"):
        NetworkDescription.load(described)
