"""The tier above as the node below sees it during a run: narrowing.Above over the sealed
ConsistencyService RPCs, counting the round trips and bytes it took (for the report)."""

from __future__ import annotations

import contextlib
import threading
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

WHOLE: KeyRange = (0, KEY_SPACE)


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
        self._whole: RangeSummary | None = None  # the summary of the whole key space

    @property
    def total(self) -> int:
        """The tier above's leaves of the municipality (0 until asked)."""
        return self._whole.count if self._whole else 0

    def start(self) -> threading.Thread:
        """Ask for the whole key space's summary in the background: the tier above builds its
        snapshot while this node builds its own (`summaries` answers it from then on)."""
        thread = threading.Thread(target=self._ask_whole, name="consistency-warm-up", daemon=True)
        thread.start()
        return thread

    def _ask_whole(self) -> None:
        with contextlib.suppress(RefusedError):  # asked again by the narrowing, which reports it
            self.summaries([WHOLE])

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
        if list(ranges) == [WHOLE] and self._whole is not None:
            return [self._whole]
        query = pb.DigestRangesQuery(
            **self._key(), ranges=[pb.KeyRange(low=lo, high=hi) for lo, hi in ranges]
        )
        answer = self._ask(self._comparison.digests, query, pb.DigestRangesAnswer)
        found = [RangeSummary(d.count, bytes(d.digest)) for d in answer.digests]
        if len(found) != len(ranges):
            raise RefusedError(Reason.PEER_REFUSED, "the tier above answered another question")
        for key_range, summary in zip(ranges, found, strict=True):
            if key_range == WHOLE:
                self._whole = summary
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
