"""Provision of identity records: one query or a bulk stream, authorised, answered, logged.

`Provider` is what prefecture, fuhyo and national servers share: for each
query it checks the task (catalogue.py), the key (validation.py), finds the
persons (search.py, or fuhyo_records.py) in a read-only snapshot, cuts each
record down to the task's items and commits the provision log (group commit,
storage/group_commit.py) before it answers, so nothing is provided without
its log entry. A refusal is logged the same way and then raised to the caller.

A prefecture server that does not hold the person asks the national server
(QueryForPrefecture) when the task is wide-area (別表第3); the query and the
answer travel sealed (sealing.sealed_rpc), and both servers log the
provision (`answer_forwarded` at the national server).

A Provider is given what it works with — the database, the provision log,
the catalogue, how to ask the national server — and each call names its
caller: it never reads the RPC context.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from google.protobuf import message as protobuf_message
from sqlalchemy import Row

from juki.v1 import envelope_pb2, national_service_pb2
from juki.v1 import provision_service_pb2 as pb
from jukinet.core.clock import today_in_japan
from jukinet.core.errors import Reason, RefusedError
from jukinet.core.identity import Identity, IdentityError, Role
from jukinet.core.sizes import OPAQUE_ID, TASK_ID, kept
from jukinet.provision.approvals import BulkApprovals
from jukinet.provision.catalogue import ITEM_NAMES, RESIDENT, Catalogue, Task, default_catalogue
from jukinet.provision.log import (
    ANSWERED_BY_NATIONAL,
    NO_MATCH,
    PROVIDED,
    REFUSED,
    Entry,
    ProvisionLog,
)
from jukinet.records import search, validation
from jukinet.sealing.sealed_rpc import SealedEndpoint
from jukinet.storage import Database


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
B = TypeVar("B")  # one row's answer of a bulk provision


@dataclass(frozen=True)
class RecordKind(Generic[R]):
    """What a Provider provides: resident records (RESIDENTS) or fuhyo records.

    record: the catalogue's record name (tasks must be for it);
    find: the rows a query's key matches (`removed_too`: 消除者 by 4 information as well);
    provided: one row cut down to items;
    response: the answer message type, built with `records=`;
    record_items: the items a stored record can give (the rest come from elsewhere).
    """

    record: str
    find: Callable[..., Sequence[Row[Any]]]  # (conn, query, *, removed_too) -> rows
    provided: Callable[[Row[Any], frozenset[pb.RecordItem.ValueType]], Any]
    # The message class, typed as what it is used as: types-protobuf's Message takes no fields.
    response: Callable[..., R]
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
    """Answers provision queries at one node, for one kind of record.

    tables: the catalogue tables this node answers (catalogue.PREFECTURE_TABLES, …);
    ask_national: how a prefecture (fuhyo) server asks the national server for a
        person it does not hold, under a wide-area task (None at the national server);
    approvals: the node's bulk approvals (None where bulk provision is not offered).
    """

    def __init__(
        self,
        *,
        db: Database,
        log: ProvisionLog,
        tables: frozenset[str],
        kind: RecordKind[R],
        ask_national: AskNational[R] | None = None,
        approvals: BulkApprovals | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._db = db
        self._kind = kind
        self._log = log
        self._tables = tables
        self._ask_national = ask_national
        self._approvals = approvals
        self.catalogue = catalogue or default_catalogue()

    def _entry(self, query: pb.ResidentQuery, caller: Identity, recipient: Identity) -> Entry:
        kind, value = _key_value(query)
        return Entry(
            caller=caller.spiffe_id,
            recipient=recipient.spiffe_id,
            operator_id=kept(query.operator_id, OPAQUE_ID),
            task_id=kept(query.task_id, TASK_ID),
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
            validation.check_query(query, today_in_japan(self._log.clock))
            given_items = items & kind.record_items if kind.record_items else items
            names = _item_names(given_items)
            with self._db.reading() as conn:
                rows = kind.find(conn, query, removed_too=task.removed_persons)
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
            self._log.commit(_outcomes(entry, given, reason=ANSWERED_BY_NATIONAL))
            return Provision(answer, task, items, ())
        except RefusedError as refusal:
            self._log.write_refusal(dataclasses.replace(entry, reason=refusal.reason))
            raise

    def answer_forwarded(
        self,
        endpoint: SealedEndpoint,
        envelope: envelope_pb2.SealedEnvelope,
        server: Identity,
    ) -> envelope_pb2.SealedEnvelope:
        """At the national server: open a server's forwarded query, answer it, seal the answer.

        The organ named must be of the calling server's prefecture; the task is
        checked again for that organ (wide-area tasks only) and the provision
        logged here too.
        """
        request = endpoint.open(envelope, national_service_pb2.ForwardedQuery, server)
        with self._db.transaction() as conn:
            request.remember(conn)
        try:
            organ = Identity.parse(request.payload.organ)
        except IdentityError:
            raise RefusedError(Reason.ORGAN_NOT_OF_CALLER) from None
        if organ.role is not Role.ORGAN or organ.prefecture != server.prefecture:
            raise RefusedError(Reason.ORGAN_NOT_OF_CALLER)
        answer = self.answer(request.payload.query, caller=server, recipient=organ, forwarded=True)
        return endpoint.seal(answer, server)

    def bulk(
        self,
        requests: Iterator[Any],
        caller: Identity,
        *,
        answer_row: Callable[[pb.ResidentQuery], Sequence[Any]] | None = None,
        respond: Callable[[str, Sequence[Any], str], B],
    ) -> Iterator[B]:
        """Answer a bulk stream (a header, then rows) row by row, each authorised and logged on
        its own: `answer_row(row)` gives a row's records (default: `answer`'s), `respond(request
        id, records, refusal reason)` makes the answer message of the row."""
        first = next(requests, None)
        if first is None or first.WhichOneof("part") != "header":
            raise RefusedError(Reason.BULK_HEADER_MISSING)
        header = first.header
        try:
            self.catalogue.task_for(
                header.task_id,
                recipient=caller,
                tables=self._tables,
                wide_area_only=False,
                record=self._kind.record,
            )
            if self._approvals is None:
                raise RefusedError(Reason.BULK_APPROVAL_REQUIRED)
            self._approvals.admit(header, caller)
        except RefusedError as refusal:
            opening = pb.ResidentQuery(task_id=header.task_id, operator_id=header.operator_id)
            entry = self._entry(opening, caller, caller)
            self._log.write_refusal(
                dataclasses.replace(entry, key_kind="bulk", reason=refusal.reason)
            )
            raise

        def records_of(row: pb.ResidentQuery) -> Sequence[Any]:
            answer = self.answer(row, caller=caller, recipient=caller)
            return list(answer.records)  # type: ignore[attr-defined]

        answer_of = answer_row or records_of
        for count, request in enumerate(requests, start=1):
            if count > header.declared_rows:
                raise RefusedError(Reason.BULK_ROWS_EXCEEDED)
            row = request.row
            request_id = row.request_id if validation.is_uuid(row.request_id) else ""
            try:
                if request.WhichOneof("part") != "row" or row.task_id != header.task_id:
                    mismatch = RefusedError(Reason.BULK_ROW_MISMATCH)
                    entry = self._entry(row, caller, caller)
                    self._log.write_refusal(dataclasses.replace(entry, reason=mismatch.reason))
                    raise mismatch
                records = answer_of(row)
            except RefusedError as refusal:
                yield respond(request_id, [], refusal.reason)
                continue
            yield respond(request_id, records, "")
