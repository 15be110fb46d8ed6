"""Planting differences between tiers by writing a node's database directly (what a restore,
an operator's mistake or a bug would leave), for the consistency check to find: the tests of
整合性確認 and bench P5 use it. Never part of a running node."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, delete, insert, select, update

from juki.v1 import common_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.storage import Database, open_database
from jukinet.storage.schema import (
    fuhyo_current,
    fuhyo_versions,
    resident_current,
    resident_versions,
)


@contextmanager
def database(net: LocalNetwork, node: str) -> Iterator[Database]:
    """A node's database, opened from the test process."""
    url = net.node_info(node).database_url
    assert url is not None  # a local network's nodes say where their database is
    db = open_database(url)
    try:
        yield db
    finally:
        db.dispose()


def codes_of(net: LocalNetwork, node: str, municipality: str) -> set[str]:
    """The persons a node holds versions of from `municipality`."""
    with database(net, node) as db, db.engine.connect() as conn:
        return set(
            conn.execute(
                select(resident_versions.c.juminhyo_code).where(
                    resident_versions.c.municipality_code == municipality
                )
            ).scalars()
        )


def load_at(
    net: LocalNetwork, nodes: Sequence[str], municipality: str, count: int, seed: int
) -> list[str]:
    """The same `count` synthetic residents of `municipality` loaded into each of `nodes`
    (equal files); their codes."""
    before = codes_of(net, nodes[0], municipality)
    for node in nodes:
        with database(net, node) as db:
            synthetic.load_residents(db, municipality, count, seed=seed)
    return sorted(codes_of(net, nodes[0], municipality) - before)


def _tables(fuhyo: bool) -> tuple[Table, Table]:
    return (fuhyo_versions, fuhyo_current) if fuhyo else (resident_versions, resident_current)


def delete_persons(
    net: LocalNetwork, node: str, codes: Sequence[str], *, fuhyo: bool = False
) -> None:
    """A deleted row: the persons' versions and index rows gone."""
    versions, current = _tables(fuhyo)
    with database(net, node) as db, db.transaction() as conn:
        conn.execute(delete(versions).where(versions.c.juminhyo_code.in_(codes)))
        conn.execute(delete(current).where(current.c.juminhyo_code.in_(codes)))


def change_address(
    net: LocalNetwork, node: str, codes: Sequence[str], *, fuhyo: bool = False
) -> None:
    """A changed address: the persons' stored versions edited in place."""
    versions, _ = _tables(fuhyo)
    with database(net, node) as db, db.transaction() as conn:
        conn.execute(
            update(versions)
            .where(versions.c.juminhyo_code.in_(codes))
            .values(address_text=versions.c.address_text + "改")
        )


def add_version(net: LocalNetwork, node: str, codes: Sequence[str], *, fuhyo: bool = False) -> None:
    """A newer version of each person at `node` only (the tiers above then hold an old one):
    a 転居 (the next 更新順番号) or, for a fuhyo, a correction of the address."""
    versions, current = _tables(fuhyo)
    with database(net, node) as db, db.transaction() as conn:
        for code in codes:
            row = conn.execute(
                select(versions)
                .where(versions.c.juminhyo_code == code)
                .order_by(versions.c.version.desc())
                .limit(1)
            ).one()
            values: dict[str, Any] = dict(row._mapping)
            del values["id"]
            values["version"] += 1
            values["change_id"] = str(uuid.UUID(int=random.getrandbits(128), version=4))
            values["address_text"] += "新"
            if fuhyo:
                values["notice_kind"] = fuhyo_pb.FUHYO_NOTICE_KIND_CORRECTION
            else:
                values["sequence_number"] += 1
                values["change_reason"] = common_pb2.CHANGE_REASON_MOVE_WITHIN
            key = conn.execute(insert(versions), values).inserted_primary_key
            assert key is not None
            state = {"version_id": key[0]} | (
                {} if fuhyo else {"sequence_number": values["sequence_number"]}
            )
            conn.execute(update(current).where(current.c.juminhyo_code == code).values(state))
