"""One node's keys, one node's damage: every rule that protects data, attacked from inside.

Each test acts as one compromised node with nothing but that node's folder — its config, TLS
key, sealing keys and database — and the project's own code (tests/helpers/insider.py), or as
one municipality's register system with its own client certificate. It checks that the node
receiving the data refuses it with a stable reason, or, where that node cannot decide (a
person it does not know), serves none of it until the tier that can decide has refused it;
that the refusal travels back down (誤りの通報: the CS shows REJECTED, at which tier and why);
that no tier answers an organ with what was refused; and that the person's legitimate keeper
carries on. The rule is records/scope.py, applied by lifecycle.decide and changes/repairs.py;
the way down is changes/above.py and changes/notices.py.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select, update

from juki.v1 import change_notice_service_pb2 as notice_pb
from juki.v1 import change_notice_service_pb2_grpc as notice_grpc
from juki.v1 import common_pb2 as pb
from juki.v1 import cs_service_pb2, cs_service_pb2_grpc
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import provision_service_pb2 as pb_provision
from juki.v1 import provision_service_pb2_grpc as provision_grpc
from juki.v1 import transparency_service_pb2 as transparency_pb
from juki.v1 import transparency_service_pb2_grpc as transparency_grpc
from jukinet.ca.folder import CaFolder, PkiError
from jukinet.ca.signing import Signer
from jukinet.client import access
from jukinet.client import calls as clients
from jukinet.core.clock import SYSTEM
from jukinet.core.errors import RefusedError, error_info
from jukinet.core.identity import Identity
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.provision import organ_query
from jukinet.provision.link import within_rate
from jukinet.provision.log import Entry, ProvisionLog
from jukinet.records import residents
from jukinet.runtime import backup
from jukinet.runtime.trust_refresh import TrustFiles, TrustRefresher, read_folder
from jukinet.sealing import backup_box
from jukinet.sealing.backup_box import BackupError
from jukinet.sealing.key_directory import KeyDirectory, note_keys_of
from jukinet.sealing.key_documents import sign_document
from jukinet.sealing.keys import NodeKeyring, log_key_name, new_entries, rotate
from jukinet.storage import open_database
from jukinet.storage.schema import (
    audit_log,
    change_notices,
    fuhyo_versions,
    resident_current,
    resident_versions,
)
from jukinet.storage.version_state import VersionState
from jukinet.transparency import merkle, note
from jukinet.transparency.gossip import peer_checkpoint
from jukinet.transparency.witness import Witness, cosigners
from jukinet.trust import pki
from jukinet.trust.distribution import TrustMaterialError
from jukinet.trust.pki import load_crls
from tests.helpers.cli import ROOT, juki_net
from tests.helpers.insider import Insider
from tests.helpers.link import TAX_OFFICE, TAX_TASK, link_request
from tests.helpers.network import (
    channel_as,
    node_db,
    provision_rows,
    running_network,
    versions,
    wait_for,
)
from tests.helpers.sealing import make_world
from tests.helpers.witnesses import witness_in

PASSPORT = "organ-14-passport-centre"
NODE = "spiffe://juki.example/prefecture/14"
NATIONAL = "spiffe://juki.example/national"
RESEND, WITHDRAW = pb.REPAIR_KIND_RESEND, pb.REPAIR_KIND_WITHDRAW
APPLIED, REJECTED = pb.CHANGE_OUTCOME_APPLIED, pb.CHANGE_OUTCOME_REJECTED


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with running_network(tmp_path_factory.mktemp("net")) as net:
        yield net


def _insider(net: LocalNetwork, name: str) -> Insider:
    config = net.node_info(name).config
    assert config is not None
    return Insider(config.parent)


def _current(net: LocalNetwork, node: str, code: str) -> Any:
    """The person's current version row at `node` (with `served`), or None."""
    engine = node_db(net, node)
    with engine.connect() as conn:
        row = conn.execute(
            residents.current_versions().where(resident_current.c.juminhyo_code == code)
        ).first()
    engine.dispose()
    return row


def _refusal(net: LocalNetwork, node: str, code: str, change_id: str) -> str | None:
    """Why `node` holds the versions `change_id` wrote refused (None: not refused there)."""
    reasons = {
        row.refusal_reason
        for row in versions(net, node, code)
        if row.change_id == change_id and row.state == VersionState.REFUSED
    }
    return reasons.pop() if reasons else None


def _noticed(net: LocalNetwork, node: str, change_id: str) -> list[Any]:
    engine = node_db(net, node)
    with engine.connect() as conn:
        rows = conn.execute(
            select(change_notices).where(change_notices.c.change_id == change_id)
        ).all()
    engine.dispose()
    return list(rows)


def _resident(net: LocalNetwork, municipality: str, seed: int) -> pb.Change:
    """A person born at `municipality`, once the national server has them."""
    born = synthetic.birth(municipality, random.Random(seed))
    clients.submit_change(net.info, born)
    code = born.record.juminhyo_code
    wait_for(lambda: (row := _current(net, "national", code)) is not None and row.served)
    return born


def _the_keeper_carries_on(net: LocalNetwork, last: pb.Change) -> None:
    """The person's keeper enters its next change, and the national server takes it."""
    moved = synthetic.follow(last, pb.CHANGE_REASON_MOVE_WITHIN)
    moved.record.address.text = "本町1丁目1番"
    clients.submit_change(net.info, moved)
    code = last.record.juminhyo_code
    wait_for(
        lambda: (
            (row := _current(net, "national", code)) is not None
            and row.sequence_number == moved.sequence_number
            and row.address_text == "本町1丁目1番"
        )
    )


def _status(net: LocalNetwork, municipality: str, change_id: str) -> Any:
    with net.client_channel(f"cs-{municipality}", f"register-{municipality}") as channel:
        return cs_service_pb2_grpc.CsServiceStub(channel).GetChangeStatus(
            cs_service_pb2.GetChangeStatusRequest(change_id=change_id), timeout=5
        )


def _repair(last: pb.Change, municipality: str, *, kind: int = RESEND, **fields: Any) -> pb.Change:
    """A repair of `last`'s person as municipality `municipality` would send it."""
    repair = synthetic.follow(last, pb.CHANGE_REASON_EX_OFFICIO_CORRECTION)
    repair.municipality_code = repair.record.address.municipality_code = municipality
    repair.sequence_number = last.sequence_number
    repair.repair.CopyFrom(pb.Repair(kind=kind, **fields))
    return repair


def test_a_repair_of_another_prefectures_resident_is_served_nowhere_and_refused_back(
    network: LocalNetwork,
) -> None:
    # The attack of the issue: cs-141003 re-sends a Tokyo resident as its own, renamed,
    # removed, with a sequence number no change will ever reach.
    tokyo = _resident(network, "131016", 3301)
    code = tokyo.record.juminhyo_code
    forged = _repair(tokyo, "141003", removed=True)
    forged.record.name_kanji, forged.sequence_number = "偽造 太郎", 10**15
    (result,) = _insider(network, "cs-141003").deliver_changes(forged)
    # prefecture-14 does not know the person: it takes the repair but answers no one with it…
    assert result.outcome == APPLIED
    assert (
        _current(network, "prefecture-14", code) is None
        or not _current(network, "prefecture-14", code).served
    )
    # …until the national server, which knows who keeps the person, refuses it.
    wait_for(lambda: _refusal(network, "prefecture-14", code, forged.change_id))
    assert _refusal(network, "prefecture-14", code, forged.change_id) == "NOT_RESIDENT_HERE"
    assert _current(network, "prefecture-14", code) is None
    (notice,) = _noticed(network, "prefecture-14", forged.change_id)
    assert (notice.municipality_code, notice.refused_by) == ("141003", NATIONAL)
    national = _current(network, "national", code)
    assert (national.name_kanji, national.sequence_number, national.removed) == (
        tokyo.record.name_kanji,
        1,
        False,
    )
    # An organ of prefecture 14 asking for the person gets the truth, from the national server.
    answer = clients.ask(
        network.info, PASSPORT, clients.query("pref5-passport", juminhyo_code=code)
    )
    assert answer.answered_by_national
    assert [r.record.name_kanji for r in answer.records] == [tokyo.record.name_kanji]
    _the_keeper_carries_on(network, tokyo)


def test_a_repair_far_ahead_of_the_persons_history_is_refused_at_once(
    network: LocalNetwork,
) -> None:
    own = _resident(network, "141003", 3302)
    code = own.record.juminhyo_code
    ahead = _repair(own, "141003")
    ahead.sequence_number = 10**15
    ahead.record.name_kanji = "先取 花子"
    (result,) = _insider(network, "cs-141003").deliver_changes(ahead)
    assert (result.outcome, result.reason) == (REJECTED, "SEQUENCE_TOO_FAR_AHEAD")
    assert len(versions(network, "prefecture-14", code)) == 1
    _the_keeper_carries_on(network, own)


def test_a_repair_with_another_persons_my_number_is_refused_where_the_holder_is_known(
    network: LocalNetwork,
) -> None:
    insider = _insider(network, "cs-141003")
    for holder_at, seed in (("141305", 3303), ("131016", 3304)):
        holder = _resident(network, holder_at, seed)
        twin = synthetic.birth("141003", random.Random(seed + 100))
        twin.record.my_number = holder.record.my_number
        twin.repair.CopyFrom(pb.Repair(kind=RESEND))
        code = twin.record.juminhyo_code
        (result,) = insider.deliver_changes(twin)
        if holder_at == "141305":  # prefecture-14 knows the holder: refused at once
            assert (result.outcome, result.reason) == (REJECTED, "MY_NUMBER_IN_USE")
            assert versions(network, "prefecture-14", code) == []
        else:  # only the national server knows the holder: refused there, and back down
            refused = wait_for(
                lambda c=code, i=twin.change_id: _refusal(network, "prefecture-14", c, i)
            )
            assert refused == "MY_NUMBER_IN_USE"
        assert _current(network, "prefecture-14", code) is None
        assert _current(network, "national", code) is None
        by_number = clients.ask(
            network.info,
            "agency-pension-service",
            clients.query("nat1-pension", my_number=holder.record.my_number),
        )
        assert [r.record.juminhyo_code for r in by_number.records] == [holder.record.juminhyo_code]


def test_a_move_in_for_another_prefectures_resident_is_never_served_and_comes_back_rejected(
    network: LocalNetwork,
) -> None:
    # As 横浜市's own register system: a 転入 of a current Tokyo resident, with an invented
    # name. The CS and prefecture-14 cannot know better; the national server can.
    tokyo = _resident(network, "131016", 3305)
    code = tokyo.record.juminhyo_code
    invented = synthetic.follow(tokyo, pb.CHANGE_REASON_MOVE_IN, municipality_code="141003")
    invented.record.name_kanji, invented.record.address.text = "架空 次郎", "中区1番"
    clients.submit_change(network.info, invented)
    status = wait_for(
        lambda: (
            (s := _status(network, "141003", invented.change_id)).state
            == cs_service_pb2.DELIVERY_STATE_REJECTED
            and s
        ),
        timeout=45,
    )
    assert (status.rejection_reason, status.rejected_by) == (
        "MOVE_IN_FOR_CURRENT_RESIDENT",
        NATIONAL,
    )
    for node in ("prefecture-14", "cs-141003"):
        assert _refusal(network, node, code, invented.change_id) == "MOVE_IN_FOR_CURRENT_RESIDENT"
        assert _current(network, node, code) is None
    answer = clients.ask(
        network.info, PASSPORT, clients.query("pref5-passport", juminhyo_code=code)
    )
    assert answer.answered_by_national
    assert [r.record.name_kanji for r in answer.records] == [tokyo.record.name_kanji]
    # The register system is told, once: `juki-net notices`, then acknowledged.
    described = str(network.dir / "network.json")
    listed = juki_net("notices", "--network", described, "--municipality", "141003", "--ack")
    assert listed.returncode == 0, listed.stderr
    assert invented.change_id in listed.stdout and "MOVE_IN_FOR_CURRENT_RESIDENT" in listed.stdout
    again = juki_net("notices", "--network", described, "--municipality", "141003")
    assert invented.change_id not in again.stdout
    assert all(row.acknowledged_at for row in _noticed(network, "cs-141003", invented.change_id))
    _the_keeper_carries_on(network, tokyo)


def test_a_change_refused_above_for_a_known_person_is_taken_back_below(
    network: LocalNetwork,
) -> None:
    # 横浜市 gives its resident the My Number of a Tokyo resident: prefecture-14 knows its
    # resident and takes the change; the national server, which knows the number, refuses it.
    tokyo = _resident(network, "131016", 3306)
    own = _resident(network, "141003", 3307)
    code = own.record.juminhyo_code
    changed = synthetic.follow(own, pb.CHANGE_REASON_MY_NUMBER_CHANGE)
    changed.record.my_number = tokyo.record.my_number
    clients.submit_change(network.info, changed)
    wait_for(
        lambda: (
            _status(network, "141003", changed.change_id).state
            == cs_service_pb2.DELIVERY_STATE_REJECTED
        ),
        timeout=45,
    )
    for node in ("prefecture-14", "cs-141003"):
        assert _refusal(network, node, code, changed.change_id) == "MY_NUMBER_IN_USE"
        row = _current(network, node, code)
        assert (row.my_number, row.sequence_number, row.served) == (own.record.my_number, 1, True)
    by_number = clients.ask(
        network.info,
        "organ-14-welfare-office",
        clients.query(
            "pref5-disability-certificate",
            my_number=tokyo.record.my_number,
            items=["juminhyo_code"],
        ),
    )
    assert code not in [r.record.juminhyo_code for r in by_number.records]
    _the_keeper_carries_on(network, own)


def test_a_move_in_where_the_move_out_named_another_municipality_is_refused(
    network: LocalNetwork,
) -> None:
    tokyo = _resident(network, "131016", 3308)
    code = tokyo.record.juminhyo_code
    left = synthetic.follow(tokyo, pb.CHANGE_REASON_MOVE_OUT, moved_to="141305")
    clients.submit_change(network.info, left)
    wait_for(lambda: _current(network, "national", code).removed)
    wrong = synthetic.follow(left, pb.CHANGE_REASON_MOVE_IN, municipality_code="141003")
    clients.submit_change(network.info, wrong)
    status = wait_for(
        lambda: (
            (s := _status(network, "141003", wrong.change_id)).state
            == cs_service_pb2.DELIVERY_STATE_REJECTED
            and s
        ),
        timeout=45,
    )
    assert (status.rejection_reason, status.rejected_by) == ("TAKE_IN_NOT_ALLOWED", NATIONAL)
    right = synthetic.follow(left, pb.CHANGE_REASON_MOVE_IN, municipality_code="141305")
    clients.submit_change(network.info, right)
    wait_for(
        lambda: (
            (
                (row := _current(network, "national", code)).municipality_code,
                row.removed,
                row.sequence_number,
            )
            == ("141305", False, 3)
        )
    )
    wait_for(lambda: _current(network, "prefecture-14", code).served)


def test_a_fuhyo_repair_of_a_fuhyo_another_municipality_keeps_is_refused(
    network: LocalNetwork,
) -> None:
    kept = synthetic.fuhyo_entry(synthetic.birth("141305", random.Random(3309)), random.Random(1))
    clients.submit_fuhyo_change(network.info, kept)
    code = kept.record.juminhyo_code

    def fuhyo_rows() -> list[Any]:
        engine = node_db(network, "fuhyo-14")
        with engine.connect() as conn:
            rows = conn.execute(
                select(fuhyo_versions).where(fuhyo_versions.c.juminhyo_code == code)
            ).all()
        engine.dispose()
        return list(rows)

    wait_for(fuhyo_rows)
    taken = pb.Repair(kind=RESEND)
    forged = fuhyo_pb.FuhyoChange(change_id=synthetic.birth("141003").change_id, repair=taken)
    forged.municipality_code = "141003"
    forged.record.CopyFrom(kept.record)
    forged.record.keeping_municipality_code = "141003"
    forged.record.address.municipality_code = "141003"
    (result,) = _insider(network, "cs-141003").deliver_fuhyo_changes(forged)
    assert (result.outcome, result.reason) == (REJECTED, "KEPT_BY_ANOTHER_MUNICIPALITY")
    assert [row.keeping_municipality_code for row in fuhyo_rows()] == ["141305"]


def test_a_withdrawal_needs_an_approval_and_stays_inside_its_municipality(
    network: LocalNetwork,
) -> None:
    kawasaki = _resident(network, "141305", 3310)
    code = kawasaki.record.juminhyo_code
    insider = _insider(network, "cs-141003")
    operator = "spiffe://juki.example/operator/14/admin-a"
    run = synthetic.birth("141003", random.Random(5)).change_id

    def withdrawal(**approval: str) -> pb.Change:
        change = _repair(kawasaki, "141003", kind=WITHDRAW, **approval)
        change.change_id = synthetic.birth("141003").change_id
        return change

    for unapproved in (
        withdrawal(),
        withdrawal(run_id=run, approved_by=operator, checked_by=operator),
        withdrawal(run_id=run, approved_by="spiffe://juki.example/cs/141003", checked_by=""),
    ):
        (result,) = insider.deliver_changes(unapproved)
        assert (result.outcome, result.reason) == (REJECTED, "REPAIR_NOT_APPROVED")
    approved = withdrawal(run_id=run, approved_by=operator, checked_by=NATIONAL)
    (result,) = insider.deliver_changes(approved)
    assert (result.outcome, result.reason) == (REJECTED, "NOT_RESIDENT_HERE")
    assert len(versions(network, "prefecture-14", code)) == 1
    _the_keeper_carries_on(network, kawasaki)


def test_a_compromised_prefecture_server_cannot_speak_for_another_prefecture(
    network: LocalNetwork,
) -> None:
    tokyo = _resident(network, "131016", 3311)
    insider = _insider(network, "prefecture-14")
    as_tokyo = _repair(tokyo, "131016")
    as_yokohama = _repair(tokyo, "141003")
    as_yokohama.record.name_kanji = "乗取 三郎"
    first, second = insider.deliver_changes(as_tokyo, as_yokohama)
    assert (first.outcome, first.reason) == (REJECTED, "ORIGIN_MISMATCH")
    assert (second.outcome, second.reason) == (REJECTED, "NOT_RESIDENT_HERE")
    assert _current(network, "national", tokyo.record.juminhyo_code).name_kanji == (
        tokyo.record.name_kanji
    )
    _the_keeper_carries_on(network, tokyo)


def test_a_register_system_sees_only_its_own_municipalitys_notices(
    network: LocalNetwork,
) -> None:
    described = str(network.dir / "network.json")
    listed = juki_net("notices", "--network", described, "--municipality", "141305")
    assert listed.returncode == 0, listed.stderr
    engine = node_db(network, "cs-141305")
    with engine.connect() as conn:
        theirs = conn.execute(select(change_notices.c.municipality_code)).scalars().all()
    engine.dispose()
    assert set(theirs) <= {"141305"}
    with (
        network.client_channel("prefecture-14", "register-141003") as channel,
        pytest.raises(grpc.RpcError) as refused,
    ):
        notice_grpc.ChangeNoticeServiceStub(channel).ListChangeNotices(
            notice_pb.ListChangeNoticesRequest(), timeout=5
        )
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_the_readme_threat_model_cites_tests_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Threat model", 1)[1].split("\n## ", 1)[0]
    cited, module = [], ""
    for file, name in re.findall(r"`(test_\w+\.py)?::(test_\w+)`", section):
        module = file or module
        cited.append((module, name))
    assert len(cited) >= 20
    for module, name in cited:
        source = (ROOT / "tests" / module).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, flags=re.MULTILINE), f"{module}::{name}"


def _forgery_from_before(
    net: LocalNetwork, kept: pb.Change, name: str, *, at: str = "national"
) -> pb.Change:
    """What the old rules let through, written into node `at`'s database as they did: its
    current version of `kept`'s person came from 横浜市, renamed, with a sequence number out of
    reach."""
    code = kept.record.juminhyo_code
    forged = _repair(kept, "141003")
    forged.record.name_kanji, forged.sequence_number = name, 10**15
    engine = _insider(net, at).database()
    with engine.begin() as conn:
        row = conn.execute(
            residents.current_versions().where(resident_current.c.juminhyo_code == code)
        ).one()
        values = residents.version_values(
            forged,
            forged.record,
            version=row.version + 1,
            removed=False,
            recorded_at=row.recorded_at,
        )
        new_id = conn.execute(insert(resident_versions), values).inserted_primary_key[0]
        conn.execute(
            update(resident_current)
            .where(resident_current.c.juminhyo_code == code)
            .values(residents.index_row(values, new_id))
        )
    engine.dispose()
    assert _current(net, at, code).name_kanji == name
    return forged


def _check_and_approve(net: LocalNetwork, node: str, municipality: str) -> Any:
    """`node`'s consistency check of `municipality` as the operator, its repairs approved by
    the supervisor; the report that awaited approval."""
    at = net.info.node(node)
    reports = clients.consistency_check(net.info, at, municipality)
    (report,) = [r for r in reports if r.awaiting_approval]
    clients.approve_repairs(net.info, at, report.run_id, "supervisor")
    return report


def test_a_forgery_made_before_these_rules_is_withdrawn_by_the_forgers_municipalitys_check(
    network: LocalNetwork,
) -> None:
    # prefecture-14's check of 横浜市 with national finds a person above that 横浜市 never had;
    # the withdrawal, approved by another operator, takes the forgery out, and the Tokyo
    # keeper's version is current again.
    tokyo = _resident(network, "131016", 3312)
    code = tokyo.record.juminhyo_code
    _forgery_from_before(network, tokyo, "偽造 四郎")
    _check_and_approve(network, "prefecture-14", "141003")
    wait_for(lambda: _current(network, "national", code).name_kanji == tokyo.record.name_kanji)
    assert _current(network, "national", code).sequence_number == 1
    _the_keeper_carries_on(network, tokyo)


def test_a_forgery_made_before_these_rules_is_taken_back_by_the_keepers_check(
    network: LocalNetwork,
) -> None:
    # The same kind of forgery at prefecture-14, found from the true keeper's side: it serves
    # 横浜市's version of a 川崎市 resident whose latest word from 川崎市 does not remove them.
    # cs-141305's check shows the difference; its approved repair takes the person back
    # (prefecture-14's own history says 川崎市 keeps them), and the forgery stays only as
    # refused history.
    kawasaki = _resident(network, "141305", 3313)
    code = kawasaki.record.juminhyo_code
    forged = _forgery_from_before(network, kawasaki, "偽造 五郎", at="prefecture-14")
    report = _check_and_approve(network, "cs-141305", "141305")
    assert report.found.different_content == 1
    wait_for(
        lambda: _current(network, "prefecture-14", code).name_kanji == kawasaki.record.name_kanji
    )
    assert _refusal(network, "prefecture-14", code, forged.change_id) == "NOT_RESIDENT_HERE"
    _the_keeper_carries_on(network, kawasaki)


def test_an_administrator_never_approves_a_grant_to_itself(network: LocalNetwork) -> None:
    # Two persons besides the one who gains the rights: admin-b grants admin-a an operator's
    # rights; admin-a, holding its own administrator's certificate, cannot put them in effect.
    prefecture = network.info.node("prefecture-14")
    admin_a = network.info.client("admin-a").spiffe_id
    grant = access.grant(network.info, prefecture, "admin-b", admin_a, ["disclose"], 30)
    with pytest.raises(grpc.RpcError) as refused:
        access.approve(network.info, prefecture, "admin-a", grant.grant_id)
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(refused.value)
    assert info is not None and info.reason == "GRANTEE_APPROVES"
    held = access.grants(network.info, prefecture, "admin-b")
    (mine,) = [g for g in held if g.grant_id == grant.grant_id]
    assert mine.approved_by == ""


def _trust_files(folder: Path, ca: CaFolder) -> TrustFiles:
    """A node below that was handed the CA's bundle and nothing else yet."""
    files = TrustFiles(folder / "bundle.pem", folder / "crl.pem", folder / "keys")
    files.key_directory.mkdir(parents=True)
    files.bundle.write_bytes(ca.bundle.read_bytes())
    return files


def test_an_upstream_node_cannot_serve_a_revocation_list_from_before_a_revocation(
    tmp_path: Path,
) -> None:
    # The node above hands down its trust material; compromised, it serves the CRLs it kept
    # from before a thief's certificate was revoked. The node below keeps the newer list.
    ca = CaFolder(tmp_path / "pki")
    ca.ensure_ca()
    stolen, _ = ca.issue(
        Identity.parse("spiffe://juki.example/cs/141003"),
        tmp_path,
        "cs",
        lifetime=dt.timedelta(days=1),
    )
    before = read_folder(ca.published)
    serial = ca.revoke(stolen)
    below = _trust_files(tmp_path / "below", ca)
    refresher = TrustRefresher(
        below, lambda: read_folder(ca.published), interval_s=60, clock=SYSTEM
    )
    assert "crl.pem" in refresher.refresh()
    upstream = TrustRefresher(below, lambda: before, interval_s=60, clock=SYSTEM)
    with pytest.raises(TrustMaterialError, match="older"):
        upstream.refresh()
    (held,) = load_crls(below.crls.read_bytes())
    assert held.get_revoked_certificate_by_serial_number(serial) is not None


def test_an_upstream_node_cannot_bring_back_a_retired_key(tmp_path: Path) -> None:
    # A node's key document, reissued after its key rotation and the old key's retirement,
    # must not be replaced by the document from before (which lists the retired key).
    ca = CaFolder(tmp_path / "pki")
    ca.ensure_ca()
    now = SYSTEM.now()
    ring = NodeKeyring.create(tmp_path / "ring.json", new_entries(now - dt.timedelta(hours=1)))
    old = sign_document(ring.document(NODE, now - dt.timedelta(hours=1)), ca.signer())
    new = sign_document(ring.document(NODE, now), ca.signer())
    below = _trust_files(tmp_path / "below", ca)

    def serving(document: Any) -> Any:
        material = read_folder(ca.published)
        material.key_documents.append(document)
        return lambda: material

    TrustRefresher(below, serving(new), interval_s=60, clock=SYSTEM).refresh()
    assert TrustRefresher(below, serving(old), interval_s=60, clock=SYSTEM).refresh() == []
    (held,) = below.key_directory.glob("*.keydoc")
    assert held.read_bytes() == new.SerializeToString()


def test_a_backup_made_with_the_custodians_public_key_alone_is_not_restored(
    tmp_path: Path,
) -> None:
    # The custodian's public key sits on every node's host. cs-141003's operator, with its own
    # folder, makes a "backup of prefecture-14" (its own planted database, its own signing key
    # under prefecture-14's name): the restore into a fresh prefecture-14 refuses it, and
    # prefecture-14's own backup restores.
    cs, prefecture = "spiffe://juki.example/cs/141003", NODE
    world = make_world(tmp_path / "world", (cs, prefecture))
    public, private = backup_box.make_recipient(tmp_path / "custodian")
    planted = f"sqlite:///{tmp_path / 'planted.db'}"
    open_database(planted).dispose()
    forger = replace(world.node_config(cs, planted), spiffe_id=prefecture)
    backup.take(forger, public, tmp_path / "forged.backup", SYSTEM.now())
    # …and once more naming prefecture-14's own signing key, signed with cs-141003's.
    victims = {e.use: e.key_id for e in world.rings[prefecture].entries}
    renamed = [replace(e, key_id=victims[e.use]) for e in world.rings[cs].entries]
    borrowed = NodeKeyring.create(tmp_path / "borrowed.json", renamed)
    forger = replace(forger, keyring_file=borrowed.path)
    backup.take(forger, public, tmp_path / "forged-as-its-key.backup", SYSTEM.now())
    fresh = world.node_config(prefecture, f"sqlite:///{tmp_path / 'fresh.db'}")
    for forged, why in (
        ("forged.backup", "not signed by a key of this node's key document"),
        ("forged-as-its-key.backup", "signature does not verify"),
    ):
        with pytest.raises(BackupError, match=why):
            backup.restore(fresh, tmp_path / forged, private)
    assert not (tmp_path / "fresh.db").exists()
    own = world.node_config(prefecture, planted)
    backup.take(own, public, tmp_path / "own.backup", SYSTEM.now())
    assert backup.restore(fresh, tmp_path / "own.backup", private)["spiffe_id"] == prefecture


CS_141003 = Identity.parse("spiffe://juki.example/cs/141003")


def _request_pem(identity: Identity, **names: Any) -> bytes:
    csr = pki.request(pki.new_key(), identity, **names)
    return csr.public_bytes(serialization.Encoding.PEM)


def test_a_thief_who_renewed_a_stolen_certificate_is_evicted_with_the_identity(
    tmp_path: Path,
) -> None:
    # Whoever steals cs-141003's key renews at the signing service and holds a serial the
    # operator never saw. Revoking the identity revokes it too, and refuses further renewals
    # until the operator signs a new request for cs-141003.
    ca = CaFolder(tmp_path / "pki")
    ca.ensure_ca()
    signer = Signer(ca)
    day = dt.timedelta(hours=24)
    first = signer.sign(
        signer.read_request(_request_pem(CS_141003), expect=CS_141003, lifetime=day)
    )
    stolen = signer.renew(_request_pem(CS_141003), CS_141003, parent=first.serial_number)
    assert [e.parent for e in ca.ledger.entries()] == [None, first.serial_number]
    done = juki_net("pki", "revoke", "--pki-dir", str(ca.dir), "--identity", CS_141003.spiffe_id)
    assert done.returncode == 0, done.stderr
    (crl,) = load_crls(ca.crl.read_bytes())
    for cert in (first, stolen):
        assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    with pytest.raises(RefusedError) as refused:
        signer.renew(_request_pem(CS_141003), CS_141003, parent=stolen.serial_number)
    assert refused.value.reason == "IDENTITY_NOT_APPROVED"
    # Re-admitted by the operator with a new request from the node's operator: a new, good one.
    again = signer.sign(
        signer.read_request(_request_pem(CS_141003), expect=CS_141003, lifetime=day)
    )
    (crl,) = load_crls(ca.crl.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(again.serial_number) is None


def test_a_request_asking_for_another_nodes_dns_name_is_not_given_it(tmp_path: Path) -> None:
    # A CS's request asks for national's DNS name, which clients check servers by. `pki sign`
    # shows the operator what it would sign, signs only with --yes, and issues the CS's own
    # derived name only.
    ca = CaFolder(tmp_path / "pki")
    ca.ensure_ca()
    csr = tmp_path / "cs.csr"
    csr.write_bytes(_request_pem(CS_141003, dns_names=["national.juki.example"]))
    out = tmp_path / "cs.crt"
    sign = ("pki", "sign", "--pki-dir", str(ca.dir), "--csr", str(csr), "--out", str(out))
    unconfirmed = juki_net(*sign, "--expect", CS_141003.spiffe_id)
    assert unconfirmed.returncode == 2 and "add --yes" in unconfirmed.stderr
    assert "not issued:   national.juki.example" in unconfirmed.stdout
    assert not out.exists()
    done = juki_net(*sign, "--expect", CS_141003.spiffe_id, "--yes")
    assert done.returncode == 0, done.stderr
    assert pki.names_of(pki.load_certificate(out)) == (["cs-141003.juki.example"], [])


def test_a_bulk_provision_split_into_small_streams_still_needs_an_approval(
    network: LocalNetwork,
) -> None:
    # The threshold (1,000 rows) counts the organ's rows per day: its first stream of 600
    # declared rows goes through, the second of 600 that day needs an operator's approval.
    tax_office = "organ-14-tax-office"
    kept = _resident(network, "141305", 3321)
    row = clients.query("pref5-prefectural-tax", juminhyo_code=kept.record.juminhyo_code)

    def stream() -> list[Any]:
        header = pb_provision.BulkHeader(
            task_id="pref5-prefectural-tax", operator_id="c1", declared_rows=600
        )
        requests = [
            pb_provision.BulkQueryResidentsRequest(header=header),
            pb_provision.BulkQueryResidentsRequest(row=row),
        ]
        with network.client_channel("prefecture-14", tax_office) as channel:
            stub = provision_grpc.ProvisionServiceStub(channel)
            return list(stub.BulkQueryResidents(iter(requests), timeout=10))

    (answer,) = stream()
    assert answer.records[0].record.juminhyo_code == kept.record.juminhyo_code
    with pytest.raises(grpc.RpcError) as refused:
        stream()
    info = error_info(refused.value)
    assert info is not None and info.reason == "BULK_APPROVAL_REQUIRED"


def test_a_log_rewritten_by_who_holds_two_nodes_keys_does_not_verify(
    network: LocalNetwork, tmp_path: Path
) -> None:
    # prefecture-14 and fuhyo-14 sit in one data centre; their operator holds both folders.
    # They drop the last provision from prefecture-14's provision log, sign a checkpoint of the
    # shortened log with prefecture-14's log key and cosign it with fuhyo-14's. fuhyo-14 is no
    # witness of prefecture-14's logs (national is): the verifier does not count it.
    for seed in (3331, 3332):
        kept = _resident(network, "141305", seed)
        query = clients.query("pref5-passport", juminhyo_code=kept.record.juminhyo_code)
        clients.ask(network.info, PASSPORT, query)
    described = str(network.dir / "network.json")
    export = tmp_path / "provision.jsonl"
    done = juki_net(
        "audit", "export", "--network", described, "--node", "prefecture-14",
        "--log", "provision", "--out", str(export),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in export.read_text().splitlines()]
    header, leaves = records[0], [r for r in records if "leaf" in r][:-1]
    assert leaves
    entries = [r for r in records if "entry" in r and r["entry"]["leaf_index"] < len(leaves)]
    tree = merkle.Tree(bytes.fromhex(leaf["hash"]) for leaf in leaves)
    text = note.Checkpoint(header["origin"], tree.size, tree.root()).text()
    prefecture = NodeKeyring(_insider(network, "prefecture-14").config.keyring_file)
    fuhyo = NodeKeyring(_insider(network, "fuhyo-14").config.keyring_file)
    forged = note.sign_note(text, prefecture.log_signer(NODE))
    cosigner = fuhyo.log_signer("spiffe://juki.example/fuhyo/14", note.COSIGNATURE_TYPE)
    forged = forged.with_line(cosigner.sign(text, at=SYSTEM.now()))
    lines = [header, *leaves, *entries, {"checkpoint": str(forged)}]
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = juki_net("audit", "verify", "--network", described, "--in", str(export))
    assert done.returncode == 1, done.stdout
    assert "leaves" in done.stdout and "by juki.example/fuhyo/14" not in done.stdout
    assert "no witnessed checkpoint vouches for this log" in done.stdout


def test_a_node_cannot_have_a_log_witnessed_under_an_origin_it_invented(tmp_path: Path) -> None:
    # cs-141003 signs a checkpoint of a "log" of its own naming, to open a history no auditor
    # knows of. Its witness cosigns only its two logs (provision, audit).
    db = open_database(f"sqlite:///{tmp_path / 'witness.db'}")
    ed = Ed25519PrivateKey.generate
    witness = Witness(db, note.Signer("juki.example/prefecture/14", ed(), note.COSIGNATURE_TYPE))
    cs = note.Signer("juki.example/cs/141003", ed())
    root = merkle.Tree([bytes(32)]).root()
    for log, taken in (("shadow-provision", False), ("provision", True)):
        text = note.Checkpoint(f"juki.example/cs/141003/{log}", 1, root).text()
        signed = note.sign_note(text, cs)
        if taken:
            line = witness.add_checkpoint(
                signed, [cs.key], 0, [], SYSTEM.now(), named=[witness.cosigner.name]
            )
            # What the publisher records only once it checked it against the witness's key.
            assert note.cosigned_by(signed, line, [witness.cosigner.key])
            assert not note.cosigned_by(
                signed, line, [note.Signer(witness.cosigner.name, ed(), note.COSIGNATURE_TYPE).key]
            )
            continue
        with pytest.raises(RefusedError) as refused:
            witness.add_checkpoint(
                signed, [cs.key], 0, [], SYSTEM.now(), named=[witness.cosigner.name]
            )
        assert refused.value.reason == "CHECKPOINT_NOT_OF_CALLER"
    db.dispose()


def _emigrant(net: LocalNetwork, seed: int) -> pb.Change:
    """A person born at 141003 who then emigrated, once prefecture-14 has both versions."""
    rng = random.Random(seed)
    born = synthetic.birth("141003", rng)
    emigrated = synthetic.follow(born, pb.CHANGE_REASON_EMIGRATION, rng=rng)
    for change in (born, emigrated):
        clients.submit_change(net.info, change)
    code = born.record.juminhyo_code
    wait_for(lambda: len(versions(net, "prefecture-14", code)) == 2)
    return born


def _link_refusal(fuhyo: Insider, link: Any) -> str:
    with pytest.raises(grpc.RpcError) as refused:
        fuhyo.ask_link(link)
    info = error_info(refused.value)
    assert info is not None
    return str(info.reason)


def test_a_fuhyo_server_cannot_obtain_a_my_number_for_an_organ_that_did_not_ask(
    network: LocalNetwork,
) -> None:
    """fuhyo-14's folder alone cannot make the link give a My Number in an organ's name: the
    prefecture checks the query the organ signed (organ_query.py) and logs every refusal."""
    fuhyo = _insider(network, "fuhyo-14")
    target, other = _emigrant(network, 4401), _emigrant(network, 4402)
    code = target.record.juminhyo_code
    # Asked in the tax office's name with nothing from it.
    unsigned = link_request(network.info, code)
    unsigned.ClearField("organ_query")
    assert _link_refusal(fuhyo, unsigned) == "ORGAN_PROOF_MISSING"
    # "Signed" with the fuhyo server's own key and certificate.
    forged = link_request(network.info, code)
    query = clients.query(TAX_TASK, juminhyo_code=code)
    query.request_id = forged.request_id
    forged.organ_query.CopyFrom(
        organ_query.sign_with_pem(
            query,
            audience=fuhyo.config.spiffe_id,
            key_pem=fuhyo.config.credentials.key_file.read_bytes(),
            at=SYSTEM.now(),
        )
    )
    forged.organ_certificate = ssl.PEM_cert_to_DER_cert(
        fuhyo.config.credentials.cert_file.read_text()
    )
    assert _link_refusal(fuhyo, forged) == "ORGAN_PROOF_INVALID"
    # The tax office's genuine query about another emigrant, passed on for this one.
    other_asked = link_request(network.info, code, asked_code=other.record.juminhyo_code)
    assert _link_refusal(fuhyo, other_asked) == "ORGAN_PROOF_MISMATCH"
    by_name = pb_provision.FourInformation(
        name_kanji=other.record.name_kanji, birth_date=other.record.birth_date
    )
    other_by_name = link_request(network.info, code, four=by_name)
    assert _link_refusal(fuhyo, other_by_name) == "ORGAN_PROOF_MISMATCH"
    # A query the tax office signed an hour ago, kept and replayed.
    old = link_request(network.info, code, signed_at=SYSTEM.now() - dt.timedelta(hours=1))
    assert _link_refusal(fuhyo, old) == "ORGAN_PROOF_STALE"
    # Signed for another fuhyo server.
    elsewhere = link_request(network.info, code, audience="spiffe://juki.example/fuhyo/13")
    assert _link_refusal(fuhyo, elsewhere) == "ORGAN_PROOF_MISMATCH"
    # What the organ did ask is given, with the clerk it signed for in the log.
    asked = link_request(network.info, code)
    assert fuhyo.ask_link(asked) == target.record.my_number
    logged = provision_rows(network, "prefecture-14", asked.request_id)
    assert [(row.outcome, row.operator_id) for row in logged] == [("provided", "clerk-7")]
    refused = provision_rows(network, "prefecture-14", unsigned.request_id)
    assert [(row.outcome, row.reason) for row in refused] == [("refused", "ORGAN_PROOF_MISSING")]


def test_the_link_gives_one_organ_only_so_many_my_numbers_an_hour(tmp_path: Path) -> None:
    """The rate limit counts what the provision log says the organ was given in the hour."""
    db = open_database(f"sqlite:///{tmp_path / 'prefecture.db'}")
    log = ProvisionLog(db, b"secret")
    now = SYSTEM.now()
    given = Entry(
        caller="spiffe://juki.example/fuhyo/14",
        recipient=TAX_OFFICE,
        operator_id="clerk-7",
        task_id=TAX_TASK,
        request_id="00000000-0000-4000-8000-000000000001",
        key_kind="juminhyo_code",
        key_hash="0" * 64,
        outcome="provided",
        items_given="my_number",
    )
    log.commit([given, given])
    with db.transaction() as conn:
        within_rate(conn, given, now - dt.timedelta(hours=1), per_hour=3)
        with pytest.raises(RefusedError) as refused:
            within_rate(conn, given, now - dt.timedelta(hours=1), per_hour=2)
        assert refused.value.reason == "LINK_RATE_EXCEEDED"
        # Another task of the organ, or the hour gone by, is counted apart.
        within_rate(conn, replace(given, task_id="fuhyo5-other"), now, per_hour=1)
        within_rate(conn, given, now + dt.timedelta(seconds=1), per_hour=1)


def test_a_key_document_names_the_witnesses_the_ca_decides_not_the_node(tmp_path: Path) -> None:
    """cs-141003 asks the CA to name national and prefecture-13 as its witnesses (to open its
    history where its own prefecture would not look); the CA names prefecture-14 only. The
    national server may ask for prefecture servers only, and at most two."""
    ca = CaFolder(tmp_path / "pki")
    ca.ensure_ca()
    signer = Signer(ca)
    ring = NodeKeyring.create(tmp_path / "keys.json", new_entries(SYSTEM.now()))
    asked = [NATIONAL, "spiffe://juki.example/prefecture/13"]
    request = ring.document(CS_141003.spiffe_id, SYSTEM.now(), asked).SerializeToString()
    path = signer.sign_key_document(request, expect=CS_141003)
    directory = KeyDirectory(path.parent, ca.bundle)
    assert directory.witnesses(CS_141003.spiffe_id) == ["spiffe://juki.example/prefecture/14"]
    national = Identity.parse(NATIONAL)
    asked = [
        "spiffe://juki.example/fuhyo/13",
        "spiffe://juki.example/prefecture/13",
        "spiffe://juki.example/prefecture/27",
        "spiffe://juki.example/prefecture/14",
    ]
    request = ring.document(NATIONAL, SYSTEM.now(), asked).SerializeToString()
    signer.sign_key_document(request, expect=national)
    named = ["spiffe://juki.example/prefecture/13", "spiffe://juki.example/prefecture/27"]
    assert KeyDirectory(path.parent, ca.bundle).witnesses(NATIONAL) == named
    # A routine key rotation that quietly moves national's history to witnesses that never saw
    # it (one of them the operator's own) is refused until the CA operator says it is meant.
    moved = ["spiffe://juki.example/prefecture/14"]
    request = ring.document(NATIONAL, SYSTEM.now(), moved).SerializeToString()
    with pytest.raises(PkiError, match="--witnesses-changed"):
        signer.sign_key_document(request, expect=national)
    assert KeyDirectory(path.parent, ca.bundle).witnesses(NATIONAL) == named
    signer.sign_key_document(request, expect=national, witnesses_changed=True)
    assert KeyDirectory(path.parent, ca.bundle).witnesses(NATIONAL) == moved


def test_a_node_cannot_open_its_history_at_a_witness_its_document_does_not_name(
    network: LocalNetwork, tmp_path: Path
) -> None:
    """The national server's CA-signed key document names prefecture-13 and prefecture-14. With
    its own folder it shows a checkpoint — another history — to a third prefecture server as if
    it were the first: refused, nothing cosigned, so no second history can gather a cosignature
    to show a verifier."""
    national = _insider(network, "national")
    ring = NodeKeyring(national.config.keyring_file)
    directory = KeyDirectory(network.key_dir, network.bundle)
    named = [log_key_name(w) for w in directory.witnesses(NATIONAL)]
    assert named == ["juki.example/prefecture/13", "juki.example/prefecture/14"]
    root = merkle.Tree([bytes(32)]).root()
    text = note.Checkpoint("juki.example/national/provision", 1, root).text()
    signed = note.sign_note(text, ring.log_signer(NATIONAL))
    third = witness_in(tmp_path, "27")
    with pytest.raises(RefusedError) as refused:
        third.add_checkpoint(
            signed, [ring.log_signer(NATIONAL).key], 0, [], SYSTEM.now(), named=named
        )
    assert refused.value.reason == "WITNESS_NOT_NAMED"
    assert third.last_cosigned("juki.example/national/provision") is None


def test_a_copy_of_a_rotated_log_key_cannot_sign_a_later_history(tmp_path: Path) -> None:
    """Whoever kept a copy of prefecture-14's keyring from before a log-key rotation signs a
    checkpoint of another history with the old log key. The key document still lists that key
    (what it signed stays verifiable) but with its window ended: the witness refuses the
    checkpoint, and a verifier counts no cosignature made after the window."""
    now = SYSTEM.now()
    ring = NodeKeyring.create(tmp_path / "keys.json", new_entries(now - dt.timedelta(days=30)))
    stolen = ring.log_signer(NODE)
    rotate(ring, now - dt.timedelta(days=2))
    keys = note_keys_of(ring.document(NODE, now, [NATIONAL]))
    assert len(keys) == 2 and any(not k.valid_at(now) for k in keys)
    text = note.Checkpoint(f"{log_key_name(NODE)}/provision", 1, merkle.Tree([bytes(32)]).root())
    forged = note.sign_note(text.text(), stolen)
    witness = Witness(
        open_database(f"sqlite:///{tmp_path / 'national.db'}"),
        note.Signer(log_key_name(NATIONAL), Ed25519PrivateKey.generate(), note.COSIGNATURE_TYPE),
    )
    with pytest.raises(RefusedError) as refused:
        witness.add_checkpoint(forged, keys, 0, [], now, named=[witness.cosigner.name])
    assert refused.value.reason == "CHECKPOINT_MALFORMED"
    # A cosignature made now (by a careless witness) vouches for nothing; the new key's does.
    late = forged.with_line(witness.cosigner.sign(forged.text, at=now))
    assert cosigners(late, keys, [witness.cosigner.key]) == set()
    fresh = note.sign_note(text.text(), ring.log_signer(NODE))
    line = witness.add_checkpoint(fresh, keys, 0, [], now, named=[witness.cosigner.name])
    assert cosigners(fresh.with_line(line), keys, [witness.cosigner.key]) == {witness.cosigner.name}


def test_a_witness_named_anew_starts_from_what_the_other_witness_saw(tmp_path: Path) -> None:
    """prefecture-13 has witnessed national's audit log to size 4. National, with its folder,
    shows prefecture-14 — which has never witnessed it — a "first" checkpoint of another
    history. prefecture-14 starts from prefecture-13's checkpoint instead (no trust on first
    use): the other history is refused, the true one taken from there."""
    ring = NodeKeyring.create(tmp_path / "national.json", new_entries(SYSTEM.now()))
    signer = ring.log_signer(NATIONAL)
    w13, w14 = witness_in(tmp_path, "13"), witness_in(tmp_path, "14")
    named = [w13.cosigner.name, w14.cosigner.name]
    origin = "juki.example/national/audit"
    true = merkle.Tree(bytes([i]) * 32 for i in range(6))
    other = merkle.Tree(bytes([i + 100]) * 32 for i in range(6))

    def shown(tree: merkle.Tree, size: int) -> note.SignedNote:
        return note.sign_note(note.Checkpoint(origin, size, tree.root(size)).text(), signer)

    w13.add_checkpoint(shown(true, 4), [signer.key], 0, [], SYSTEM.now(), named=named)

    def start(at: str) -> note.Checkpoint | None:
        sent = w13.last_cosigned(at)
        return None if sent is None else peer_checkpoint(at, sent, [signer.key], [w13.cosigner.key])

    def add(tree: merkle.Tree, old: int) -> str:
        proof = tree.consistency_proof(old, 6) if old else []
        return w14.add_checkpoint(
            shown(tree, 6), [signer.key], old, proof, SYSTEM.now(), named=named, start=start
        )

    for tree, old, reason in (
        (other, 0, "CHECKPOINT_SIZE_MISMATCH"),
        (other, 4, "LOG_NOT_EXTENDED"),
    ):
        with pytest.raises(RefusedError) as refused:
            add(tree, old)
        assert refused.value.reason == reason
    assert note.cosigned_by(shown(true, 6), add(true, 4), [w14.cosigner.key])


def test_a_node_showing_its_two_witnesses_two_histories_is_caught_by_their_gossip(
    network: LocalNetwork,
) -> None:
    """The national server's operator, with its folder, has both its witnesses cosign one
    history of its audit log (a witness new to a log starts from the other's checkpoint), then
    extends it one way for prefecture-13 and another for prefecture-14. Each witness alone sees
    a log that grew and cosigns; a verifier takes neither, as each has one cosignature of the
    two needed (tests/test_witness_quorum.py). Within one gossip interval the witnesses
    compare, catch the fork, record it and cosign nothing more of that log."""
    national = _insider(network, "national")
    signer = NodeKeyring(national.config.keyring_file).log_signer(NATIONAL)
    origin = "juki.example/national/audit"

    def show(witness: str, leaves: list[bytes], old: int) -> str:
        tree = merkle.Tree(leaves)
        signed = note.sign_note(note.Checkpoint(origin, tree.size, tree.root()).text(), signer)
        proof = tree.consistency_proof(old, tree.size) if 0 < old < tree.size else []
        request = transparency_pb.AddCheckpointRequest(
            checkpoint=str(signed), old_size=old, consistency_proof=proof
        )
        with channel_as(network, witness, national.config.credentials) as channel:
            reply = transparency_grpc.WitnessServiceStub(channel).AddCheckpoint(request, timeout=10)
        return str(reply.cosignature)

    common = [b"x" * 32, b"y" * 32]
    assert show("prefecture-13", common, 0) and show("prefecture-14", common, 2)
    assert show("prefecture-13", [*common, b"a" * 32], 2)
    assert show("prefecture-14", [*common, b"b" * 32], 2)
    signed = note.sign_note(note.Checkpoint(origin, 3, bytes(32)).text(), signer)
    forked = select(audit_log.c.actor).where(
        audit_log.c.action == "witness_gossip", audit_log.c.outcome == "forked"
    )
    request = transparency_pb.AddCheckpointRequest(checkpoint=str(signed), old_size=3)
    for witness in ("prefecture-13", "prefecture-14"):
        wait_for(lambda at=witness: bool(_rows(network, at, forked)))
        assert [row.actor for row in _rows(network, witness, forked)] == [NATIONAL]
        channel = channel_as(network, witness, national.config.credentials)
        with channel, pytest.raises(grpc.RpcError) as refused:
            transparency_grpc.WitnessServiceStub(channel).AddCheckpoint(request, timeout=10)
        info = error_info(refused.value)
        assert info is not None and info.reason == "LOG_FORKED"


def _rows(net: LocalNetwork, node: str, query: Any) -> list[Any]:
    engine = node_db(net, node)
    with engine.connect() as conn:
        rows = list(conn.execute(query).all())
    engine.dispose()
    return rows
