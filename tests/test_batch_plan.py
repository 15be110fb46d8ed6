"""A batch taken set-wise (batch_plan) leaves exactly what taking it change by change leaves.

Each test takes the same changes into two stores — one with
batch_plan.take_resident_batch, one with batches.take_batch + take_change —
and compares the results, the versions, the index, the outbox order, the
remembered decisions and the held changes. The planned store runs on SQLite
and on PostgreSQL (the `db` fixture); the reference is SQLite.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from juki.v1 import common_pb2 as pb
from jukinet.changes import batch_plan, batches, delivery, ledger
from jukinet.core.errors import RefusedError
from jukinet.core.identity import Identity
from jukinet.dev import synthetic
from jukinet.sealing.envelope import Sealer
from jukinet.storage import Database, open_database
from jukinet.storage.schema import (
    held_changes,
    outbox,
    received_changes,
    resident_current,
    resident_versions,
)

SENDER = "spiffe://juki.example/cs/141003"
MUNICIPALITY = "141003"


def _intake(vault: Sealer) -> ledger.Intake:
    """A batch delivered by cs-141003: refused for another municipality's changes."""
    return ledger.Intake(
        sender=SENDER,
        vault=vault,
        forward=True,
        check_origin=delivery.from_municipality(Identity.parse(SENDER)),
    )


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'reference.db'}")
    yield database
    database.dispose()


def _one_by_one(db: Database, vault: Sealer, changes: list[pb.Change]) -> list[Any]:
    with db.transaction() as conn:
        return batches.take_batch(conn, changes, _intake(vault), ledger.take_change)


def _planned(db: Database, vault: Sealer, changes: list[pb.Change]) -> list[Any]:
    with db.transaction() as conn:
        return batch_plan.take_resident_batch(conn, changes, _intake(vault))


def _statements(db: Database, take: Any, *args: Any) -> tuple[Any, int]:
    """`take(db, *args)` and how many statements it ran."""
    counted = [0]

    def count(*_: Any) -> None:
        counted[0] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        return take(db, *args), counted[0]
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _snapshot(db: Database) -> dict[str, list[Any]]:
    """Everything taking changes writes, without ids and times (they differ by store)."""
    stored = [c for c in resident_versions.c if c.name not in ("id", "recorded_at")]
    indexed = [c for c in resident_current.c if c.name != "version_id"]
    with db.engine.connect() as conn:
        return {
            "versions": [
                tuple(r)
                for r in conn.execute(
                    select(*stored).order_by(
                        resident_versions.c.juminhyo_code, resident_versions.c.version
                    )
                )
            ],
            "index": [
                tuple(r)
                for r in conn.execute(
                    select(*indexed, resident_versions.c.version, resident_versions.c.change_id)
                    .join(
                        resident_versions, resident_versions.c.id == resident_current.c.version_id
                    )
                    .order_by(resident_current.c.juminhyo_code)
                )
            ],
            "outbox": list(
                conn.execute(select(outbox.c.change_id).order_by(outbox.c.id)).scalars()
            ),
            "received": sorted(
                tuple(r)
                for r in conn.execute(
                    select(
                        received_changes.c.change_id,
                        received_changes.c.sender,
                        received_changes.c.outcome,
                        received_changes.c.reason,
                    )
                )
            ),
            "held": sorted(conn.execute(select(held_changes.c.change_id)).scalars()),
        }


def _follow(change: pb.Change, reason: int, rng: random.Random) -> pb.Change:
    return synthetic.follow(change, reason, rng=rng)


def _outcomes(results: list[Any]) -> list[tuple[str, int, str]]:
    return [(r.change_id, r.outcome, r.reason) for r in results]


def test_a_mixed_batch_gives_the_same_results_and_rows_both_ways(
    db: Database, reference: Database, vault: Sealer
) -> None:
    rng = random.Random(42)
    a, b, c, earlier = (synthetic.birth(MUNICIPALITY, rng) for _ in range(4))
    for store in (db, reference):
        _one_by_one(store, vault, [a, b, c, earlier])

    moved = _follow(a, pb.CHANGE_REASON_MOVE_WITHIN, rng)
    moved.record.address.text = "港町1丁目1番"
    renamed = _follow(moved, pb.CHANGE_REASON_NAME_CHANGE, rng)
    renamed.record.name_kanji, renamed.record.name_kana = "川口 花子", "カワグチ ハナコ"
    d = synthetic.birth(MUNICIPALITY, rng)
    same_number = synthetic.birth(MUNICIPALITY, rng)
    same_number.record.my_number = d.record.my_number  # taken by d earlier in the batch
    died = _follow(b, pb.CHANGE_REASON_DEATH, rng)
    heir_of_number = synthetic.birth(MUNICIPALITY, rng)
    heir_of_number.record.my_number = b.record.my_number  # b is removed by then
    recoded = _follow(c, pb.CHANGE_REASON_CODE_CHANGE, rng)
    recoded.previous_juminhyo_code = c.record.juminhyo_code
    recoded.record.juminhyo_code = synthetic.juminhyo_code(rng)
    reborn = synthetic.birth(MUNICIPALITY, rng)
    reborn.record.juminhyo_code = c.record.juminhyo_code  # the old code is still on file
    onto_a = _follow(d, pb.CHANGE_REASON_CODE_CHANGE, rng)
    onto_a.previous_juminhyo_code = d.record.juminhyo_code
    onto_a.record.juminhyo_code = a.record.juminhyo_code
    bad_date = synthetic.birth(MUNICIPALITY, rng)
    bad_date.record.birth_date = "2020-02-30"
    after_recode = _follow(recoded, pb.CHANGE_REASON_MOVE_WITHIN, rng)
    after_recode.record.address.text = "本町2丁目3番"
    elsewhere = synthetic.birth("141305", rng)
    stale = _follow(a, pb.CHANGE_REASON_MOVE_WITHIN, rng)
    batch = [
        moved,
        renamed,
        d,
        same_number,
        d,  # the same id twice in one batch
        earlier,  # decided in an earlier batch
        died,
        heir_of_number,
        recoded,
        reborn,
        onto_a,
        bad_date,
        after_recode,
        elsewhere,
        stale,
    ]

    planned, statements = _statements(db, _planned, vault, batch)
    expected, reference_statements = _statements(reference, _one_by_one, vault, batch)

    assert _outcomes(planned) == _outcomes(expected)
    reasons = [r.reason for r in planned]
    assert reasons == [
        "",
        "",
        "",
        "MY_NUMBER_IN_USE",
        "",
        "",
        "",
        "",
        "",
        "BIRTH_FOR_EXISTING_CODE",
        "CODE_ALREADY_IN_USE",
        "INVALID_FIELD",
        "",
        "ORIGIN_MISMATCH",
        "STALE_SEQUENCE",
    ]
    assert _snapshot(db) == _snapshot(reference)
    # Change by change: about a dozen statements per change. Set-wise: four reads and a few
    # writes per table (SQLite inserts versions a row at a time, to return their ids in order).
    assert statements * 5 < reference_statements, "the batch was not taken set-wise"


def test_a_change_to_hold_makes_the_plan_give_way_to_one_by_one(
    db: Database, reference: Database, vault: Sealer
) -> None:
    rng = random.Random(7)
    born = synthetic.birth(MUNICIPALITY, rng)
    second = _follow(born, pb.CHANGE_REASON_MOVE_WITHIN, rng)
    second.record.address.text = "港町1丁目1番"
    third = _follow(second, pb.CHANGE_REASON_MOVE_WITHIN, rng)
    third.record.address.text = "港町1丁目2番"
    other = synthetic.birth(MUNICIPALITY, rng)
    for store in (db, reference):
        _one_by_one(store, vault, [born])

    # third arrives before second: held, in both stores.
    planned = _planned(db, vault, [other, third])
    assert _outcomes(planned) == _outcomes(_one_by_one(reference, vault, [other, third]))
    assert [r.outcome for r in planned] == [pb.CHANGE_OUTCOME_APPLIED, pb.CHANGE_OUTCOME_HELD]
    # second arrives: third, waiting for it, is applied after it.
    planned = _planned(db, vault, [second])
    assert _outcomes(planned) == _outcomes(_one_by_one(reference, vault, [second]))
    assert _snapshot(db) == _snapshot(reference)
    assert _snapshot(db)["held"] == []
    assert _snapshot(db)["outbox"][-2:] == [second.change_id, third.change_id]


def test_a_malformed_change_id_is_refused_and_not_kept(
    db: Database, reference: Database, vault: Sealer
) -> None:
    rng = random.Random(3)
    odd = synthetic.birth(MUNICIPALITY, rng)
    odd.change_id = "not-a-change-id-" * 4  # longer than any stored id, too
    good = synthetic.birth(MUNICIPALITY, rng)
    planned = _planned(db, vault, [odd, good])
    assert _outcomes(planned) == _outcomes(_one_by_one(reference, vault, [odd, good]))
    assert [(r.outcome, r.reason) for r in planned] == [
        (pb.CHANGE_OUTCOME_REJECTED, "INVALID_FIELD"),
        (pb.CHANGE_OUTCOME_APPLIED, ""),
    ]
    assert _snapshot(db) == _snapshot(reference)
    assert [r[0] for r in _snapshot(db)["received"]] == [good.change_id]


@pytest.mark.parametrize("size", [0, batches.MAX_BATCH + 1])
def test_a_batch_of_the_wrong_size_is_refused_whole(db: Database, vault: Sealer, size: int) -> None:
    rng = random.Random(size)
    with pytest.raises(RefusedError) as caught:
        _planned(db, vault, [synthetic.birth(MUNICIPALITY, rng) for _ in range(size)])
    assert caught.value.reason == "BAD_BATCH_SIZE"
    assert _snapshot(db)["received"] == []
