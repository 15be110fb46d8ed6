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
    left = synthetic.follow(renamed, pb.CHANGE_REASON_MOVE_OUT)
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
