"""Where a stored version of a person stands on this node: served, awaiting the tier above, or
refused there (stored as a small integer; schema.py declares the partial index of awaiting ones).

A tier that cannot decide a change alone — a person it does not know (new to the network, or
kept in another prefecture), a new 住民票コード it cannot vouch for unused — takes it AWAITING:
kept and forwarded, but not answered to anyone as current until the tier above has taken it
too (changes/above.py). A change the tier above refuses is REFUSED here: history keeps it with
the reason, the person's current state goes back to what it was before it (誤りの通報).
"""

from __future__ import annotations

import enum


class VersionState(enum.IntEnum):
    """Where a version stands; stored as a small integer."""

    SERVED = 1
    AWAITING = 2  # taken here, to be served once the tier above took it too
    REFUSED = 3  # refused by a tier above: history only
