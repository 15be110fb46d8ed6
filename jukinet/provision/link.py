"""The narrow link: one emigrant's My Number from a prefecture server to its own fuhyo server.

Prefecture side (MyNumberLinkServicer): one emigrant's My Number to its own
fuhyo server, or nothing. Fuhyo side (`ask_prefecture`): the one call that
asks for it.

Who may call is one policy entry (authz.POLICY: the fuhyo server of the same
prefecture). What may be asked is `check_link_request`, the one function
below: a well-formed request, a fuhyo task of the My Number Act whose items
include the My Number and whose recipients include the organ, an organ of this
prefecture that signed this very query (organ_query.py: a fuhyo server cannot
ask in an organ's name), and a person on this prefecture's file whose record
was removed by emigration (国外転出) and whom the organ's query names. At most
`per_hour` My Numbers an hour go to one organ under one task (counted in the
provision log). The answer carries the My Number only. Request and answer are
sealed; every request and refusal is written to the provision log
(identifiers as keyed hashes) and refusals also to the audit log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from cryptography import x509
from sqlalchemy import Connection, Select, bindparam, func, select

from juki.v1 import common_pb2, envelope_pb2
from juki.v1 import my_number_link_service_pb2 as pb
from juki.v1 import provision_service_pb2 as provision_pb
from jukinet.core import metrics
from jukinet.core.errors import Reason, RefusedError, invalid_field
from jukinet.core.identity import Identity, IdentityError, Role
from jukinet.core.sizes import SPIFFE_ID, TASK_ID, UUID, kept
from jukinet.provision import organ_query
from jukinet.provision.catalogue import FUHYO, PREFECTURE_TABLES, Catalogue, Task, default_catalogue
from jukinet.provision.log import PROVIDED, REFUSED, Entry, ProvisionLog
from jukinet.records.identifiers import is_valid_juminhyo_code
from jukinet.records.residents import current_versions
from jukinet.records.search import four_information_parameters, with_four_information
from jukinet.records.validation import check_change_id
from jukinet.sealing.sealed_rpc import SealedEndpoint, SealedStub
from jukinet.storage import Database
from jukinet.storage.group_commit import GroupTransaction
from jukinet.storage.schema import provision_log, resident_current, resident_versions
from jukinet.trust.revocation import RevocationList


def check_link_request(
    catalogue: Catalogue, request: pb.MyNumberLinkRequest, *, fuhyo: Identity, node: Identity
) -> tuple[Task, Identity]:
    """The task and organ of an admissible link request; RefusedError otherwise."""
    if fuhyo.role is not Role.FUHYO or fuhyo.prefecture != node.prefecture:
        raise RefusedError(
            Reason.CALLER_NOT_ADMITTED, "only this prefecture's fuhyo server may use the link"
        )
    check_change_id(request.request_id, "request_id")
    if not is_valid_juminhyo_code(request.juminhyo_code):
        raise invalid_field("juminhyo_code", "must be 11 digits with a valid check digit")
    try:
        organ = Identity.parse(request.organ)
    except IdentityError:
        raise invalid_field("organ", "must be a SPIFFE ID of this network") from None
    if organ.role is not Role.ORGAN or organ.prefecture != node.prefecture:
        raise RefusedError(
            Reason.ORGAN_NOT_OF_CALLER, "the organ is not an organ of this prefecture"
        )
    task = catalogue.task_for(
        request.task_id,
        recipient=organ,
        tables=PREFECTURE_TABLES,
        wide_area_only=False,
        record=FUHYO,
    )
    if not task.my_number_act or provision_pb.RECORD_ITEM_MY_NUMBER not in task.items:
        raise RefusedError(Reason.MY_NUMBER_NOT_ALLOWED_FOR_TASK)
    return task, organ


# Built once, not per call (#18). Only what may be answered (records/scope.py).
_PERSON = current_versions().where(
    resident_current.c.juminhyo_code == bindparam("code"), resident_current.c.served.is_(True)
)


@functools.cache
def _person_with(shape: tuple[str, ...]) -> Select[Any]:
    return with_four_information(_PERSON, shape, resident_current, resident_versions)


def _asks_for(
    conn: Connection, asked: provision_pb.ResidentQuery, juminhyo_code: str, my_number: str
) -> bool:
    """Whether the organ's query names this person: the same 住民票コード or My Number, or
    4 information every given part of which (name, birth date, sex, address) is the person's
    record here — so an organ's query cannot be passed on for a namesake."""
    key = asked.WhichOneof("key")
    if key == "juminhyo_code":
        return asked.juminhyo_code == juminhyo_code
    if key == "my_number":
        return asked.my_number == my_number
    if key != "four_information":
        return False
    given = four_information_parameters(asked.four_information)
    if not given:
        return False
    found = conn.execute(_person_with(tuple(given)), {"code": juminhyo_code, **given}).first()
    return found is not None


def emigrants_my_number(
    conn: Connection, juminhyo_code: str, asked: provision_pb.ResidentQuery
) -> str:
    """The My Number of a person whose record here was removed by emigration, and whom the
    organ's query `asked` names."""
    row = conn.execute(_PERSON, {"code": juminhyo_code}).first()
    if row is None:
        raise RefusedError(Reason.PERSON_NOT_FOUND)
    if not _asks_for(conn, asked, juminhyo_code, str(row.my_number)):
        raise RefusedError(Reason.ORGAN_PROOF_MISMATCH)
    if not row.removed or row.change_reason != common_pb2.CHANGE_REASON_EMIGRATION:
        raise RefusedError(Reason.PERSON_NOT_EMIGRANT)
    return str(row.my_number)


def within_rate(conn: Connection, entry: Entry, since: dt.datetime, per_hour: int) -> None:
    """LINK_RATE_EXCEEDED if the organ already received `per_hour` My Numbers under the task
    through the link since `since` (the provision log is the count: one home for the fact)."""
    given = conn.execute(
        select(func.count())
        .select_from(provision_log)
        .where(
            provision_log.c.recipient == entry.recipient,
            provision_log.c.task_id == entry.task_id,
            provision_log.c.caller == entry.caller,
            provision_log.c.outcome == PROVIDED,
            provision_log.c.at >= since,
        )
    ).scalar_one()
    if given >= per_hour:
        raise RefusedError(Reason.LINK_RATE_EXCEEDED)


class LinkAnswerer:
    """Prefecture side: open, check, look up, log, seal the answer."""

    def __init__(
        self,
        *,
        db: Database,
        log: ProvisionLog,
        endpoint: SealedEndpoint,
        node: Identity,
        trust_anchors: Callable[[], list[x509.Certificate]],
        revocation: RevocationList | None,
        per_hour: int = 100,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._answers = GroupTransaction(db)
        self._log = log
        self._endpoint = endpoint
        self._node = node
        self._trust_anchors = trust_anchors
        self._revocation = revocation
        self._per_hour = per_hour
        self._catalogue = catalogue or default_catalogue()

    def answer(
        self, envelope: envelope_pb2.SealedEnvelope, fuhyo: Identity
    ) -> envelope_pb2.SealedEnvelope:
        """The sealed My Number of the emigrant `fuhyo` asks about; RefusedError (logged) if not."""
        request = self._endpoint.open(envelope, pb.MyNumberLinkRequest, fuhyo)
        link = request.payload
        log = self._log
        entry = Entry(
            caller=fuhyo.spiffe_id,
            recipient=kept(link.organ, SPIFFE_ID),
            operator_id="",
            task_id=kept(link.task_id, TASK_ID),
            request_id=kept(link.request_id, UUID),
            key_kind="juminhyo_code",
            key_hash=log.keyed_hash("juminhyo_code", link.juminhyo_code),
            outcome=REFUSED,
            items_given="my_number",
        )
        try:
            _, organ = check_link_request(self._catalogue, link, fuhyo=fuhyo, node=self._node)
            asked = organ_query.verify(
                link,
                fuhyo=fuhyo,
                organ=organ,
                cas=self._trust_anchors(),
                revocation=self._revocation,
                now=request.received_at,
            )
            provided = dataclasses.replace(
                entry,
                outcome=PROVIDED,
                subject_hash=log.subject(link.juminhyo_code),
                operator_id=asked.operator_id,  # the clerk the organ signed for
            )
            since = request.received_at - dt.timedelta(hours=1)

            def look_up(conn: Connection) -> str:
                request.remember(conn)
                within_rate(conn, entry, since, self._per_hour)
                found = emigrants_my_number(conn, link.juminhyo_code, asked)
                ProvisionLog.write(conn, [provided], request.received_at)
                return found

            # Replay record, lookup and log entry: one unit, committed with concurrent calls'.
            my_number = self._answers.run(look_up)
        except RefusedError as refusal:
            log.write_refusal(dataclasses.replace(entry, reason=refusal.reason, items_given=""))
            metrics.LINK_CALLS.add(1, {"outcome": "refused", "reason": refusal.reason})
            raise
        metrics.LINK_CALLS.add(1, {"outcome": "provided", "reason": ""})
        return self._endpoint.seal(pb.MyNumberLinkAnswer(my_number=my_number), fuhyo)


LINK_TIMEOUT_S = 10.0


def ask_prefecture(stub: SealedStub | None, request: pb.MyNumberLinkRequest) -> str:
    """Fuhyo side: the emigrant's My Number from this node's prefecture server (its link hop).

    Sealed both ways, over the node's traced channel (so the prefecture's
    span joins the organ's trace). RefusedError with the prefecture's status
    and reason if it refused, LINK_UNAVAILABLE if it did not answer, NO_LINK
    if this node has no link (`stub` None).
    """
    if stub is None:
        raise RefusedError(Reason.NO_LINK)
    return stub.ask(request, pb.MyNumberLinkAnswer).my_number
