"""The main job of `juki-net up`: a resident's life, lawful and unlawful queries, the narrow link.

Each part enters synthetic persons at a CS as its register system, waits
until the national server has them, and prints what happened, so a newcomer
sees the network work end to end: `demo_resident_life`, `demo_provision`,
`demo_fuhyo`, and `demo_audit` (demo_audit.py), all in `run_demo`.
"""

from __future__ import annotations

import random
import re
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc

from juki.v1 import common_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import provision_service_pb2 as admin_pb
from jukinet.client import calls as clients
from jukinet.core import clock
from jukinet.core.errors import status_line
from jukinet.core.identity import Role
from jukinet.core.network import NetworkDescription
from jukinet.dev import synthetic
from jukinet.dev.demo_audit import demo_audit
from jukinet.provision.catalogue import ITEM_NAMES

DEMO_TIMEOUT_S = 60.0
# OpenTelemetry's scope labels on every sample: noise in a demo.
_SCOPE_LABELS = re.compile(r'otel_scope_[a-z_]+="[^"]*",?')


def demo_life(rng: random.Random) -> list[common_pb2.Change]:
    """A synthetic resident's life at 横浜市: birth, move, name change (旧氏), emigration."""
    born = synthetic.birth("141003", rng)
    moved = synthetic.follow(born, common_pb2.CHANGE_REASON_MOVE_WITHIN, rng=rng)
    moved.record.address.text = "港町2丁目3番"
    renamed = synthetic.follow(moved, common_pb2.CHANGE_REASON_NAME_CHANGE, rng=rng)
    renamed.record.former_surname.kanji = renamed.record.name_kanji.split()[0]
    renamed.record.former_surname.kana = renamed.record.name_kana.split()[0]
    renamed.record.name_kanji = "川口 " + renamed.record.name_kanji.split()[1]
    renamed.record.name_kana = "カワグチ " + renamed.record.name_kana.split()[1]
    emigrated = synthetic.follow(renamed, common_pb2.CHANGE_REASON_EMIGRATION, rng=rng)
    return [born, moved, renamed, emigrated]


def _reach_national(
    network: NetworkDescription,
    changes: Sequence[Any],
    submit: Callable[[NetworkDescription, Any], object] = clients.submit_change,
) -> dict[str, int]:
    """Enter `changes` (with `submit`) and wait until the national server applied them.

    Returns every node's applied count before.
    """
    before = clients.applied_counts(network)
    for change in changes:
        submit(network, change)
    deadline = time.monotonic() + DEMO_TIMEOUT_S
    while clients.applied_counts(network)["national"] < before["national"] + len(changes):
        if time.monotonic() > deadline:
            raise TimeoutError("the changes did not reach the national server in time")
        time.sleep(0.2)
    return before


def demo_resident_life(network: NetworkDescription) -> None:
    """A resident's life entered at 横浜市's CS reaches the national server."""
    life = demo_life(random.Random())  # noqa: S311 - a synthetic person
    for change in life:
        reason = common_pb2.ChangeReason.Name(change.reason).removeprefix("CHANGE_REASON_")
        print(f"demo: {reason:<12} to be entered at cs-141003 (change {change.change_id})")
    before = _reach_national(network, life)
    after = clients.applied_counts(network)
    for name in ("cs-141003", "prefecture-14", "national"):
        print(f"demo:   {name:<14} applied changes {before[name]} -> {after[name]}")
    national = network.node_of(Role.NATIONAL)
    print(
        f"demo: each change is one trace CS -> prefecture -> national; spans are in "
        f"{national.trace_file} and the other nodes' spans.jsonl"
    )


def demo_provision(network: NetworkDescription) -> None:
    """Organs ask under the task catalogue: lawful queries answered, unlawful ones refused."""
    rng = random.Random()  # noqa: S311 - synthetic persons
    here, there = synthetic.birth("141003", rng), synthetic.birth("131016", rng)
    _reach_national(network, [here, there])
    organ = "organ-14-passport-centre"
    person = here.record
    four = clients.four_information(name_kana=person.name_kana, birth_date=person.birth_date)
    answer = clients.ask(network, organ, clients.query("pref5-passport", four=four))
    items = ",".join(ITEM_NAMES[i] for i in answer.records[0].items) if answer.records else ""
    print(f"demo: {organ}, task pref5-passport (旅券法), by 4 information (kana + birth date):")
    print(f"demo:   answered by prefecture-14: {len(answer.records)} record, items {items}")
    answer = clients.ask(
        network,
        organ,
        clients.query("pref5-passport", juminhyo_code=there.record.juminhyo_code),
    )
    print("demo:   a 東京都 resident by 住民票コード (別表第3, wide-area):")
    print(
        f"demo:   answered by the national server: {answer.answered_by_national}, "
        f"{len(answer.records)} record"
    )
    unlawful = (
        (
            "the My Number under the 旅券法 task",
            organ,
            clients.query(
                "pref5-passport", juminhyo_code=person.juminhyo_code, items=["my_number"]
            ),
        ),
        (
            "a tax task by the NPO office",
            "organ-14-npo-office",
            clients.query("pref5-prefectural-tax", my_number=person.my_number),
        ),
        (
            "a 4-information search by name alone",
            organ,
            clients.query(
                "pref5-passport", four=clients.four_information(name_kana=person.name_kana)
            ),
        ),
    )
    for what, client, q in unlawful:
        try:
            clients.ask(network, client, q)
            print(f"demo:   {what}: ANSWERED (unexpected)")
        except grpc.RpcError as error:
            print(f"demo:   {what}: refused {status_line(error)}")
    with clients.admin(network, network.node_of(Role.PREFECTURE, "14")) as stub:
        disclosed = stub.DiscloseRecord(
            admin_pb.DiscloseRecordRequest(juminhyo_code=person.juminhyo_code), timeout=10
        )
        year = clock.fiscal_year(clock.SYSTEM.now())
        stats = stub.GetProvisionStatistics(
            admin_pb.GetProvisionStatisticsRequest(fiscal_year=year), timeout=10
        )
    print(f"demo: disclosure for the person lists {disclosed.provision_count} provision(s)")
    print("demo: provision statistics of prefecture-14 (juki-net stats):")
    print(stats.table)


def demo_fuhyo(network: NetworkDescription) -> None:
    """An emigrant's fuhyo record with My Number under a lawful task; refused under another."""
    rng = random.Random()  # noqa: S311 - a synthetic person
    born = synthetic.birth("141003", rng)
    left = synthetic.follow(born, common_pb2.CHANGE_REASON_EMIGRATION, rng=rng)
    entry = synthetic.fuhyo_entry(born, rng)
    abroad = synthetic.fuhyo_follow(entry, fuhyo_pb.FUHYO_NOTICE_KIND_EMIGRATION, rng)
    _reach_national(network, [born, left])
    _reach_national(network, [entry, abroad], submit=clients.submit_fuhyo_change)
    print("demo: fuhyo: ENTRY and EMIGRATION entered at cs-141003 -> fuhyo-14 -> national")
    tax, passport = "organ-14-tax-office", "organ-14-passport-centre"
    code = born.record.juminhyo_code
    q = clients.query("fuhyo5-prefectural-tax", juminhyo_code=code)
    (found,) = clients.ask_fuhyo(network, tax, q).records
    status = fuhyo_pb.FuhyoStatus.Name(found.record.status).removeprefix("FUHYO_STATUS_")
    number = "received (12 digits)" if found.my_number else f"withheld {found.my_number_withheld}"
    print(f"demo: {tax}, task fuhyo5-prefectural-tax (地方税法, My Number Act), by 住民票コード:")
    print(f"demo:   fuhyo record: status {status}, last domestic address kept; My Number {number}")
    print("demo:   (via the narrow link fuhyo-14 -> prefecture-14; one trace, see spans.jsonl)")
    confirmed = clients.confirm_my_number(network, tax, q.request_id)
    print(f"demo:   delivery confirmed; fuhyo-14's temporary copy deleted: {confirmed}")
    unlawful = clients.query("fuhyo5-passport", juminhyo_code=code, items=["my_number"])
    try:
        clients.ask_fuhyo(network, passport, unlawful)
        print(f"demo: {passport}, the My Number under fuhyo5-passport: ANSWERED (unexpected)")
    except grpc.RpcError as error:
        print(
            f"demo: {passport}, the My Number under fuhyo5-passport: refused {status_line(error)}"
        )


def demo_metrics(network: NetworkDescription) -> None:
    """What prefecture-14's Prometheus endpoint says: provisions by task, its outbox depth."""
    address = network.node_of(Role.PREFECTURE, "14").metrics_address
    if address is None:
        return
    url = f"http://{address}/metrics"
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    print(f"demo: metrics: curl {url}  (provisions by task, outbox depth):")
    for line in text.splitlines():
        if line.startswith(("juki_provisions_total", "juki_outbox_depth")):
            print("demo:   " + _SCOPE_LABELS.sub("", line).replace(",}", "}"))


def run_demo(network: NetworkDescription, description: Path) -> None:
    """The main job: a resident's life reaches national; organs' queries answered or refused;
    an emigrant's fuhyo record with My Number through the narrow link; an operator granted by
    two administrators, a disclosure's proofs and a tampered log row checked offline."""
    try:
        demo_resident_life(network)
        demo_provision(network)
        demo_fuhyo(network)
        audited = synthetic.birth("141003", random.Random())  # noqa: S311 - synthetic
        _reach_national(network, [audited])
        demo_audit(network, description, audited.record.juminhyo_code)
        demo_metrics(network)
    except TimeoutError as error:
        print(f"demo: {error}; see `juki-net status`")
