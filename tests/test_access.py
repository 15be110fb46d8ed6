"""The access-right ledger: deny by default, two administrators per grant, revocation and expiry
in effect at once, every step in the audit log — and the policy table naming a right for every
operator method."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from juki.v1 import access_service_pb2 as access_pb
from juki.v1 import access_service_pb2_grpc as access_grpc
from juki.v1 import provision_service_pb2 as pb
from juki.v1 import provision_service_pb2_grpc as pb_grpc
from jukinet.client import access
from jukinet.client import calls as clients
from jukinet.core.clock import ManualClock
from jukinet.core.errors import RefusedError, error_info
from jukinet.core.identity import Identity, Role
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.storage import open_database
from jukinet.storage.schema import audit_log
from jukinet.trust import authz
from jukinet.trust.access import AccessLedger, Right
from jukinet.trust.audit import AuditLog
from tests.helpers.cli import juki_net
from tests.helpers.network import node_db, running_network, versions, wait_for

DOMAIN = "spiffe://juki.example"
CLERK = f"{DOMAIN}/operator/14/counter-clerk"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with running_network(tmp_path_factory.mktemp("net")) as net:
        yield net


@pytest.fixture(scope="module")
def code(network: LocalNetwork) -> str:
    change = synthetic.birth("141003", random.Random(77))
    clients.submit_change(network.info, change)
    wait_for(lambda: versions(network, "prefecture-14", change.record.juminhyo_code))
    return change.record.juminhyo_code


def _disclose_as(net: LocalNetwork, client: str, code: str) -> pb.DiscloseRecordResponse:
    with net.client_channel("prefecture-14", client) as channel:
        reply: pb.DiscloseRecordResponse = pb_grpc.ProvisionAdminServiceStub(
            channel
        ).DiscloseRecord(pb.DiscloseRecordRequest(juminhyo_code=code), timeout=30)
    return reply


def _refusal(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()  # type: ignore[operator]
    info = error_info(caught.value)
    return caught.value.code(), info.reason if info else ""


def test_an_operator_without_a_grant_is_refused_until_two_administrators_agree(
    network: LocalNetwork, code: str
) -> None:
    node = network.info.node("prefecture-14")
    assert _refusal(lambda: _disclose_as(network, "clerk", code)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "NO_ACCESS_GRANT",
    )
    # One who is not an administrator cannot grant.
    assert _refusal(lambda: access.grant(network.info, node, "clerk", CLERK, ["disclose"], 1)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_AN_ADMINISTRATOR",
    )
    description = str(network.dir / "network.json")
    done = juki_net(
        "access", "grant", "--network", description, "--node", "prefecture-14",
        "--operator", "clerk", "--rights", "disclose", "--days", "30", "--as", "admin-a",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    grant_id = done.stdout.split()[0]
    assert "pending" in done.stdout
    # Granted but not approved: still refused. The granter cannot approve it.
    assert _refusal(lambda: _disclose_as(network, "clerk", code))[1] == "NO_ACCESS_GRANT"
    done = juki_net(
        "access", "approve", "--network", description, "--node", "prefecture-14",
        "--grant", grant_id, "--as", "admin-a",
    )  # fmt: skip
    assert done.returncode == 2 and "SAME_ADMINISTRATOR" in done.stderr
    done = juki_net(
        "access", "approve", "--network", description, "--node", "prefecture-14",
        "--grant", grant_id, "--as", "admin-b",
    )  # fmt: skip
    assert done.returncode == 0 and "active" in done.stdout, done.stderr
    assert "本人確認情報の開示" in _disclose_as(network, "clerk", code).document
    # Only on that node, and only that right.
    with network.client_channel("prefecture-14", "clerk") as channel:
        stats = pb_grpc.ProvisionAdminServiceStub(channel).GetProvisionStatistics
        request = pb.GetProvisionStatisticsRequest(fiscal_year=2026)
        assert _refusal(lambda: stats(request, timeout=30))[1] == "NO_ACCESS_GRANT"
    # Revoked: refused at once.
    access.revoke(network.info, node, "admin-b", grant_id)
    assert _refusal(lambda: _disclose_as(network, "clerk", code))[1] == "NO_ACCESS_GRANT"
    listed = juki_net(
        "access", "list", "--network", description, "--node", "prefecture-14", "--as", "admin-a"
    )
    assert f"{grant_id}  revoked" in listed.stdout
    # The list comes in pages (the local network granted the operator on every node too): a
    # page of one at a time gives the same grants, newest first; a made-up token is refused.
    whole = access.grants(network.info, node, "admin-a")
    assert len(whole) >= 2
    assert access.grants(network.info, node, "admin-a", page_size=1) == whole
    with network.client_channel("prefecture-14", "admin-a") as channel:
        listing = access_grpc.AccessAdminServiceStub(channel).ListAccess
        for bad in (
            access_pb.ListAccessRequest(page_token="x"),
            access_pb.ListAccessRequest(page_size=501),
        ):
            refused = _refusal(lambda b=bad: listing(b, timeout=30))
            assert refused == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD")
    # Every step is in the audit log; the refusals name their reason; no personal data.
    with node_db(network, "prefecture-14").connect() as conn:
        rows = conn.execute(select(audit_log)).all()
    actions = [r.action for r in rows]
    for step in ("grant", "approve", "revoke"):
        assert f"access.{step}:{grant_id}" in actions
    clerk_refusals = [r.reason for r in rows if r.actor == CLERK and r.outcome == "refused"]
    assert clerk_refusals.count("NO_ACCESS_GRANT") >= 3
    assert not any(code in str(tuple(r)) for r in rows)


def test_an_expired_grant_is_out_of_effect_at_once(tmp_path: Path) -> None:
    clock = ManualClock(dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    db = open_database(f"sqlite:///{tmp_path / 'node.db'}")
    admins = [Identity.parse(f"{DOMAIN}/operator/14/admin-{x}") for x in "ab"]
    ledger = AccessLedger(db, AuditLog(db, clock), frozenset(a.spiffe_id for a in admins), clock)
    grant = ledger.grant(admins[0], CLERK, [Right.STATUS], days=1)
    assert not ledger.allows(CLERK, Right.STATUS)
    ledger.approve(admins[1], grant.grant_id)
    assert ledger.allows(CLERK, Right.STATUS)
    assert not ledger.allows(CLERK, Right.DISCLOSE)
    clock.advance(dt.timedelta(days=1))
    assert not ledger.allows(CLERK, Right.STATUS)
    with pytest.raises(RefusedError) as late:
        ledger.approve(admins[1], ledger.grant(admins[0], CLERK, [Right.LOGS], 1).grant_id)
        clock.advance(dt.timedelta(days=2))
        ledger.approve(admins[1], ledger.grant(admins[0], CLERK, [Right.LOGS], 1).grant_id)
        clock.advance(dt.timedelta(days=2))
        ledger.approve(admins[1], ledger.grants(admins[0], limit=1)[0][0].grant_id)
    assert late.value.reason == "GRANT_NOT_PENDING"


def test_every_operator_method_needs_a_right_or_an_administrator() -> None:
    operator_methods = {
        method
        for method, rules in authz.POLICY.items()
        if any(rule.role in (None, Role.OPERATOR) for rule in rules)
    }
    unguarded = operator_methods - set(authz.RIGHTS) - authz.ADMINISTRATION
    assert unguarded == authz.NO_RIGHT_NEEDED
    assert set(authz.RIGHTS) <= operator_methods
