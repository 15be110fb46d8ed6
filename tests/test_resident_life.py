"""A resident's life on the real network: every hop applies each change once and in order."""

from __future__ import annotations

import random

from juki.v1 import common_pb2 as pb
from juki.v1 import cs_service_pb2, cs_service_pb2_grpc
from jukinet.client.calls import submit_change
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from tests.helpers.network import versions, wait_for


def _reasons(net: LocalNetwork, node: str, code: str) -> list[int]:
    return [r.change_reason for r in sorted(versions(net, node, code), key=lambda r: r.version)]


def test_birth_move_rename_move_out_move_in_emigrate_reach_national_in_order(
    network: LocalNetwork,
) -> None:
    born = synthetic.birth("141003", random.Random(8001))
    moved = synthetic.follow(born, pb.CHANGE_REASON_MOVE_WITHIN)
    moved.record.address.text = "港町2丁目3番"
    renamed = synthetic.follow(moved, pb.CHANGE_REASON_NAME_CHANGE)
    renamed.record.former_surname.CopyFrom(pb.FormerSurname(kanji="山田", kana="ヤマダ"))
    renamed.record.name_kanji, renamed.record.name_kana = "川口 花子", "カワグチ ハナコ"
    left = synthetic.follow(renamed, pb.CHANGE_REASON_MOVE_OUT, moved_to="141305")
    arrived = synthetic.follow(left, pb.CHANGE_REASON_MOVE_IN, municipality_code="141305")
    arrived.record.address.text = "川崎区駅前1番"
    emigrated = synthetic.follow(arrived, pb.CHANGE_REASON_EMIGRATION)

    for change in (born, moved, renamed):
        submit_change(network.info, change)
    # The move-in at 川崎市 is entered before 横浜市 enters the move-out: the prefecture
    # and the national server hold it back until the move-out arrives.
    with network.client_channel("cs-141305", "register-141305") as channel:
        reply = cs_service_pb2_grpc.CsServiceStub(channel).SubmitChange(
            cs_service_pb2.SubmitChangeRequest(change=arrived), timeout=5
        )
    assert not reply.held, "the new CS has no record of the person: the move-in starts it there"
    code = born.record.juminhyo_code
    wait_for(lambda: len(versions(network, "prefecture-14", code)) == 3)
    submit_change(network.info, left)
    submit_change(network.info, emigrated)

    expected = [
        pb.CHANGE_REASON_BIRTH,
        pb.CHANGE_REASON_MOVE_WITHIN,
        pb.CHANGE_REASON_NAME_CHANGE,
        pb.CHANGE_REASON_MOVE_OUT,
        pb.CHANGE_REASON_MOVE_IN,
        pb.CHANGE_REASON_EMIGRATION,
    ]
    wait_for(lambda: len(versions(network, "national", code)) == 6)
    assert _reasons(network, "national", code) == expected
    assert _reasons(network, "prefecture-14", code) == expected
    assert _reasons(network, "cs-141003", code) == expected[:4]
    assert _reasons(network, "cs-141305", code) == expected[4:]
    final = max(versions(network, "national", code), key=lambda r: r.version)
    assert (final.deleted, final.sequence_number, final.municipality_code) == (True, 6, "141305")
    assert final.former_surname_kanji == "山田"


def _change_status(network: LocalNetwork, change_id: str) -> cs_service_pb2.GetChangeStatusResponse:
    with network.client_channel("cs-141305", "register-141305") as channel:
        reply: cs_service_pb2.GetChangeStatusResponse = cs_service_pb2_grpc.CsServiceStub(
            channel
        ).GetChangeStatus(cs_service_pb2.GetChangeStatusRequest(change_id=change_id), timeout=5)
    return reply


def test_a_held_change_refused_later_shows_rejected_with_its_reason_at_its_cs(
    network: LocalNetwork,
) -> None:
    born = synthetic.birth("141003", random.Random(8002))
    # 川崎市 enters a move-in as the third change of a person 横浜市 still has as a resident:
    # the prefecture holds it back, waiting for the second.
    early = synthetic.follow(born, pb.CHANGE_REASON_MOVE_OUT, moved_to="141305")
    arrived = synthetic.follow(early, pb.CHANGE_REASON_MOVE_IN, municipality_code="141305")
    arrived.record.address.text = "川崎区駅前2番"
    submit_change(network.info, born)
    code = born.record.juminhyo_code
    wait_for(lambda: versions(network, "prefecture-14", code))
    submit_change(network.info, arrived)
    wait_for(
        lambda: (
            _change_status(network, arrived.change_id).state == cs_service_pb2.DELIVERY_STATE_HELD
        )
    )
    # 横浜市's second change is a move within the city, not a move-out: the held move-in is
    # for a current resident, and the prefecture refuses it once the gap fills.
    moved = synthetic.follow(born, pb.CHANGE_REASON_MOVE_WITHIN)
    moved.record.address.text = "港町3丁目1番"
    submit_change(network.info, moved)
    final = wait_for(
        lambda: (
            (status := _change_status(network, arrived.change_id)).state
            == cs_service_pb2.DELIVERY_STATE_REJECTED
            and status
        ),
        timeout=30,
    )
    assert final.rejection_reason == "MOVE_IN_FOR_CURRENT_RESIDENT"
    assert [v.change_reason for v in versions(network, "prefecture-14", code)] == [
        pb.CHANGE_REASON_BIRTH,
        pb.CHANGE_REASON_MOVE_WITHIN,
    ]
