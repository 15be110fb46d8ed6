"""The narrow link on the real network: only this prefecture's fuhyo server, only an emigrant,
only a My Number Act fuhyo task that allows the My Number, only the My Number back; every
refusal in the provision log and the audit log."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import grpc
import pytest

from juki.v1 import common_pb2
from juki.v1 import my_number_link_service_pb2 as pb
from juki.v1 import my_number_link_service_pb2_grpc as pb_grpc
from jukinet.client.calls import submit_change
from jukinet.core.config import Credentials
from jukinet.core.errors import error_info
from jukinet.core.identity import Identity, Role
from jukinet.core.methods import GET_MY_NUMBER_FOR_EMIGRANT
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from tests.helpers.link import TAX_OFFICE, link_request
from tests.helpers.network import (
    channel_as,
    client_credentials,
    last_audit_reason,
    node_credentials,
    node_sealer,
    provision_rows,
    spans_settled,
    versions,
    wait_for,
)


@pytest.fixture(scope="module")
def people(network: LocalNetwork) -> dict[str, common_pb2.ResidentRecord]:
    """An emigrant (横浜市 → abroad) and a current resident (川崎市) of prefecture 14."""
    rng = random.Random(6060)
    born = synthetic.birth("141003", rng)
    emigrated = synthetic.follow(born, common_pb2.CHANGE_REASON_EMIGRATION, rng=rng)
    resident = synthetic.birth("141305", rng)
    for change in (born, emigrated, resident):
        submit_change(network.info, change)
    wait_for(lambda: len(versions(network, "prefecture-14", born.record.juminhyo_code)) == 2)
    wait_for(lambda: versions(network, "prefecture-14", resident.record.juminhyo_code))
    return {"emigrant": born.record, "resident": resident.record}


def _call(network: LocalNetwork, creds: Credentials, link: pb.MyNumberLinkRequest) -> Any:
    """Seal `link` as fuhyo-14 and call prefecture-14 presenting `creds`."""
    sealer = node_sealer(network, "fuhyo-14")
    prefecture = network.node_info("prefecture-14").spiffe_id
    envelope = sealer.seal(link, recipient=prefecture, method=GET_MY_NUMBER_FOR_EMIGRANT)
    with channel_as(network, "prefecture-14", creds) as channel:
        reply = pb_grpc.MyNumberLinkServiceStub(channel).GetMyNumberForEmigrant(
            pb.GetMyNumberForEmigrantRequest(envelope=envelope), timeout=5
        )
    return sealer.open(
        reply.envelope, pb.MyNumberLinkAnswer, peer=prefecture, method=GET_MY_NUMBER_FOR_EMIGRANT
    )[1]


def _fuhyo(network: LocalNetwork) -> Credentials:
    return node_credentials(network, "fuhyo-14")


def _refusal(network: LocalNetwork, creds: Credentials, link: pb.MyNumberLinkRequest) -> Any:
    with pytest.raises(grpc.RpcError) as caught:
        _call(network, creds, link)
    return caught.value


def _logged(network: LocalNetwork, request_id: str) -> list[tuple[str, str]]:
    rows = provision_rows(network, "prefecture-14", request_id)
    return [(r.outcome, r.reason) for r in rows]


def test_the_fuhyo_server_gets_an_emigrants_my_number_only(
    network: LocalNetwork, people: Any
) -> None:
    link = link_request(network.info, people["emigrant"].juminhyo_code)
    answer = _call(network, _fuhyo(network), link)
    assert answer.my_number == people["emigrant"].my_number
    assert [f.name for f, _ in answer.ListFields()] == ["my_number"]
    assert _logged(network, link.request_id) == [("provided", "")]


def _other_fuhyo(network: LocalNetwork, tmp_path: Path) -> Credentials:
    identity = Identity.of(Role.FUHYO, "13")
    cert, key = network.pki.issue(identity, tmp_path, "fuhyo-13", lifetime=dt.timedelta(hours=1))
    return Credentials(cert_file=cert, key_file=key, trust_bundle=network.bundle)


@pytest.mark.parametrize(
    "who", ["cs-141003", "national", "prefecture-13", "organ-14-tax-office", "operator", "fuhyo-13"]
)
def test_every_other_caller_is_refused(
    network: LocalNetwork, people: Any, who: str, tmp_path: Path
) -> None:
    if who == "fuhyo-13":
        creds = _other_fuhyo(network, tmp_path)
    elif who in network.info.clients:
        creds = client_credentials(network, who)
    else:
        creds = node_credentials(network, who)
    link = link_request(network.info, people["emigrant"].juminhyo_code)
    error = _refusal(network, creds, link)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(error).reason == "CALLER_NOT_ADMITTED"
    assert last_audit_reason(network, "prefecture-14") == "CALLER_NOT_ADMITTED"


@pytest.mark.parametrize(
    ("person", "task", "organ", "code", "reason"),
    [
        (
            "emigrant",
            "fuhyo5-passport",
            "spiffe://juki.example/organ/14/passport-centre",
            grpc.StatusCode.PERMISSION_DENIED,
            "MY_NUMBER_NOT_ALLOWED_FOR_TASK",
        ),
        (
            "emigrant",
            "pref5-prefectural-tax",
            TAX_OFFICE,
            grpc.StatusCode.PERMISSION_DENIED,
            "TASK_NOT_FOR_CALLER",
        ),
        (
            "emigrant",
            "fuhyo5-prefectural-tax",
            "spiffe://juki.example/organ/14/npo-office",
            grpc.StatusCode.PERMISSION_DENIED,
            "TASK_NOT_FOR_CALLER",
        ),
        (
            "emigrant",
            "fuhyo5-prefectural-tax",
            "spiffe://juki.example/organ/13/tax-office",
            grpc.StatusCode.PERMISSION_DENIED,
            "ORGAN_NOT_OF_CALLER",
        ),
        (
            "resident",
            "fuhyo5-prefectural-tax",
            TAX_OFFICE,
            grpc.StatusCode.FAILED_PRECONDITION,
            "PERSON_NOT_EMIGRANT",
        ),
        (
            "unknown",
            "fuhyo5-prefectural-tax",
            TAX_OFFICE,
            grpc.StatusCode.NOT_FOUND,
            "PERSON_NOT_FOUND",
        ),
    ],
    ids=[
        "task-without-my-number",
        "resident-task",
        "organ-not-listed",
        "other-prefecture-organ",
        "not-an-emigrant",
        "not-on-file",
    ],
)
def test_refusals_are_recorded_in_both_logs(
    network: LocalNetwork,
    people: Any,
    person: str,
    task: str,
    organ: str,
    code: grpc.StatusCode,
    reason: str,
) -> None:
    unknown = synthetic.juminhyo_code(random.Random(1))  # valid, on nobody's record
    juminhyo_code = unknown if person == "unknown" else people[person].juminhyo_code
    link = link_request(network.info, juminhyo_code, task, organ)
    error = _refusal(network, _fuhyo(network), link)
    assert error.code() == code
    assert error_info(error).reason == reason
    for record in people.values():
        assert record.my_number not in error.details()
        assert record.juminhyo_code not in error.details()
    assert _logged(network, link.request_id) == [("refused", reason)]
    assert last_audit_reason(network, "prefecture-14") == reason


def test_my_number_never_in_logs_or_spans(network: LocalNetwork, people: Any) -> None:
    _call(network, _fuhyo(network), link_request(network.info, people["emigrant"].juminhyo_code))
    spans_settled(network, ("prefecture-14", "fuhyo-14"))
    for name in ("prefecture-14", "fuhyo-14"):
        info = network.node_info(name)
        for path in (info.log_file, info.trace_file):
            file = Path(path)
            text = file.read_text(encoding="utf-8", errors="replace") if file.exists() else ""
            assert people["emigrant"].my_number not in text
            assert people["emigrant"].juminhyo_code not in text
