"""The leaves a comparison is made of: per person of a municipality, the latest version a node
holds *from that municipality*, as (key, marker, digest).

Versions refused by a tier above (storage/version_state.py) are history, not state: no leaf
is made of one.

Why "from the municipality" and not the person's current version: a person who moved from M
to N has M's 転出 as M's last word and N's 転入 above it; M's CS holds only the former, and the
tier above must hold the same. Each tier reads the same definition here, so equal files give
equal leaves.

The digest covers what every tier stores alike: every column of the version but the node's
own bookkeeping (storage.schema.content_columns), and, for a resident, whether a version that
does not remove the person has been superseded here by another municipality's (1, else 0). A
CS's own latest word is always its person's current one; a tier above that serves another
municipality's version instead of it holds a version the scope rule would refuse (one written
before the rule, or by hand), and the check shows the difference so the keeper can repair it
(records/scope.py `out_of_scope`, changes/repairs.py). The marker is the 更新順番号 of a
resident version (so "behind" can be told from "different"); fuhyo versions have none (0).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Select, Table, and_, case, func, select

from juki.v1 import consistency_service_pb2 as pb
from jukinet.storage.schema import (
    content_columns,
    fuhyo_versions,
    resident_current,
    resident_versions,
)
from jukinet.storage.version_state import VersionState

DIGEST_BYTES = 16
CODES_PER_STATEMENT = 500
_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class FileSpec:
    """How one record file is compared: its version table and its marker."""

    versions: Table
    marker: str | None  # the version column that orders a person's versions across tiers
    current: Table | None = None  # the index whose pointer tells a superseded version

    @property
    def content(self) -> list[Column[Any]]:
        """The version columns a leaf digests, in a fixed order."""
        return content_columns(self.versions)

    def digested(self) -> list[ColumnElement[Any]]:
        """What a leaf digests: the content, then (residents) whether it is superseded."""
        if self.current is None:
            return list(self.content)
        v, index = self.versions, self.current
        superseded = and_(~v.c.deleted, index.c.municipality_code != v.c.municipality_code)
        return [*self.content, case((superseded, 1), else_=0).label("superseded")]


FILES: dict[int, FileSpec] = {
    pb.RECORD_FILE_RESIDENT: FileSpec(resident_versions, "sequence_number", resident_current),
    pb.RECORD_FILE_FUHYO: FileSpec(fuhyo_versions, None),
}


@dataclass(frozen=True)
class Leaf:
    """One person's leaf: key as a number, marker, 16-byte digest."""

    key: int
    marker: int
    digest: bytes

    @property
    def code(self) -> str:
        return f"{self.key:011d}"


def digest_of(values: Sequence[Any]) -> bytes:
    """A leaf digest: SHA-256 over the values' text, truncated to 16 bytes.

    The content columns are strings, integers and booleans, never NULL, and come back as the
    same Python values from SQLite and PostgreSQL, so their `str` is the canonical text.
    """
    text = _SEPARATOR.join(map(str, values))
    return hashlib.sha256(text.encode()).digest()[:DIGEST_BYTES]


def latest_versions(spec: FileSpec, municipality: str, codes: Sequence[str] = ()) -> Select[Any]:
    """Each person's latest version from `municipality` (only `codes`, if given), by key."""
    v = spec.versions
    latest = select(v.c.juminhyo_code, func.max(v.c.version).label("version")).where(
        v.c.municipality_code == municipality, v.c.state != VersionState.REFUSED
    )
    if codes:
        latest = latest.where(v.c.juminhyo_code.in_(codes))
    newest = latest.group_by(v.c.juminhyo_code).subquery()
    query = select(*spec.digested()).join(
        newest,
        and_(v.c.juminhyo_code == newest.c.juminhyo_code, v.c.version == newest.c.version),
    )
    if spec.current is not None:
        index = spec.current
        query = query.outerjoin(index, index.c.juminhyo_code == v.c.juminhyo_code)
    return query.order_by(v.c.juminhyo_code)


def leaf_of(spec: FileSpec, row: Any) -> Leaf:
    """The leaf of one version row (selected with `spec.digested()`)."""
    marker = int(getattr(row, spec.marker)) if spec.marker else 0
    return Leaf(int(row.juminhyo_code), marker, digest_of(tuple(row)))


def read_leaves(
    conn: Connection, file: int, municipality: str, codes: Sequence[str] = ()
) -> Iterator[Leaf]:
    """This node's leaves of `municipality` in `file`, by key (only `codes`, if given)."""
    spec = FILES[file]
    rows = conn.execution_options(yield_per=10_000).execute(
        latest_versions(spec, municipality, codes)
    )
    for row in rows:
        yield leaf_of(spec, row)


def earlier_digests(conn: Connection, file: int, municipality: str, code: str) -> set[bytes]:
    """The digests of every version of the person from `municipality` here (to tell a tier
    above that is behind from one that differs, where versions carry no marker)."""
    spec = FILES[file]
    v = spec.versions
    rows = conn.execute(
        select(*spec.content).where(
            v.c.juminhyo_code == code,
            v.c.municipality_code == municipality,
            v.c.state != VersionState.REFUSED,
        )
    )
    return {digest_of(tuple(row)) for row in rows}


def leaves_of(
    conn: Connection, file: int, municipality: str, codes: Sequence[str]
) -> dict[int, Leaf]:
    """The leaves of these persons here, by key (those without one left out)."""
    found: dict[int, Leaf] = {}
    for start in range(0, len(codes), CODES_PER_STATEMENT):
        chunk = codes[start : start + CODES_PER_STATEMENT]
        found.update({leaf.key: leaf for leaf in read_leaves(conn, file, municipality, chunk)})
    return found
