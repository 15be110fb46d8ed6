"""Provision of identity records: one query or a bulk stream, authorised, answered, logged.

`Provider` is what prefecture, fuhyo and national servers share: for each
query it checks the task (catalogue.py), the key (validation.py), finds the
persons (search.py, or fuhyo_records.py) in a read-only snapshot, cuts each
record down to the task's items and commits the provision log (group commit,
provision_log.GroupCommit) before it answers, so nothing is provided without
its log entry. A refusal is logged the same way and then raised to the caller.

A prefecture server that does not hold the person asks the national server
(QueryForPrefecture) when the task is wide-area (別表第3); the query and the
answer travel sealed, and both servers log the provision.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

import grpc
from google.protobuf import message as protobuf_message
from sqlalchemy import Connection, Row, update

from juki.v1 import envelope_pb2, national_service_pb2, provision_service_pb2_grpc
from juki.v1 import national_service_pb2_grpc as national_grpc
from juki.v1 import provision_service_pb2 as pb
from jukinet.changes.delivery import full_method
from jukinet.changes.ledger import today_in_japan
from jukinet.core.errors import RefusedError, invalid_field, passed_on
from jukinet.core.identity import Identity, IdentityError, Role
from jukinet.provision.catalogue import (
    ITEM_NAMES,
    PREFECTURE_TABLES,
    RESIDENT,
    Catalogue,
    Task,
    default_catalogue,
)
from jukinet.provision.log import NO_MATCH, PROVIDED, REFUSED, Entry, ProvisionLog
from jukinet.records import search, validation
from jukinet.sealing import replay
from jukinet.storage.schema import bulk_approvals
from jukinet.trust.authz import current_caller

if TYPE_CHECKING:
    from jukinet.runtime.node import Node

QUERY_FOR_PREFECTURE = full_method(
    national_service_pb2.DESCRIPTOR.services_by_name["NationalService"], "QueryForPrefecture"
)
FORWARD_TIMEOUT_S = 10.0


class Provided(Protocol):
    """One provided record (ProvidedRecord, ProvidedFuhyoRecord): its code and its items."""

    @property
    def record(self) -> Any: ...

    @property
    def items(self) -> Sequence[int]: ...


class Answer(Protocol):
    """A query's answer (QueryResidentsResponse, QueryFuhyoRecordsResponse)."""

    @property
    def records(self) -> Sequence[Provided]: ...

    answered_by_national: bool


R = TypeVar("R", bound=protobuf_message.Message)


@dataclass(frozen=True)
class RecordKind(Generic[R]):
    """What a Provider provides: resident records (RESIDENTS) or fuhyo records.

    record: the catalogue's record name (tasks must be for it);
    find: the rows a query's key matches;
    provided: one row cut down to items;
    response: the answer message type, built with `records=`;
    record_items: the items a stored record can give (the rest come from elsewhere).
    """

    record: str
    find: Callable[[Connection, pb.ResidentQuery], Sequence[Row[Any]]]
    provided: Callable[[Row[Any], frozenset[pb.RecordItem.ValueType]], Any]
    response: type[R]
    record_items: frozenset[pb.RecordItem.ValueType] | None = None


RESIDENTS = RecordKind(RESIDENT, search.find, search.provided, pb.QueryResidentsResponse)


@dataclass(frozen=True)
class Provision(Generic[R]):
    """A query's answer with what went into it: the task, the items allowed, the rows found here."""

    response: R
    task: Task
    items: frozenset[pb.RecordItem.ValueType]
    rows: Sequence[Row[Any]]
    # With provide(log_later=True): the log entries the caller must commit before answering.
    unlogged: Sequence[Entry] = ()


# Answers a forwarded query at the national server.
AskNational = Callable[[national_service_pb2.ForwardedQuery], R]


def _item_names(items: Iterable[int]) -> str:
    return ",".join(ITEM_NAMES[i] for i in sorted(items))


def _key_value(query: pb.ResidentQuery) -> tuple[str, str | pb.FourInformation]:
    key = query.WhichOneof("key") or ""
    if key == "four_information":
        return key, query.four_information
    return key, getattr(query, key) if key else ""


def _outcomes(entry: Entry, given: list[tuple[str, str]], reason: str = "") -> list[Entry]:
    """One PROVIDED entry per (person's keyed hash, items) given, or one NO_MATCH entry."""
    provided = [
        dataclasses.replace(
            entry, outcome=PROVIDED, subject_hash=subject, items_given=items, reason=reason
        )
        for subject, items in given
    ]
    return provided or [dataclasses.replace(entry, outcome=NO_MATCH)]


class Provider(Generic[R]):
    """Answers provision queries at one node, for one kind of record."""

    def __init__(
        self,
        node: Node,
        *,
        tables: frozenset[str],
        kind: RecordKind[R],
        ask_national: AskNational[R] | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._node = node
        self._kind = kind
        self._log: ProvisionLog = node.provision_log
        self._tables = tables
        self._ask_national = ask_national
        self.catalogue = catalogue or default_catalogue()

    def _entry(self, query: pb.ResidentQuery, caller: Identity, recipient: Identity) -> Entry:
        kind, value = _key_value(query)
        return Entry(
            caller=caller.spiffe_id,
            recipient=recipient.spiffe_id,
            operator_id=query.operator_id[:32],
            task_id=query.task_id[:64],
            request_id=query.request_id if validation.is_uuid(query.request_id) else "",
            key_kind=kind,
            key_hash=self._log.keyed_hash(kind, value) if kind else "",
            outcome=REFUSED,
        )

    def answer(
        self,
        query: pb.ResidentQuery,
        *,
        caller: Identity,
        recipient: Identity,
        forwarded: bool = False,
    ) -> R:
        """Authorise, find, log and answer one query; RefusedError (logged) if refused.

        `caller` is the TLS peer; `recipient` the organ or agency the answer is
        for (the caller itself, or the organ a prefecture forwards for).
        """
        return self.provide(query, caller=caller, recipient=recipient, forwarded=forwarded).response

    def provide(
        self,
        query: pb.ResidentQuery,
        *,
        caller: Identity,
        recipient: Identity,
        forwarded: bool = False,
        log_later: bool = False,
    ) -> Provision[R]:
        """`answer`, with the task, the items allowed and the rows found here.

        `log_later`: the provision's log entries are returned (`unlogged`) for the caller to
        commit with its own, in one durable commit, before the answer leaves (the fuhyo
        server adds the My Number's entry). Refusals and national answers are logged here.
        """
        entry = self._entry(query, caller, recipient)
        kind = self._kind
        try:
            task, items = self.catalogue.authorise(
                query,
                recipient=recipient,
                tables=self._tables,
                wide_area_only=forwarded,
                record=kind.record,
            )
            validation.check_query(query, today_in_japan())
            given_items = items & kind.record_items if kind.record_items else items
            names = _item_names(given_items)
            with self._node.db.reading() as conn:
                rows = kind.find(conn, query)
            if rows or self._ask_national is None or not task.wide_area:
                given = [(self._log.subject(row.juminhyo_code), names) for row in rows]
                outcomes = _outcomes(entry, given)
                if not log_later:
                    # Durable before the answer leaves: nothing is provided without its entry.
                    self._log.commit(outcomes)
                response = kind.response(records=[kind.provided(row, given_items) for row in rows])
                return Provision(response, task, items, rows, outcomes if log_later else ())
            # Not a resident here: the national server answers (and logs) for the organ.
            answer = self._ask_national(
                national_service_pb2.ForwardedQuery(query=query, organ=recipient.spiffe_id)
            )
            national: Answer = answer  # type: ignore[assignment]
            national.answered_by_national = True
            # A task that does not give the code leaves the person unnamed in this log.
            given = [
                (
                    self._log.subject(code) if (code := r.record.juminhyo_code) else "",
                    _item_names(r.items),
                )
                for r in national.records
            ]
            self._log.commit(_outcomes(entry, given, reason="ANSWERED_BY_NATIONAL"))
            return Provision(answer, task, items, ())
        except RefusedError as refusal:
            self._log.write_refusal(dataclasses.replace(entry, reason=refusal.reason))
            raise

    def _admit_bulk(self, header: pb.BulkHeader, caller: Identity) -> None:
        """Check the task of a bulk provision, and its approval above the threshold."""
        self.catalogue.task_for(
            header.task_id, recipient=caller, tables=self._tables, wide_area_only=False
        )
        if header.declared_rows < 1:
            raise invalid_field("header.declared_rows", "must be 1 or more")
        if header.declared_rows <= self._node.config.bulk_approval_threshold:
            return
        with self._node.db.transaction() as conn:
            used = conn.execute(
                update(bulk_approvals)
                .where(
                    bulk_approvals.c.approval_id == header.approval_id,
                    bulk_approvals.c.recipient == caller.spiffe_id,
                    bulk_approvals.c.task_id == header.task_id,
                    bulk_approvals.c.max_rows >= header.declared_rows,
                    bulk_approvals.c.used_at.is_(None),
                )
                .values(used_at=dt.datetime.now(dt.UTC))
            )
            if used.rowcount != 1:
                raise RefusedError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "BULK_APPROVAL_REQUIRED",
                    "this many rows need an unused approval for this caller and task",
                )

    def bulk(
        self, requests: Iterator[pb.BulkQueryResidentsRequest], caller: Identity
    ) -> Iterator[pb.BulkQueryResidentsResponse]:
        """Answer a bulk stream row by row (each authorised and logged on its own)."""
        first = next(requests, None)
        if first is None or first.WhichOneof("part") != "header":
            raise RefusedError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "BULK_HEADER_MISSING",
                "the first message of a bulk provision must be its header",
            )
        header = first.header
        try:
            self._admit_bulk(header, caller)
        except RefusedError as refusal:
            opening = pb.ResidentQuery(task_id=header.task_id, operator_id=header.operator_id)
            entry = self._entry(opening, caller, caller)
            self._log.write_refusal(
                dataclasses.replace(entry, key_kind="bulk", reason=refusal.reason)
            )
            raise
        for count, request in enumerate(requests, start=1):
            if count > header.declared_rows:
                raise RefusedError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "BULK_ROWS_EXCEEDED",
                    "more rows arrived than the header declared",
                )
            row = request.row
            request_id = row.request_id if validation.is_uuid(row.request_id) else ""
            try:
                if request.WhichOneof("part") != "row" or row.task_id != header.task_id:
                    mismatch = RefusedError(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        "BULK_ROW_MISMATCH",
                        "a row must be a query for the header's task",
                    )
                    entry = self._entry(row, caller, caller)
                    self._log.write_refusal(dataclasses.replace(entry, reason=mismatch.reason))
                    raise mismatch
                answer = self.answer(row, caller=caller, recipient=caller)
            except RefusedError as refusal:
                yield pb.BulkQueryResidentsResponse(
                    request_id=request_id, refusal_reason=refusal.reason
                )
                continue
            residents = cast(pb.QueryResidentsResponse, answer)
            yield pb.BulkQueryResidentsResponse(request_id=request_id, records=residents.records)


class ProvisionServicer(provision_service_pb2_grpc.ProvisionServiceServicer):
    """ProvisionService over a Provider (the caller is the recipient)."""

    def __init__(self, provider: Provider[pb.QueryResidentsResponse]) -> None:
        self._provider = provider

    def QueryResidents(
        self, request: pb.QueryResidentsRequest, context: grpc.ServicerContext
    ) -> pb.QueryResidentsResponse:
        caller = current_caller()
        return self._provider.answer(request.query, caller=caller, recipient=caller)

    def BulkQueryResidents(
        self,
        request_iterator: Iterator[pb.BulkQueryResidentsRequest],
        context: grpc.ServicerContext,
    ) -> Iterator[pb.BulkQueryResidentsResponse]:
        return self._provider.bulk(request_iterator, current_caller())


def national_asker(
    node: Node,
    *,
    answer_type: type[R],
    rpc: Callable[[grpc.Channel], Callable[..., Any]],
    request_type: Callable[..., Any],
    method: str,
) -> AskNational[R] | None:
    """Ask the national server (the node's next hop) sealed; None if the node has no next hop.

    `rpc(channel)` is the national method (QueryForPrefecture or
    QueryFuhyoForPrefecture), `request_type` its request (an `envelope`
    field), `answer_type` the sealed answer's payload.
    """
    hop = node.config.next_hop
    if hop is None:
        return None
    national = hop.spiffe_id

    def ask(forwarded: national_service_pb2.ForwardedQuery) -> R:
        envelope = node.sealer.seal(forwarded, recipient=national, method=method)
        try:
            reply = rpc(node.next_hop_channel())(
                request_type(envelope=envelope), timeout=FORWARD_TIMEOUT_S
            )
        except grpc.RpcError as error:
            raise passed_on(
                error,
                unavailable="NATIONAL_UNAVAILABLE",
                message="the national server did not answer the forwarded query",
            ) from None
        _, answer = node.sealer.open(reply.envelope, answer_type, peer=national, method=method)
        return answer

    return ask


def resident_asker(node: Node) -> AskNational[pb.QueryResidentsResponse] | None:
    """A prefecture server's way to ask the national server about residents (None: no hop)."""
    return national_asker(
        node,
        answer_type=pb.QueryResidentsResponse,
        rpc=lambda channel: national_grpc.NationalServiceStub(channel).QueryForPrefecture,
        request_type=national_service_pb2.QueryForPrefectureRequest,
        method=QUERY_FOR_PREFECTURE,
    )


def organ_not_of_caller() -> RefusedError:
    """A forwarded query naming an organ that is not of the forwarding prefecture."""
    return RefusedError(
        grpc.StatusCode.PERMISSION_DENIED,
        "ORGAN_NOT_OF_CALLER",
        "the forwarded query names an organ of another prefecture",
    )


def answer_forwarded(
    node: Node, provider: Provider[R], envelope: envelope_pb2.SealedEnvelope, *, method: str
) -> envelope_pb2.SealedEnvelope:
    """At the national server: open a prefecture's forwarded query, answer it, seal the answer.

    The organ named must be of the calling server's prefecture; the task is
    checked again for that organ (wide-area tasks only) and the provision
    logged here too.
    """
    server = current_caller()
    header, forwarded = node.sealer.open(
        envelope, national_service_pb2.ForwardedQuery, peer=server.spiffe_id, method=method
    )
    with node.db.transaction() as conn:
        replay.remember(conn, header)
    try:
        organ = Identity.parse(forwarded.organ)
    except IdentityError:
        raise organ_not_of_caller() from None
    if organ.role is not Role.ORGAN or organ.prefecture != server.prefecture:
        raise organ_not_of_caller()
    answer = provider.answer(forwarded.query, caller=server, recipient=organ, forwarded=True)
    return node.sealer.seal(answer, recipient=server.spiffe_id, method=method)


def record_approval(
    node: Node, *, recipient: str, task_id: str, max_rows: int, approved_by: str
) -> tuple[str, dt.datetime]:
    """Record an operator's approval of one bulk provision; returns (approval id, time)."""
    catalogue = default_catalogue()
    try:
        who = Identity.parse(recipient)
    except ValueError:
        raise invalid_field("recipient", "must be a SPIFFE ID of this network") from None
    if who.prefecture != node.identity.prefecture:
        raise RefusedError(
            grpc.StatusCode.PERMISSION_DENIED,
            "TASK_NOT_FOR_CALLER",
            "the recipient is not an organ of this prefecture",
        )
    catalogue.task_for(task_id, recipient=who, tables=PREFECTURE_TABLES, wide_area_only=False)
    if max_rows < 1:
        raise invalid_field("max_rows", "must be 1 or more")
    approval_id, now = str(uuid.uuid4()), dt.datetime.now(dt.UTC)
    with node.db.transaction() as conn:
        conn.execute(
            bulk_approvals.insert().values(
                approval_id=approval_id,
                recipient=who.spiffe_id,
                task_id=task_id,
                max_rows=max_rows,
                approved_by=approved_by,
                approved_at=now,
            )
        )
    return approval_id, now
