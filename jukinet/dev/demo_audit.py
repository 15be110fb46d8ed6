"""The demo's audit part: an operator refused without a grant, granted by two administrators,
a disclosure whose proofs the person checks, the national server's log checked against both of
its witnesses (a quorum), and a hand-edited log row caught offline.

The checks run the `juki-net audit` commands themselves, as a person would,
so the demo shows exactly what an auditor types.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
from sqlalchemy import create_engine, select, update

from juki.v1 import provision_service_pb2 as pb
from juki.v1 import provision_service_pb2_grpc as pb_grpc
from jukinet.client import access, logs
from jukinet.client import calls as clients
from jukinet.client.channels import connect
from jukinet.core.errors import status_line
from jukinet.core.network import NetworkDescription
from jukinet.storage.schema import provision_log

NODE = "prefecture-14"
CLERK = "clerk"


def _juki_net(*args: str) -> str:
    """Run one juki-net command; its output, indented for the demo."""
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "jukinet.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = (done.stdout + done.stderr).rstrip()
    return (
        "\n".join(f"demo:     {line}" for line in out.splitlines())
        + f"\ndemo:     (exit {done.returncode})"
    )


def _disclose(network: NetworkDescription, code: str) -> pb.DiscloseRecordResponse:
    with connect(network, network.node(NODE), network.client(CLERK)) as channel:
        reply: pb.DiscloseRecordResponse = pb_grpc.ProvisionAdminServiceStub(
            channel
        ).DiscloseRecord(pb.DiscloseRecordRequest(juminhyo_code=code), timeout=60)
    return reply


def demo_audit(network: NetworkDescription, description: Path, code: str) -> None:
    """Grant, disclose with proofs, verify; tamper with a row and catch it. `code`: a person
    prefecture-14 holds."""
    for _ in range(2):
        clients.ask(
            network, "organ-14-passport-centre", clients.query("pref5-passport", juminhyo_code=code)
        )
    print(f"demo: audit: {CLERK} (operator/14/counter-clerk) asks {NODE} for a disclosure:")
    try:
        _disclose(network, code)
        print("demo:   ANSWERED (unexpected)")
    except grpc.RpcError as error:
        print(f"demo:   refused {status_line(error)}")
    node = network.node(NODE)
    clerk = network.client(CLERK).spiffe_id
    grant = access.grant(network, node, "admin-a", clerk, ["disclose"], 1)
    print(
        f"demo:   admin-a grants it the disclose right for 1 day: grant {grant.grant_id} (pending)"
    )
    access.approve(network, node, "admin-b", grant.grant_id)
    print("demo:   admin-b approves it (the two-person rule): in effect")
    disclosed = _disclose(network, code)
    proofs = description.parent / "disclosure-proofs.json"
    proofs.write_text(disclosed.proofs + "\n", encoding="utf-8")
    print(f"demo:   disclosure lists {disclosed.provision_count} provisions; proofs in {proofs}:")
    print(
        _juki_net("audit", "verify-disclosure", "--network", str(description), "--in", str(proofs))
    )
    _national_quorum(network, description)
    _tamper_and_verify(network, description)


def _national_quorum(network: NetworkDescription, description: Path) -> None:
    """The national server's checkpoint, cosigned by the two prefecture servers its key document
    names; its audit log verified only with both (witness.quorum)."""
    print("demo: audit: the national server's logs count as witnessed once both its witnesses")
    print("demo:   (prefecture-13 and prefecture-14) cosigned them:")
    print(_juki_net("audit", "checkpoint", "--network", str(description), "--node", "national"))
    export = description.parent / "national-audit-log.jsonl"
    logs.export_to(export, network, network.node("national"), "audit")
    print(_juki_net("audit", "verify", "--network", str(description), "--in", str(export)))


def _tamper_and_verify(network: NetworkDescription, description: Path) -> None:
    """Edit one provision-log row by hand, show `audit verify` naming it, then put it back."""
    url = network.node(NODE).database_url
    assert url is not None, "the network description lists the node's database"
    engine = create_engine(url)
    with engine.begin() as conn:
        row = conn.execute(
            select(provision_log).order_by(provision_log.c.leaf_index).limit(1)
        ).first()
        assert row is not None
        conn.execute(
            update(provision_log)
            .where(provision_log.c.leaf_index == row.leaf_index)
            .values(recipient="spiffe://juki.example/organ/14/someone-else")
        )
    export = description.parent / "provision-log.jsonl"
    logs.export_to(export, network, network.node(NODE), "provision")
    print(f"demo: audit: one row of {NODE}'s provision log edited by hand (its recipient):")
    print(_juki_net("audit", "verify", "--network", str(description), "--in", str(export)))
    with engine.begin() as conn:
        conn.execute(
            update(provision_log)
            .where(provision_log.c.leaf_index == row.leaf_index)
            .values(recipient=row.recipient)
        )
    engine.dispose()
    print("demo:   (the row is put back)")
