"""What a register system, an organ, an agency or an operator sends, via a network description.

Used by the CLI, the demo of `juki-net up`, the benchmark and the tests.
Nodes are found by role and code: a register system enters changes at its
municipality's CS; an organ (organ/<prefecture>/<name>) asks its own
prefecture's server (or fuhyo server); an agency (agency/<name>) asks the
national server. A name the description does not hold is a NetworkError.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, TypeAlias

from google.protobuf import json_format
from google.protobuf import message as protobuf_message

from juki.v1 import change_notice_service_pb2 as change_notice_pb
from juki.v1 import change_notice_service_pb2_grpc as change_notice_pb_grpc
from juki.v1 import common_pb2, cs_service_pb2, cs_service_pb2_grpc
from juki.v1 import consistency_service_pb2 as consistency_pb
from juki.v1 import consistency_service_pb2_grpc as consistency_grpc
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import fuhyo_service_pb2_grpc as fuhyo_grpc
from juki.v1 import node_admin_service_pb2 as admin_pb
from juki.v1 import node_admin_service_pb2_grpc as admin_grpc
from juki.v1 import provision_service_pb2 as pb
from juki.v1 import provision_service_pb2_grpc as pb_grpc
from jukinet.client.channels import connect
from jukinet.core.clock import SYSTEM
from jukinet.core.identity import Role
from jukinet.core.network import OPERATOR, NetworkDescription, NodeEntry
from jukinet.provision import organ_query
from jukinet.provision.catalogue import ITEMS

TIMEOUT_S = 15.0
STATUS_TIMEOUT_S = 5.0
CONSISTENCY_TIMEOUT_S = 900.0  # a run over a large municipality takes minutes
# Columns of a bulk query file; a row's key is its juminhyo_code, else its my_number, else
# the 4 information columns.
BULK_COLUMNS = (
    "juminhyo_code",
    "my_number",
    "name_kana",
    "name_kanji",
    "birth_date",
    "sex",
    "municipality_code",
    "address_text",
)
_SEXES = {
    "": common_pb2.SEX_UNSPECIFIED,
    "male": common_pb2.SEX_MALE,
    "female": common_pb2.SEX_FEMALE,
}


def provider_of(network: NetworkDescription, client: str) -> NodeEntry:
    """The node a client asks: its prefecture server (organ) or the national server (agency)."""
    who = network.client(client).identity
    if who.role is Role.AGENCY:
        return network.node_of(Role.NATIONAL)
    return network.node_of(Role.PREFECTURE, who.prefecture)


def fuhyo_server_of(network: NetworkDescription, client: str) -> NodeEntry:
    """The fuhyo server an organ asks: its own prefecture's."""
    return network.node_of(Role.FUHYO, network.client(client).identity.prefecture)


def query(
    task_id: str,
    *,
    juminhyo_code: str = "",
    my_number: str = "",
    four: pb.FourInformation | None = None,
    items: Sequence[str] = (),
    operator_id: str = "clerk-001",
) -> pb.ResidentQuery:
    """A ResidentQuery with a fresh request id and one key."""
    q = pb.ResidentQuery(
        task_id=task_id,
        request_id=str(uuid.uuid4()),
        operator_id=operator_id,
        items=[ITEMS[i] for i in items],
    )
    if juminhyo_code:
        q.juminhyo_code = juminhyo_code
    elif my_number:
        q.my_number = my_number
    elif four is not None:
        q.four_information.CopyFrom(four)
    return q


def four_information(
    *,
    name_kana: str = "",
    name_kanji: str = "",
    birth_date: str = "",
    sex: str = "",
    municipality_code: str = "",
    address_text: str = "",
) -> pb.FourInformation:
    """A 4-information key from its parts (sex: '', 'male' or 'female')."""
    four = pb.FourInformation(
        name_kana=name_kana, name_kanji=name_kanji, birth_date=birth_date, sex=_SEXES[sex]
    )
    if municipality_code:
        four.address.municipality_code = municipality_code
        four.address.text = address_text
    return four


def ask(network: NetworkDescription, client: str, q: pb.ResidentQuery) -> pb.QueryResidentsResponse:
    """Send one query as `client`; raises grpc.RpcError if refused."""
    with connect(network, provider_of(network, client), network.client(client)) as channel:
        reply: pb.QueryResidentsResponse = pb_grpc.ProvisionServiceStub(channel).QueryResidents(
            pb.QueryResidentsRequest(query=q), timeout=TIMEOUT_S
        )
    return reply


class BulkFileError(ValueError):
    """A bulk query file that is not a CSV of BULK_COLUMNS: the one error `read_bulk_file`
    raises, naming the line and the column, never a cell's value."""


def read_bulk_file(source: TextIO, task_id: str) -> Iterator[pb.ResidentQuery]:
    """Rows of a bulk query CSV (header line with BULK_COLUMNS) as queries, one at a time
    (a cell is at most csv.field_size_limit() long, so memory stays bounded)."""
    reader = csv.DictReader(source)
    try:
        header = reader.fieldnames or []
        unknown = [name for name in header if name not in BULK_COLUMNS]
        if not header or unknown:
            raise BulkFileError(
                f"the header line must name columns of {', '.join(BULK_COLUMNS)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        for row in reader:
            cells = {k: (row.get(k) or "").strip() for k in BULK_COLUMNS}
            if cells["sex"] not in _SEXES:
                raise BulkFileError(f"line {reader.line_num}: sex must be male, female or empty")
            four = four_information(
                **{k: cells[k] for k in BULK_COLUMNS if k not in ("juminhyo_code", "my_number")}
            )
            yield query(
                task_id,
                juminhyo_code=cells["juminhyo_code"],
                my_number=cells["my_number"],
                four=four,
            )
    except csv.Error as error:
        raise BulkFileError(f"line {reader.line_num}: not a CSV line ({error})") from None
    except UnicodeDecodeError:
        raise BulkFileError(f"after line {reader.line_num}: not UTF-8 text") from None


def bulk(
    network: NetworkDescription,
    client: str,
    task_id: str,
    rows: Sequence[pb.ResidentQuery],
    *,
    approval_id: str = "",
    fuhyo: bool = False,
) -> Iterable[pb.BulkQueryResidentsResponse | fuhyo_pb.BulkQueryFuhyoRecordsResponse]:
    """Stream `rows` as one bulk provision (of fuhyo records at the organ's fuhyo server with
    `fuhyo`); yields one answer per row."""
    request = fuhyo_pb.BulkQueryFuhyoRecordsRequest if fuhyo else pb.BulkQueryResidentsRequest

    def requests() -> Iterator[Any]:
        header = pb.BulkHeader(
            task_id=task_id,
            operator_id="clerk-001",
            declared_rows=len(rows),
            approval_id=approval_id,
        )
        yield request(header=header)
        for row in rows:
            yield request(row=row)

    server = fuhyo_server_of(network, client) if fuhyo else provider_of(network, client)
    with connect(network, server, network.client(client)) as channel:
        if fuhyo:
            fuhyo_stub = fuhyo_grpc.FuhyoServiceStub(channel)
            yield from fuhyo_stub.BulkQueryFuhyoRecords(requests(), timeout=TIMEOUT_S * 40)
        else:
            stub = pb_grpc.ProvisionServiceStub(channel)
            yield from stub.BulkQueryResidents(requests(), timeout=TIMEOUT_S * 40)


def write_bulk_results(answers: Iterable[protobuf_message.Message], out: Path) -> int:
    """Write answers as JSON lines (protobuf JSON); returns how many rows."""
    count = 0
    with out.open("w", encoding="utf-8") as sink:
        for answer in answers:
            sink.write(
                json_format.MessageToJson(
                    answer, indent=None, ensure_ascii=False, preserving_proto_field_name=True
                )
                + "\n"
            )
            count += 1
    return count


@contextmanager
def admin(
    network: NetworkDescription, node: NodeEntry, operator: str = OPERATOR
) -> Iterator[pb_grpc.ProvisionAdminServiceStub]:
    """A ProvisionAdminService stub of `node`, as an operator."""
    with connect(network, node, network.client(operator)) as channel:
        yield pb_grpc.ProvisionAdminServiceStub(channel)


@contextmanager
def _cs_as_register(
    network: NetworkDescription, code: str
) -> Iterator[cs_service_pb2_grpc.CsServiceStub]:
    """A CsService stub of municipality `code`'s CS, as that municipality's register system."""
    cs = network.node_of(Role.CS, code)
    with connect(network, cs, network.client_of(Role.REGISTER, code)) as channel:
        yield cs_service_pb2_grpc.CsServiceStub(channel)


Outcome: TypeAlias = common_pb2.ChangeOutcome.ValueType


def submit_change(network: NetworkDescription, change: common_pb2.Change) -> Outcome:
    """Enter `change` at its municipality's CS as its register system: APPLIED, DUPLICATE or
    HELD; a refusal (new, or met by this change id before) raises grpc.RpcError."""
    with _cs_as_register(network, change.municipality_code) as cs:
        reply = cs.SubmitChange(
            cs_service_pb2.SubmitChangeRequest(change=change), timeout=TIMEOUT_S
        )
    return reply.outcome


def submit_changes(
    network: NetworkDescription, changes: Sequence[common_pb2.Change]
) -> list[common_pb2.ChangeResult]:
    """Enter many changes of one municipality in one call; one result per change, in order."""
    with _cs_as_register(network, changes[0].municipality_code) as cs:
        reply = cs.SubmitChanges(
            cs_service_pb2.SubmitChangesRequest(changes=changes), timeout=TIMEOUT_S
        )
    return list(reply.results)


def submit_fuhyo_change(network: NetworkDescription, change: fuhyo_pb.FuhyoChange) -> Outcome:
    """Enter a fuhyo change at its municipality's CS as its register system: APPLIED,
    DUPLICATE or HELD; a refusal raises grpc.RpcError."""
    with _cs_as_register(network, change.municipality_code) as cs:
        reply = cs.SubmitFuhyoChange(
            cs_service_pb2.SubmitFuhyoChangeRequest(change=change), timeout=TIMEOUT_S
        )
    return reply.outcome


def change_notices(
    network: NetworkDescription, municipality: str, *, acknowledge: bool = False
) -> list[change_notice_pb.ChangeNotice]:
    """The municipality's notices of changes refused above (誤りの通報), at its CS as its
    register system, oldest first; acknowledged there too if `acknowledge`."""
    cs = network.node_of(Role.CS, municipality)
    with connect(network, cs, network.client_of(Role.REGISTER, municipality)) as channel:
        stub = change_notice_pb_grpc.ChangeNoticeServiceStub(channel)
        listed = stub.ListChangeNotices(
            change_notice_pb.ListChangeNoticesRequest(page_size=500), timeout=TIMEOUT_S
        )
        if acknowledge and listed.notices:
            ids = [notice.notice_id for notice in listed.notices]
            stub.AcknowledgeChangeNotices(
                change_notice_pb.AcknowledgeChangeNoticesRequest(notice_ids=ids), timeout=TIMEOUT_S
            )
    return list(listed.notices)


def ask_fuhyo(
    network: NetworkDescription, client: str, q: pb.ResidentQuery
) -> fuhyo_pb.QueryFuhyoRecordsResponse:
    """Send one fuhyo query as organ `client`, signed with its client key (so the narrow link
    may give an emigrant's My Number: organ_query.py); raises grpc.RpcError if refused."""
    fuhyo, organ = fuhyo_server_of(network, client), network.client(client)
    signed = organ_query.sign_with_pem(
        q, audience=fuhyo.spiffe_id, key_pem=organ.key.read_bytes(), at=SYSTEM.now()
    )
    with connect(network, fuhyo, organ) as channel:
        reply: fuhyo_pb.QueryFuhyoRecordsResponse = fuhyo_grpc.FuhyoServiceStub(
            channel
        ).QueryFuhyoRecords(
            fuhyo_pb.QueryFuhyoRecordsRequest(query=q, signed=signed), timeout=TIMEOUT_S
        )
    return reply


def confirm_my_number(network: NetworkDescription, client: str, request_id: str) -> bool:
    """Confirm receipt of a request's My Number (the fuhyo server deletes its copy)."""
    with connect(network, fuhyo_server_of(network, client), network.client(client)) as channel:
        reply = fuhyo_grpc.FuhyoServiceStub(channel).ConfirmMyNumberDelivery(
            fuhyo_pb.ConfirmMyNumberDeliveryRequest(request_id=request_id), timeout=TIMEOUT_S
        )
    return bool(reply.deleted)


def node_status(
    network: NetworkDescription, node: NodeEntry, operator: str = OPERATOR
) -> admin_pb.GetNodeStatusResponse:
    """GetNodeStatus of one node, as an operator; raises grpc.RpcError if not answered."""
    with connect(network, node, network.client(operator)) as channel:
        reply: admin_pb.GetNodeStatusResponse = admin_grpc.NodeAdminServiceStub(
            channel
        ).GetNodeStatus(admin_pb.GetNodeStatusRequest(), timeout=STATUS_TIMEOUT_S)
    return reply


def applied_counts(network: NetworkDescription) -> dict[str, int]:
    """Applied-change count of every node, by name (raises if a node does not answer)."""
    return {n.name: node_status(network, n).applied_change_count for n in network.nodes}


def consistency_check(
    network: NetworkDescription,
    node: NodeEntry,
    municipality: str,
    file: consistency_pb.RecordFile.ValueType = consistency_pb.RECORD_FILE_UNSPECIFIED,
    operator: str = OPERATOR,
) -> list[consistency_pb.ConsistencyReport]:
    """RunConsistencyCheck at `node` for `municipality` (every file it compares unless `file`),
    as an operator; one report per file."""
    with connect(network, node, network.client(operator)) as channel:
        reply = consistency_grpc.ConsistencyAdminServiceStub(channel).RunConsistencyCheck(
            consistency_pb.RunConsistencyCheckRequest(municipality_code=municipality, file=file),
            timeout=CONSISTENCY_TIMEOUT_S,
        )
    return list(reply.reports)


def approve_repairs(
    network: NetworkDescription, node: NodeEntry, run_id: str, operator: str = OPERATOR
) -> consistency_pb.ApproveRepairsResponse:
    """ApproveRepairs of one run at `node`, as an operator."""
    with connect(network, node, network.client(operator)) as channel:
        reply: consistency_pb.ApproveRepairsResponse = consistency_grpc.ConsistencyAdminServiceStub(
            channel
        ).ApproveRepairs(
            consistency_pb.ApproveRepairsRequest(run_id=run_id), timeout=CONSISTENCY_TIMEOUT_S
        )
    return reply
