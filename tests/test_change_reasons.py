"""Every change reason and logic check, ordering by update sequence number, idempotency."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from juki.v1 import common_pb2 as pb
from jukinet.changes import ledger
from jukinet.changes.outbox import OutboxState, count_by_state
from jukinet.core.errors import RefusedError
from jukinet.dev import synthetic
from jukinet.records.kana import seion
from jukinet.sealing.envelope import Sealer
from jukinet.storage import Database, open_database
from jukinet.storage.schema import held_changes, outbox, resident_current, resident_versions
from tests.helpers.sealing import make_world

NODE = "spiffe://juki.example/prefecture/14"
SENDER = "spiffe://juki.example/cs/141003"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'node.db'}")
    yield database
    database.dispose()


@pytest.fixture
def vault(tmp_path: Path) -> Sealer:
    return make_world(tmp_path / "world", (NODE,)).sealer(NODE)


class Store:
    """Takes changes into one node's store and reads back what it holds."""

    def __init__(self, db: Database, vault: Sealer) -> None:
        self.db, self.vault = db, vault

    def take(self, change: pb.Change) -> ledger.Decision:
        with self.db.transaction() as conn:
            intake = ledger.Intake(sender=SENDER, vault=self.vault, forward=True)
            return ledger.take_change(conn, change, intake)

    def refusal(self, change: pb.Change) -> str:
        before = self.counts()
        with pytest.raises(RefusedError) as caught:
            self.take(change)
        assert self.counts() == before, "a refused change wrote something"
        return caught.value.reason

    def counts(self) -> tuple[int, int, int, int]:
        with self.db.engine.connect() as conn:
            return tuple(  # type: ignore[return-value]
                conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (resident_versions, resident_current, outbox, held_changes)
            )

    def current(self, code: str) -> tuple[int, bool]:
        with self.db.engine.connect() as conn:
            row = conn.execute(
                select(resident_current.c.sequence_number, resident_current.c.removed).where(
                    resident_current.c.juminhyo_code == code
                )
            ).one()
        return int(row.sequence_number), bool(row.removed)

    def versions(self, code: str) -> list[int]:
        with self.db.engine.connect() as conn:
            return [
                r.change_reason
                for r in conn.execute(
                    select(resident_versions.c.change_reason)
                    .where(resident_versions.c.juminhyo_code == code)
                    .order_by(resident_versions.c.version)
                )
            ]


@pytest.fixture
def store(db: Database, vault: Sealer) -> Store:
    return Store(db, vault)


@pytest.fixture
def born(store: Store) -> pb.Change:
    change = synthetic.birth("141003", random.Random(1))
    assert store.take(change) is ledger.APPLIED
    return change


def _new_address(c: pb.Change) -> None:
    c.record.address.text = "港町1丁目1番"
    c.record.oaza_code = "042"


def _new_name(c: pb.Change) -> None:
    c.record.former_surname.CopyFrom(pb.FormerSurname(kanji="山田", kana="ヤマダ"))
    c.record.name_kanji, c.record.name_kana = "川口 花子", "カワグチ ハナコ"


def _new_my_number(c: pb.Change) -> None:
    c.record.my_number = synthetic.my_number(random.Random(77))


def _correct_birth_date(c: pb.Change) -> None:
    c.record.birth_date = "2016-04-02"


def _to_kawasaki(c: pb.Change) -> None:
    c.moved_to_municipality_code = "141305"


APPLYING: list[tuple[int, Callable[[pb.Change], None], bool]] = [
    (pb.CHANGE_REASON_MOVE_WITHIN, _new_address, False),
    (pb.CHANGE_REASON_NAME_CHANGE, _new_name, False),
    (pb.CHANGE_REASON_MY_NUMBER_CHANGE, _new_my_number, False),
    (pb.CHANGE_REASON_EX_OFFICIO_CORRECTION, _correct_birth_date, False),
    (pb.CHANGE_REASON_MOVE_OUT, _to_kawasaki, True),
    (pb.CHANGE_REASON_DEATH, lambda c: None, True),
    (pb.CHANGE_REASON_EMIGRATION, lambda c: None, True),
    (pb.CHANGE_REASON_EX_OFFICIO_REMOVAL, lambda c: None, True),
]


@pytest.mark.parametrize(("reason", "edit", "removes"), APPLYING)
def test_each_reason_applies_as_a_new_version(
    store: Store, born: pb.Change, reason: int, edit: Callable[[pb.Change], None], removes: bool
) -> None:
    change = synthetic.follow(born, reason)
    edit(change)
    assert store.take(change) is ledger.APPLIED
    code = born.record.juminhyo_code
    assert store.versions(code) == [pb.CHANGE_REASON_BIRTH, reason], "history kept"
    assert store.current(code) == (2, removes)


def test_name_change_keeps_former_surname_and_search_kana(store: Store, born: pb.Change) -> None:
    change = synthetic.follow(born, pb.CHANGE_REASON_NAME_CHANGE)
    _new_name(change)
    store.take(change)
    with store.db.engine.connect() as conn:
        row = conn.execute(
            select(resident_versions).where(resident_versions.c.change_id == change.change_id)
        ).one()
    assert (row.former_surname_kanji, row.former_surname_kana) == ("山田", "ヤマダ")
    assert row.seion_kana == seion("カワグチ ハナコ") == "カワクチハナコ"


def test_move_out_then_move_in_and_removal_then_entry(store: Store, born: pb.Change) -> None:
    out = synthetic.follow(born, pb.CHANGE_REASON_MOVE_OUT, moved_to="141305")
    back = synthetic.follow(out, pb.CHANGE_REASON_MOVE_IN, municipality_code="141305")
    removal = synthetic.follow(back, pb.CHANGE_REASON_EX_OFFICIO_REMOVAL)
    entry = synthetic.follow(removal, pb.CHANGE_REASON_EX_OFFICIO_ENTRY)
    for change in (out, back, removal, entry):
        assert store.take(change) is ledger.APPLIED
    assert store.current(born.record.juminhyo_code) == (5, False)


def test_code_change_removes_the_old_code_and_starts_the_new(store: Store, born: pb.Change) -> None:
    change = synthetic.follow(born, pb.CHANGE_REASON_CODE_CHANGE)
    change.previous_juminhyo_code = born.record.juminhyo_code
    change.record.juminhyo_code = synthetic.juminhyo_code(random.Random(5))
    assert store.take(change) is ledger.APPLIED
    assert store.current(born.record.juminhyo_code) == (2, True)
    assert store.current(change.record.juminhyo_code) == (2, False)
    follow_up = synthetic.follow(change, pb.CHANGE_REASON_MOVE_WITHIN)
    _new_address(follow_up)
    assert store.take(follow_up) is ledger.APPLIED


def _refused(store: Store, change: pb.Change) -> str:
    return store.refusal(change)


def test_move_in_for_a_current_resident_is_refused(store: Store, born: pb.Change) -> None:
    assert (
        _refused(store, synthetic.follow(born, pb.CHANGE_REASON_MOVE_IN))
        == "MOVE_IN_FOR_CURRENT_RESIDENT"
    )


def test_entry_for_a_current_resident_is_refused(store: Store, born: pb.Change) -> None:
    change = synthetic.follow(born, pb.CHANGE_REASON_EX_OFFICIO_ENTRY)
    assert _refused(store, change) == "ENTRY_FOR_CURRENT_RESIDENT"


@pytest.mark.parametrize(
    ("reason", "edit", "code"),
    [
        (pb.CHANGE_REASON_MOVE_WITHIN, _new_name, "MOVE_WITHIN_CHANGES_MORE_THAN_ADDRESS"),
        (pb.CHANGE_REASON_MOVE_WITHIN, _new_my_number, "MOVE_WITHIN_CHANGES_MORE_THAN_ADDRESS"),
        (pb.CHANGE_REASON_NAME_CHANGE, _new_address, "NAME_CHANGE_CHANGES_MORE_THAN_NAME"),
        (pb.CHANGE_REASON_MY_NUMBER_CHANGE, _new_name, "MY_NUMBER_CHANGE_CHANGES_MORE"),
        (pb.CHANGE_REASON_DEATH, _new_address, "REMOVAL_CHANGES_THE_RECORD"),
    ],
)
def test_a_reason_may_change_only_its_own_fields(
    store: Store, born: pb.Change, reason: int, edit: Callable[[pb.Change], None], code: str
) -> None:
    change = synthetic.follow(born, reason)
    edit(change)
    assert _refused(store, change) == code


def test_removing_a_removed_person_is_refused(store: Store, born: pb.Change) -> None:
    death = synthetic.follow(born, pb.CHANGE_REASON_DEATH)
    store.take(death)
    assert (
        _refused(store, synthetic.follow(death, pb.CHANGE_REASON_EX_OFFICIO_REMOVAL))
        == "REMOVAL_OF_REMOVED_PERSON"
    )
    renamed = synthetic.follow(death, pb.CHANGE_REASON_NAME_CHANGE)
    _new_name(renamed)
    assert _refused(store, renamed) == "CHANGE_FOR_REMOVED_PERSON"


def test_change_for_an_unknown_person_is_refused(store: Store) -> None:
    stranger = synthetic.follow(
        synthetic.birth("141003", random.Random(2)), pb.CHANGE_REASON_MOVE_WITHIN
    )
    assert _refused(store, stranger) == "UNKNOWN_PERSON"


def test_birth_for_an_existing_code_is_refused(store: Store, born: pb.Change) -> None:
    twin = synthetic.birth("141003", random.Random(3))
    twin.record.juminhyo_code = born.record.juminhyo_code
    assert _refused(store, twin) == "BIRTH_FOR_EXISTING_CODE"


def test_a_my_number_held_by_someone_else_is_refused(store: Store, born: pb.Change) -> None:
    other = synthetic.birth("141003", random.Random(4))
    other.record.my_number = born.record.my_number
    assert _refused(store, other) == "MY_NUMBER_IN_USE"
    change = synthetic.birth("141003", random.Random(6))
    store.take(change)
    steal = synthetic.follow(change, pb.CHANGE_REASON_MY_NUMBER_CHANGE)
    steal.record.my_number = born.record.my_number
    assert _refused(store, steal) == "MY_NUMBER_IN_USE"


def test_a_code_change_to_a_code_in_use_is_refused(store: Store, born: pb.Change) -> None:
    other = synthetic.birth("141003", random.Random(7))
    store.take(other)
    change = synthetic.follow(born, pb.CHANGE_REASON_CODE_CHANGE)
    change.previous_juminhyo_code = born.record.juminhyo_code
    change.record.juminhyo_code = other.record.juminhyo_code
    assert _refused(store, change) == "CODE_ALREADY_IN_USE"


def test_another_municipality_cannot_change_a_resident(store: Store, born: pb.Change) -> None:
    change = synthetic.follow(born, pb.CHANGE_REASON_MOVE_WITHIN, municipality_code="141305")
    assert _refused(store, change) == "NOT_RESIDENT_HERE"


def test_a_stale_sequence_is_refused_never_overwrites(store: Store, born: pb.Change) -> None:
    first = synthetic.follow(born, pb.CHANGE_REASON_MOVE_WITHIN)
    _new_address(first)
    store.take(first)
    late = synthetic.follow(born, pb.CHANGE_REASON_NAME_CHANGE)  # also sequence 2
    _new_name(late)
    assert _refused(store, late) == "STALE_SEQUENCE"


def test_a_gap_holds_later_changes_until_it_fills(store: Store, born: pb.Change) -> None:
    second = synthetic.follow(born, pb.CHANGE_REASON_MOVE_WITHIN)
    _new_address(second)
    third = synthetic.follow(second, pb.CHANGE_REASON_NAME_CHANGE)
    _new_name(third)
    fourth = synthetic.follow(third, pb.CHANGE_REASON_DEATH)
    code = born.record.juminhyo_code
    assert store.take(fourth).outcome == pb.CHANGE_OUTCOME_HELD
    assert store.take(third).outcome == pb.CHANGE_OUTCOME_HELD
    assert store.take(third).outcome == pb.CHANGE_OUTCOME_HELD  # a re-delivery of a held one
    assert store.current(code) == (1, False), "nothing applied out of order"
    with store.db.engine.connect() as conn:
        for payload in conn.execute(select(held_changes.c.payload)).scalars():
            assert born.record.my_number.encode() not in payload, "held changes are sealed"
    assert store.take(second) is ledger.APPLIED
    assert store.current(code) == (4, True), "the held ones followed, in order"
    assert store.versions(code) == [
        pb.CHANGE_REASON_BIRTH,
        pb.CHANGE_REASON_MOVE_WITHIN,
        pb.CHANGE_REASON_NAME_CHANGE,
        pb.CHANGE_REASON_DEATH,
    ]
    assert store.take(third) is ledger.DUPLICATE
    assert store.counts()[3] == 0, "no held entry left"
    with store.db.engine.connect() as conn:
        assert count_by_state(conn)[OutboxState.PENDING] == 4
        queued = [
            store.vault.open_at_rest(p, pb.Change).sequence_number
            for p in conn.execute(select(outbox.c.payload).order_by(outbox.c.id)).scalars()
        ]
    assert queued == [1, 2, 3, 4], "forwarded in sequence order"


def test_a_held_change_that_turns_out_invalid_is_recorded_rejected(
    store: Store, born: pb.Change
) -> None:
    second = synthetic.follow(born, pb.CHANGE_REASON_DEATH)
    third = synthetic.follow(second, pb.CHANGE_REASON_MOVE_WITHIN)  # a move after death
    _new_address(third)
    assert store.take(third).outcome == pb.CHANGE_OUTCOME_HELD
    assert store.take(second) is ledger.APPLIED
    decision = store.take(third)
    assert (decision.outcome, decision.reason) == (
        pb.CHANGE_OUTCOME_REJECTED,
        "CHANGE_FOR_REMOVED_PERSON",
    )
