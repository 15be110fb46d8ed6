"""Tamper-evident logs on real nodes: checkpoints witnessed up the tiers, an export verified
offline, a hand-edited row named, a rewritten log refused by its witness — and no personal data
in checkpoints or exports."""

from __future__ import annotations

import json
import random
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, select, update

from juki.v1 import common_pb2
from jukinet.client import calls as clients
from jukinet.dev import synthetic
from jukinet.dev.localnet import LocalNetwork
from jukinet.storage.schema import audit_log, log_leaves, provision_log, witnessed_logs
from jukinet.transparency import tlog
from tests.helpers.cli import juki_net
from tests.helpers.network import node_db, running_network, versions, wait_for

PASSPORT = "organ-14-passport-centre"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with running_network(tmp_path_factory.mktemp("net")) as net:
        yield net


@pytest.fixture(scope="module")
def person(network: LocalNetwork) -> common_pb2.ResidentRecord:
    change = synthetic.birth("141003", random.Random(16))
    clients.submit_change(network.info, change)
    wait_for(lambda: versions(network, "prefecture-14", change.record.juminhyo_code))
    for _ in range(3):
        query = clients.query("pref5-passport", juminhyo_code=change.record.juminhyo_code)
        clients.ask(network.info, PASSPORT, query)
    return change.record


def _cli(*args: str) -> tuple[int, str]:
    done = juki_net(*args)
    return done.returncode, done.stdout + done.stderr


def _export(net: LocalNetwork, node: str, path: Path, log: str = "provision") -> None:
    status, _ = _cli(
        "audit", "export", "--network", str(net.dir / "network.json"), "--node", node,
        "--log", log, "--out", str(path),
    )  # fmt: skip
    assert status == 0


def _gossip_seen(net: LocalNetwork, node: str, outcome: str) -> bool:
    address = net.node_info(node).metrics_address
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as answer:
        lines = answer.read().decode().splitlines()
    wanted = f'outcome="{outcome}"'
    return any(line.startswith("juki_witness_gossip_total") and wanted in line for line in lines)


def _writable(net: LocalNetwork, node: str) -> object:
    path = net.node_info(node).database_url.removeprefix("sqlite:///")
    return create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})


def test_checkpoints_are_witnessed_and_an_export_verifies_offline(
    network: LocalNetwork,
    person: common_pb2.ResidentRecord,
    tmp_path: Path,
) -> None:
    description = str(network.dir / "network.json")
    for node in ("cs-141003", "prefecture-14"):
        status, out = _cli("audit", "checkpoint", "--network", description, "--node", node)
        assert status == 0, out
        assert out.count(", witnessed") == 2, out
    status, out = _cli("audit", "checkpoint", "--network", description, "--node", "national")
    assert status == 0 and "NOT witnessed" not in out, out  # by prefecture-13 and prefecture-14
    national = tmp_path / "national-audit.jsonl"
    _export(network, "national", national, "audit")  # its operators' actions
    status, out = _cli("audit", "verify", "--network", description, "--in", str(national))
    assert status == 0, out
    assert "by juki.example/prefecture/13, juki.example/prefecture/14" in out
    # Its two witnesses compare what each cosigned (every 5 s here) and find one history.
    wait_for(lambda: _gossip_seen(network, "prefecture-13", "consistent"))
    export = tmp_path / "provision.jsonl"
    _export(network, "prefecture-14", export)
    # Handing over the whole log is an operator's action like any other: audited.
    with node_db(network, "prefecture-14").connect() as conn:
        exports = conn.execute(
            select(audit_log.c.actor, audit_log.c.outcome).where(
                audit_log.c.action == "/juki.v1.LogAdminService/ExportLog"
            )
        ).all()
    assert [(actor.endswith("/local-admin"), outcome) for actor, outcome in exports] == [
        (True, "ok")
    ]
    status, out = _cli("audit", "verify", "--network", description, "--in", str(export))
    assert status == 0, out
    assert "witnessed up to" in out and "by juki.example/national" in out
    args = ("audit", "verify", "--network", description, "--in", str(export))
    status, out = _cli(*args, "--witness", "national")
    assert status == 0, out
    # The log grows and is witnessed again: the old export now stops short of what the
    # witness saw, and asking the witness shows it.
    query = clients.query("pref5-passport", juminhyo_code=person.juminhyo_code)
    clients.ask(network.info, PASSPORT, query)
    assert _cli("audit", "checkpoint", "--network", description, "--node", "prefecture-14")[0] == 0
    status, out = _cli(*args, "--witness", "national")
    assert status == 1 and "do not reproduce the witnessed root" in out, out
    # No personal data in the export or its checkpoints: only keyed hashes and identities.
    text = export.read_text()
    for value in (person.juminhyo_code, person.my_number, person.name_kanji, person.birth_date):
        assert value not in text


def test_disclosure_proofs_verify_and_fail_once_a_provision_is_removed(
    network: LocalNetwork, tmp_path: Path
) -> None:
    description = str(network.dir / "network.json")
    change = synthetic.birth("141003", random.Random(1616))
    clients.submit_change(network.info, change)
    code = change.record.juminhyo_code
    wait_for(lambda: versions(network, "prefecture-14", code))
    for _ in range(2):
        clients.ask(network.info, PASSPORT, clients.query("pref5-passport", juminhyo_code=code))
    proofs = tmp_path / "proofs.json"
    done = juki_net("disclose", "--network", description, "--code", code, "--proofs", str(proofs))
    assert done.returncode == 0, done.stderr
    assert "3. 提供記録の証明" in done.stdout and "juki.example/national" in done.stdout
    status, out = _cli("audit", "verify-disclosure", "--network", description, "--in", str(proofs))
    assert status == 0, out
    assert "2 provisions proven" in out and "cosigned by juki.example/national" in out
    # Someone with the database removes the first of them, renumbering what follows.
    first = json.loads(proofs.read_text())["rows"][0]["index"]
    engine = _writable(network, "prefecture-14")
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(delete(provision_log).where(provision_log.c.leaf_index == first))
        leaves = log_leaves.c.log == "provision"
        conn.execute(delete(log_leaves).where(leaves, log_leaves.c.leaf_index == first))
        later = provision_log.c.leaf_index > first
        conn.execute(
            update(provision_log).where(later).values(leaf_index=provision_log.c.leaf_index - 1)
        )
        later_leaf = log_leaves.c.leaf_index > first
        conn.execute(
            update(log_leaves)
            .where(leaves, later_leaf)
            .values(leaf_index=log_leaves.c.leaf_index - 1)
        )
        # …and recomputes the hashes of the rows it moved, so each row matches its leaf.
        for row in conn.execute(
            select(provision_log).where(provision_log.c.leaf_index >= first)
        ).mappings():
            index = int(row["leaf_index"])
            conn.execute(
                update(log_leaves)
                .where(leaves, log_leaves.c.leaf_index == index)
                .values(leaf_hash=tlog.leaf_hash_of(tlog.PROVISION, index, row).hex())
            )
    done = juki_net("disclose", "--network", description, "--code", code, "--proofs", str(proofs))
    assert done.returncode == 0, done.stderr
    status, out = _cli("audit", "verify-disclosure", "--network", description, "--in", str(proofs))
    assert status == 1
    assert "NOT in the log its witness saw" in out


def test_a_hand_edited_row_is_named_by_the_verifier(
    network: LocalNetwork,
    person: common_pb2.ResidentRecord,
    tmp_path: Path,
) -> None:
    description = str(network.dir / "network.json")
    _cli("audit", "checkpoint", "--network", description, "--node", "prefecture-14")
    engine = _writable(network, "prefecture-14")
    with engine.begin() as conn:  # type: ignore[attr-defined]
        first = conn.execute(select(provision_log.c.leaf_index).limit(1)).scalar_one()
        conn.execute(
            update(provision_log)
            .where(provision_log.c.leaf_index == first)
            .values(recipient="spiffe://juki.example/organ/14/someone-else")
        )
    export = tmp_path / "edited.jsonl"
    _export(network, "prefecture-14", export)
    status, out = _cli("audit", "verify", "--network", description, "--in", str(export))
    assert status == 1
    assert f"altered at index {first}: the row does not match the leaf at its place" in out


def test_a_rewritten_log_is_refused_by_its_witness_and_recorded(
    network: LocalNetwork,
    person: common_pb2.ResidentRecord,
) -> None:
    description = str(network.dir / "network.json")
    status, _ = _cli("audit", "checkpoint", "--network", description, "--node", "cs-141003")
    assert status == 0
    before = _witnessed_size(network, "juki.example/cs/141003/audit")
    assert before > 1
    # Truncate the audit log and append anew, as someone with the database would.
    engine = _writable(network, "cs-141003")
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(delete(audit_log).where(audit_log.c.seq > 1))
        conn.execute(
            delete(log_leaves).where(log_leaves.c.log == "audit", log_leaves.c.leaf_index > 0)
        )
    for _ in range(3):  # operator actions: each one an audit entry
        _cli("status", "--network", description)
    status, out = _cli(
        "audit",
        "checkpoint",
        "--network",
        description,
        "--node",
        "cs-141003",
        "--log",
        "audit",
    )
    assert status == 1 and "NOT witnessed" in out, out
    with node_db(network, "prefecture-14").connect() as conn:
        reasons = [r.reason for r in conn.execute(select(audit_log.c.reason))]
    assert "LOG_NOT_EXTENDED" in reasons
    # What the witness holds is still the checkpoint from before the rewrite.
    assert _witnessed_size(network, "juki.example/cs/141003/audit") == before


def _witnessed_size(net: LocalNetwork, origin: str) -> int:
    with node_db(net, "prefecture-14").connect() as conn:
        return int(
            conn.execute(
                select(witnessed_logs.c.size).where(witnessed_logs.c.origin == origin)
            ).scalar_one()
        )
