"""Parsers of outside bytes, fed anything: each answers with a value or its one documented
error, never another exception (the defect classes of issue "The protos as the whole contract",
each with its regression case)."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
import typing
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from juki.v1 import common_pb2, envelope_pb2
from juki.v1 import provision_service_pb2 as pb
from jukinet.client.calls import BULK_COLUMNS, BulkFileError, read_bulk_file
from jukinet.core import paging
from jukinet.core.clock import SYSTEM
from jukinet.core.config import ConfigError, Credentials, NextHop, NodeConfig, load_node_config
from jukinet.core.errors import RefusedError
from jukinet.core.identity import Role
from jukinet.core.network import ClientEntry, NetworkDescription, NetworkError, NodeEntry
from jukinet.records import validation
from jukinet.sealing import at_rest
from jukinet.sealing.keys import NodeKeyring, new_entries
from jukinet.transparency import inclusion, merkle, note
from tests.helpers.damage import CUTS, FLIPS, TAILS, damaged, examples
from tests.helpers.sealing import World, make_world

TODAY = dt.date(2026, 12, 7)
SEALING_NODES = ("spiffe://juki.example/cs/141003", "spiffe://juki.example/prefecture/14")


@pytest.fixture(scope="module")
def sealing_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("sealing"), SEALING_NODES)


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


@settings(max_examples=examples(300))
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


@settings(max_examples=examples(300))
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


@settings(max_examples=examples(300))
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


@settings(max_examples=examples(300))
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


def _node_config_json() -> bytes:
    config = NodeConfig(
        name="prefecture-14",
        spiffe_id="spiffe://juki.example/prefecture/14",
        listen="127.0.0.1:0",
        database_url="sqlite:///data.db",
        credentials=Credentials(
            cert_file=Path("node.crt"), key_file=Path("node.key"), trust_bundle=Path("b.pem")
        ),
        keyring_file=Path("sealing-keys.json"),
        key_directory=Path("keys"),
        next_hop=NextHop(address="10.0.0.11:7001", spiffe_id="spiffe://juki.example/national"),
        administrators=["spiffe://juki.example/operator/14/admin-a"],
    )
    return config.to_json().encode()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=8,
)
CONFIG_KEYS = st.sampled_from(sorted(NodeConfig.__dataclass_fields__))


def _typed(value: Any, kind: Any) -> bool:
    """Whether `value` is of the declared field type `kind` (the config holds nothing else)."""
    if typing.get_origin(kind) is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    kinds = [k for k in (typing.get_args(kind) or (kind,)) if k is not type(None)]
    if value is None:
        return type(None) in (typing.get_args(kind) or ())
    return any(
        isinstance(value, k) and not (k in (int, float) and isinstance(value, bool)) for k in kinds
    )


@settings(max_examples=examples(300))
@given(
    cut=CUTS,
    flips=FLIPS,
    tail=TAILS,
    changed=st.dictionaries(CONFIG_KEYS, JSON_VALUES, max_size=3),
)
def test_any_node_config_is_a_typed_config_or_one_config_error(
    tmp_path_factory: pytest.TempPathFactory,
    cut: int,
    flips: list[tuple[int, int]],
    tail: bytes,
    changed: dict[str, Any],
) -> None:
    folder = tmp_path_factory.mktemp("config", numbered=True)
    valid = json.loads(_node_config_json())
    for raw in (
        damaged(_node_config_json(), cut, flips, tail),
        json.dumps({**valid, **changed}).encode(),
    ):
        path = folder / "config.json"
        path.write_bytes(raw)
        try:
            config = load_node_config(path)
        except ConfigError:
            continue
        hints = typing.get_type_hints(NodeConfig)
        for name in NodeConfig.__dataclass_fields__:
            assert _typed(getattr(config, name), hints[name]), name


def _network_json() -> bytes:
    national = NodeEntry(
        name="national",
        role=Role.NATIONAL,
        code="",
        spiffe_id="spiffe://juki.example/national",
        address="10.0.0.11:7001",
        tls_name="national.juki.example",
    )
    operator = ClientEntry(
        spiffe_id="spiffe://juki.example/operator/14/admin-a", cert=Path("a.crt"), key=Path("a.key")
    )
    described = NetworkDescription(
        trust_domain="juki.example",
        trust_bundle=Path("bundle.pem"),
        clients={"admin-a": operator},
        nodes=(national,),
    )
    return described.to_json().encode()


@settings(max_examples=examples(300))
@given(cut=CUTS, flips=FLIPS, tail=TAILS, data=JSON_VALUES)
def test_any_network_description_is_one_or_one_network_error(
    tmp_path_factory: pytest.TempPathFactory,
    cut: int,
    flips: list[tuple[int, int]],
    tail: bytes,
    data: Any,
) -> None:
    folder = tmp_path_factory.mktemp("network", numbered=True)
    valid = _network_json()
    for raw in (damaged(valid, cut, flips, tail), json.dumps(data).encode()):
        path = folder / "network.json"
        path.write_bytes(raw)
        try:
            described = NetworkDescription.load(path)
        except NetworkError:
            continue
        assert described.nodes is not None and described.trust_domain


@settings(max_examples=examples(300))
@given(
    old=st.integers(min_value=0, max_value=2**64),
    new=st.integers(min_value=0, max_value=2**64),
    proof=st.lists(st.binary(min_size=0, max_size=40), max_size=70),
    roots=st.tuples(st.binary(max_size=40), st.binary(max_size=40)),
)
def test_any_consistency_proof_verifies_or_is_one_proof_error(
    old: int, new: int, proof: list[bytes], roots: tuple[bytes, bytes]
) -> None:
    try:
        merkle.verify_consistency(old, new, roots[0], roots[1], proof)
    except merkle.ProofError:
        return
    # Verified: only the trivial case can hold for random hashes.
    assert old == new and roots[0] == roots[1] and not proof


@settings(max_examples=examples(200))
@given(cut=CUTS, flips=FLIPS, tail=TAILS)
def test_any_damaged_envelope_opens_or_is_one_refusal(
    sealing_world: World, cut: int, flips: list[tuple[int, int]], tail: bytes
) -> None:
    sender, recipient = SEALING_NODES
    batch = common_pb2.ChangeBatch()
    sealed = sealing_world.sealer(sender).seal(batch, recipient=recipient, method="/m")
    raw = damaged(sealed.SerializeToString(), cut, flips, tail)
    try:
        envelope = envelope_pb2.SealedEnvelope.FromString(raw)
    except DecodeError:
        return  # what gRPC answers INVALID_ARGUMENT for (core/unexpected.py)
    try:
        sealing_world.sealer(recipient).open(
            envelope, common_pb2.ChangeBatch, peer=sender, method="/m"
        )
    except RefusedError:
        return


@pytest.mark.parametrize("size", ["²", "٣", "9" * 4301, str(1 << 63), "0" * 2])
def test_a_checkpoint_size_that_is_not_a_plain_number_a_log_can_reach_is_a_note_error(
    size: str,
) -> None:
    """Unicode digits, a number of more digits than int() reads, one beyond a 64-bit column:
    each was a ValueError that a note's callers (gossip, verify, the witness) did not expect."""
    root = "A" * 43 + "="
    with pytest.raises(note.NoteError):
        note.Checkpoint.parse(f"juki.example/national/audit\n{size}\n{root}\n")


@settings(max_examples=examples(300))
@given(
    st.one_of(
        st.text(max_size=700), st.builds(paging.token, st.text(max_size=40), st.text(max_size=40))
    )
)
def test_any_page_token_is_its_keys_or_one_invalid_field(text: str) -> None:
    """A page token is a client's bytes: keys this list gave, or INVALID_FIELD page_token."""
    try:
        parts = paging.parts_of(text, 2)
    except RefusedError as refused:
        assert refused.reason == "INVALID_FIELD" and refused.metadata.get("field") == "page_token"
        return
    assert len(parts) == 2 and paging.parts_of(paging.token(*parts), 2) == parts
