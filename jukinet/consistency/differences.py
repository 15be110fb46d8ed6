"""How a person differs between this node and the tier above, and what repairs it: the one
place that decides both.

The node below holds the municipality's truth (the CS for the prefecture, the prefecture for
national). What it has and the tier above lacks or holds older is re-sent at once; what would
take something away above, or overwrite it, waits for an operator.
"""

from __future__ import annotations

from collections.abc import Callable

from juki.v1 import common_pb2
from juki.v1 import consistency_service_pb2 as pb
from jukinet.consistency.leaves import Leaf

K = pb.DifferenceKind

# What repairs each kind of difference.
REPAIR_OF: dict[int, common_pb2.RepairKind.ValueType] = {
    K.DIFFERENCE_KIND_MISSING_ABOVE: common_pb2.REPAIR_KIND_RESEND,
    K.DIFFERENCE_KIND_DIFFERENT_VERSION: common_pb2.REPAIR_KIND_RESEND,
    K.DIFFERENCE_KIND_DIFFERENT_CONTENT: common_pb2.REPAIR_KIND_OVERWRITE,
    K.DIFFERENCE_KIND_MISSING_BELOW: common_pb2.REPAIR_KIND_WITHDRAW,
}
# The kinds whose repair waits for an operator (ApproveRepairs).
NEEDS_APPROVAL = frozenset({K.DIFFERENCE_KIND_DIFFERENT_CONTENT, K.DIFFERENCE_KIND_MISSING_BELOW})


def classify(
    here: Leaf | None,
    above: Leaf | None,
    *,
    has_marker: bool,
    earlier_here: Callable[[], set[bytes]],
) -> K.ValueType | None:
    """The kind of difference, or None if the person's leaves are equal.

    Resident versions carry their 更新順番号: above is behind if its marker is lower. Fuhyo
    versions carry none: above is behind if its version is one this node held earlier
    (`earlier_here`: the digests of this node's versions of the person).
    """
    if here == above:
        return None
    if above is None:
        return K.DIFFERENCE_KIND_MISSING_ABOVE
    if here is None:
        return K.DIFFERENCE_KIND_MISSING_BELOW
    behind = above.marker < here.marker if has_marker else above.digest in earlier_here()
    return K.DIFFERENCE_KIND_DIFFERENT_VERSION if behind else K.DIFFERENCE_KIND_DIFFERENT_CONTENT


def count(found: list[K.ValueType]) -> pb.DifferenceCounts:
    """Differences by kind."""
    return pb.DifferenceCounts(
        missing_above=found.count(K.DIFFERENCE_KIND_MISSING_ABOVE),
        missing_below=found.count(K.DIFFERENCE_KIND_MISSING_BELOW),
        different_version=found.count(K.DIFFERENCE_KIND_DIFFERENT_VERSION),
        different_content=found.count(K.DIFFERENCE_KIND_DIFFERENT_CONTENT),
    )
