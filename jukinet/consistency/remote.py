"""The tier above as the node below sees it during a run: narrowing.Above over the sealed
ConsistencyService RPCs, counting the round trips and bytes it took (for the report)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import message as protobuf_message

from juki.v1 import consistency_service_pb2 as pb
from jukinet.consistency.leaves import Leaf
from jukinet.consistency.narrowing import MAX_RANGES, KeyRange
from jukinet.consistency.snapshot import KEY_SPACE, RangeSummary
from jukinet.core.errors import Reason, RefusedError
from jukinet.sealing.sealed_rpc import SealedStub


@dataclass(frozen=True)
class Comparison:
    """One file this node compares with the tier above: the hop its changes go to there, and
    the sealed RPCs to ask with."""

    file: int
    hop: str
    digests: SealedStub
    leaves: SealedStub


class RemoteAbove:
    """narrowing.Above over the sealed RPCs, counting round trips and bytes."""

    def __init__(self, comparison: Comparison, run_id: str, municipality: str) -> None:
        self._comparison = comparison
        self._run_id = run_id
        self._municipality = municipality
        self.round_trips = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.total = 0  # leaves above, from the summary of the whole key space

    def _ask(self, stub: SealedStub, query: protobuf_message.Message, answer_type: Any) -> Any:
        exchange = stub.exchange(query, answer_type)
        self.round_trips += 1
        self.bytes_sent += exchange.bytes_sent
        self.bytes_received += exchange.bytes_received
        return exchange.answer

    def _key(self) -> dict[str, Any]:
        return {
            "run_id": self._run_id,
            "municipality_code": self._municipality,
            "file": self._comparison.file,
        }

    def summaries(self, ranges: Sequence[KeyRange]) -> list[RangeSummary]:
        query = pb.DigestRangesQuery(
            **self._key(), ranges=[pb.KeyRange(low=lo, high=hi) for lo, hi in ranges]
        )
        answer = self._ask(self._comparison.digests, query, pb.DigestRangesAnswer)
        found = [RangeSummary(d.count, bytes(d.digest)) for d in answer.digests]
        if len(found) != len(ranges):
            raise RefusedError(Reason.PEER_REFUSED, "the tier above answered another question")
        for key_range, summary in zip(ranges, found, strict=True):
            if key_range == (0, KEY_SPACE):
                self.total = summary.count
        return found

    def _leaves(self, query: pb.ListLeavesQuery) -> list[Leaf]:
        answer = self._ask(self._comparison.leaves, query, pb.ListLeavesAnswer)
        return [
            Leaf(int(leaf.juminhyo_code), leaf.marker, bytes(leaf.digest)) for leaf in answer.leaves
        ]

    def leaves(self, ranges: Sequence[KeyRange]) -> list[Leaf]:
        ranges_pb = [pb.KeyRange(low=lo, high=hi) for lo, hi in ranges]
        return self._leaves(pb.ListLeavesQuery(**self._key(), ranges=ranges_pb))

    def now(self, codes: Sequence[str]) -> dict[int, Leaf]:
        """The tier above's leaves of these persons, read now."""
        found: dict[int, Leaf] = {}
        for start in range(0, len(codes), MAX_RANGES):
            chunk = codes[start : start + MAX_RANGES]
            query = pb.ListLeavesQuery(**self._key(), juminhyo_codes=chunk)
            found.update({leaf.key: leaf for leaf in self._leaves(query)})
        return found
