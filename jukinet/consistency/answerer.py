"""The tier above's side of a comparison: DigestRanges and ListLeaves, sealed.

Each run is answered from one snapshot of this node's leaves (built at the run's first
question, kept for its rounds: snapshot.SnapshotCache), so the rounds of a run see one moment.
Listing given persons reads them now instead: the node below confirms a difference against
the present before it reports or repairs anything.

A caller may compare only what it keeps: a CS its own municipality, a prefecture (fuhyo)
server its prefecture's municipalities, and each the file it sends here (`files`: the file a
caller of each role compares with this node). Anything else is COMPARISON_NOT_ALLOWED.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from juki.v1 import consistency_service_pb2 as pb
from juki.v1 import envelope_pb2
from jukinet.consistency import leaves
from jukinet.consistency.narrowing import MAX_LISTED, MAX_RANGES
from jukinet.consistency.snapshot import KEY_SPACE, Snapshot, SnapshotCache
from jukinet.core.errors import Reason, RefusedError, invalid_field
from jukinet.core.identity import Identity, Role
from jukinet.records import validation
from jukinet.records.identifiers import is_known_municipality, is_valid_juminhyo_code, prefecture_of
from jukinet.sealing.sealed_rpc import SealedEndpoint
from jukinet.storage import Database


def _leaf_message(leaf: leaves.Leaf) -> pb.Leaf:
    return pb.Leaf(juminhyo_code=leaf.code, marker=leaf.marker, digest=leaf.digest)


def check_ranges(ranges: Sequence[pb.KeyRange]) -> None:
    """1..MAX_RANGES ranges within the key space, each non-empty."""
    if len(ranges) > MAX_RANGES:
        raise invalid_field("ranges", f"must be at most {MAX_RANGES}")
    for key_range in ranges:
        if not key_range.low < key_range.high <= KEY_SPACE:
            raise invalid_field("ranges", f"each must be low < high <= {KEY_SPACE}")


@dataclass
class Answerer:
    """Answers the comparisons of the nodes below (see the module docstring)."""

    db: Database
    digest_endpoint: SealedEndpoint
    list_endpoint: SealedEndpoint
    files: Mapping[Role, int]
    cache: SnapshotCache = field(default_factory=SnapshotCache)

    def _check(self, caller: Identity, run_id: str, municipality: str, file: int) -> None:
        validation.check_change_id(run_id, "run_id")
        if not is_known_municipality(municipality):
            raise invalid_field("municipality_code", "must be a municipality code of JIS X 0402")
        if self.files.get(caller.role) != file:
            raise RefusedError(Reason.COMPARISON_NOT_ALLOWED)
        own = (
            municipality == caller.code
            if caller.role is Role.CS
            else prefecture_of(municipality) == caller.prefecture
        )
        if not own:
            raise RefusedError(Reason.COMPARISON_NOT_ALLOWED)

    def _snapshot(self, caller: Identity, run_id: str, municipality: str, file: int) -> Snapshot:
        def build() -> Snapshot:
            with self.db.engine.connect() as conn, conn.begin():
                return Snapshot(leaves.read_leaves(conn, file, municipality))

        return self.cache.get(caller.spiffe_id, (run_id, municipality, file), build)

    def digest_ranges(
        self, envelope: envelope_pb2.SealedEnvelope, caller: Identity
    ) -> envelope_pb2.SealedEnvelope:
        """The summary of each asked range, from the run's snapshot."""
        request = self.digest_endpoint.open(envelope, pb.DigestRangesQuery, caller)
        query = request.payload
        self._check(caller, query.run_id, query.municipality_code, query.file)
        if not query.ranges:
            raise invalid_field("ranges", "at least one is required")
        check_ranges(query.ranges)
        with self.db.transaction() as conn:
            request.remember(conn)
        snapshot = self._snapshot(caller, query.run_id, query.municipality_code, query.file)
        summaries = (snapshot.summary(r.low, r.high) for r in query.ranges)
        answer = pb.DigestRangesAnswer(
            digests=[pb.RangeDigest(count=s.count, digest=s.digest) for s in summaries]
        )
        return self.digest_endpoint.seal(answer, caller)

    def list_leaves(
        self, envelope: envelope_pb2.SealedEnvelope, caller: Identity
    ) -> envelope_pb2.SealedEnvelope:
        """The leaves of the asked ranges (the run's snapshot) and persons (now)."""
        request = self.list_endpoint.open(envelope, pb.ListLeavesQuery, caller)
        query = request.payload
        self._check(caller, query.run_id, query.municipality_code, query.file)
        check_ranges(query.ranges)
        codes = list(query.juminhyo_codes)
        if len(codes) > MAX_RANGES or not all(is_valid_juminhyo_code(c) for c in codes):
            raise invalid_field(
                "juminhyo_codes", f"must be at most {MAX_RANGES} valid resident record codes"
            )
        with self.db.transaction() as conn:
            request.remember(conn)
        found: list[pb.Leaf] = []
        if query.ranges:
            snapshot = self._snapshot(caller, query.run_id, query.municipality_code, query.file)
            listed = [leaf for r in query.ranges for leaf in snapshot.within(r.low, r.high)]
            if len(listed) > MAX_LISTED:
                raise invalid_field("ranges", f"must hold at most {MAX_LISTED} leaves together")
            found.extend(_leaf_message(leaf) for leaf in listed)
        if codes:
            found.extend(self._now(query.municipality_code, query.file, codes))
        return self.list_endpoint.seal(pb.ListLeavesAnswer(leaves=found), caller)

    def _now(self, municipality: str, file: int, codes: Sequence[str]) -> list[pb.Leaf]:
        with self.db.engine.connect() as conn, conn.begin():
            found = leaves.leaves_of(conn, file, municipality, codes)
        return [_leaf_message(found[key]) for key in sorted(found)]
