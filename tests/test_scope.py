"""records/scope.py read over a stored history: who keeps a person, and which of their versions
the rule would have refused (the keeper's repair of a forgery from before the rule)."""

from __future__ import annotations

from juki.v1 import common_pb2 as pb
from jukinet.records.scope import Step, out_of_scope

TOKYO, YOKOHAMA, OSAKA = "131016", "141003", "271004"
BORN = Step(TOKYO, pb.CHANGE_REASON_BIRTH, removed=False)


def test_a_history_the_rule_admits_has_its_last_writer_as_keeper() -> None:
    moved_out = Step(TOKYO, pb.CHANGE_REASON_MOVE_OUT, removed=True, moved_to=YOKOHAMA)
    moved_in = Step(YOKOHAMA, pb.CHANGE_REASON_MOVE_IN, removed=False)
    assert out_of_scope([BORN, moved_out, moved_in]) == (YOKOHAMA, [])


def test_another_municipalitys_version_of_a_kept_person_is_out_of_scope() -> None:
    forged = Step(YOKOHAMA, pb.CHANGE_REASON_EX_OFFICIO_CORRECTION, removed=False)
    later = Step(TOKYO, pb.CHANGE_REASON_MOVE_WITHIN, removed=False)
    assert out_of_scope([BORN, forged, later]) == (TOKYO, [1])
    assert out_of_scope([BORN, forged, forged]) == (TOKYO, [1, 2])


def test_a_move_in_where_the_move_out_did_not_send_them_is_out_of_scope() -> None:
    moved_out = Step(TOKYO, pb.CHANGE_REASON_MOVE_OUT, removed=True, moved_to=YOKOHAMA)
    elsewhere = Step(OSAKA, pb.CHANGE_REASON_MOVE_IN, removed=False)
    assert out_of_scope([BORN, moved_out, elsewhere]) == (TOKYO, [2])


def test_a_history_that_cannot_tell_decides_nothing() -> None:
    # A 転出 stored before its destination was: whoever took the person in may be right.
    moved_out = Step(TOKYO, pb.CHANGE_REASON_MOVE_OUT, removed=True)
    moved_in = Step(YOKOHAMA, pb.CHANGE_REASON_MOVE_IN, removed=False)
    assert out_of_scope([BORN, moved_out, moved_in]) is None
    assert out_of_scope([]) is None
