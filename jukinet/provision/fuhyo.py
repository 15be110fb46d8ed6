"""Provision of fuhyo records to organs, and the fuhyo side of the narrow link.

A query is answered like a resident-record query (provision.Provider over the
fuhyo file: task, key, items, provision log, the national fuhyo server for
another prefecture's emigrants). Then, only if the task is of the My Number
Act and allows the My Number, the organ asked for it (or for every item),
the query found exactly one person on this prefecture's file, and that
person emigrated, the My Number is obtained from the prefecture server
(link.ask_prefecture), passing on the organ's signed query and the certificate
it called with (OrganProof: the prefecture checks them, organ_query.py), and added
to the answer. It is held, sealed,
in the temporary store (my_number_store.py) so a failed delivery can be
repeated with the same request id without asking the prefecture again; the
organ's confirmation or the time-to-live deletes it.

The My Number goes into the answer message and the temporary store only:
never into the fuhyo tables, the provision log (which records that it was
given, with the person as a keyed hash), the audit log, a span or an error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import my_number_link_service_pb2 as link_pb
from juki.v1 import provision_service_pb2 as pb
from jukinet.core.errors import Reason, RefusedError
from jukinet.core.identity import Identity
from jukinet.core.methods import GET_MY_NUMBER_FOR_EMIGRANT
from jukinet.provision.catalogue import FUHYO
from jukinet.provision.log import PROVIDED, REFUSED, RESENT, VIA_LINK, Entry, ProvisionLog
from jukinet.provision.my_number_store import MyNumberStore
from jukinet.provision.provider import Provision, RecordKind
from jukinet.records import fuhyo
from jukinet.trust.audit import AuditLog

FUHYO_RECORDS = RecordKind(
    FUHYO,
    fuhyo.find,
    fuhyo.provided,
    fuhyo_pb.QueryFuhyoRecordsResponse,
    record_items=fuhyo.FUHYO_ITEMS,
)


# Asks the prefecture server for an emigrant's My Number (link.ask_prefecture, bound).
AskPrefecture = Callable[[link_pb.MyNumberLinkRequest], str]


@dataclass(frozen=True)
class OrganProof:
    """What the organ gave for its query: its signature of it (empty if none) and the client
    certificate it called with (DER)."""

    signed: fuhyo_pb.SignedOrganQuery
    certificate: bytes


class EmigrantMyNumbers:
    """The fuhyo side of the narrow link: decide, ask (or re-send), hold, log."""

    def __init__(
        self, *, store: MyNumberStore, log: ProvisionLog, audit: AuditLog, ask: AskPrefecture
    ) -> None:
        self._store = store
        self._log = log
        self._audit = audit
        self._ask = ask

    def add(
        self,
        provision: Provision[fuhyo_pb.QueryFuhyoRecordsResponse],
        query: pb.ResidentQuery,
        organ: Identity,
        proof: OrganProof,
    ) -> list[Entry]:
        """Add the My Number to the provision's one record if the link may be used; else say why.

        Returns the provision-log entry of the link's use (given or refused) for the caller to
        commit with the query's own.
        """
        if pb.RECORD_ITEM_MY_NUMBER not in provision.items:
            return []
        records = provision.response.records
        if not records:
            return []
        # Why the answer carries no My Number though the task allows it (my_number_withheld);
        # a refusal by the prefecture server is passed on as its own reason instead.
        withheld: str = ""
        if provision.response.answered_by_national:
            withheld = Reason.NOT_OF_THIS_PREFECTURE
        elif len(provision.rows) != 1:
            withheld = Reason.SEVERAL_MATCHES
        elif provision.rows[0].status != fuhyo_pb.FUHYO_STATUS_EMIGRATED:
            withheld = Reason.PERSON_NOT_EMIGRANT
        if withheld:
            for record in records:
                record.my_number_withheld = withheld
            return []
        code = provision.rows[0].juminhyo_code
        entry = Entry(
            caller=organ.spiffe_id,
            recipient=organ.spiffe_id,
            operator_id=query.operator_id,
            task_id=query.task_id,
            request_id=query.request_id,
            key_kind="juminhyo_code",
            key_hash=self._log.keyed_hash("juminhyo_code", code),
            outcome=REFUSED,
        )
        try:
            my_number, how = self._obtain(query, organ, proof, code)
        except RefusedError as refusal:
            records[0].my_number_withheld = refusal.reason
            self._audit.append(
                actor=organ.spiffe_id,
                action=GET_MY_NUMBER_FOR_EMIGRANT,
                outcome="refused",
                reason=refusal.reason,
            )
            return [dataclasses.replace(entry, reason=refusal.reason)]
        given = dataclasses.replace(
            entry,
            outcome=PROVIDED,
            subject_hash=self._log.subject(code),
            reason=how,
            items_given="my_number",
        )
        records[0].my_number = my_number
        records[0].items.append(pb.RECORD_ITEM_MY_NUMBER)
        return [given]

    def _obtain(
        self, query: pb.ResidentQuery, organ: Identity, proof: OrganProof, code: str
    ) -> tuple[str, str]:
        """(My Number, how): re-sent from the store, or asked of the prefecture and held."""
        held = self._store.get(organ.spiffe_id, query.request_id, code)
        if held is not None:
            return held, RESENT
        my_number = self._ask(
            link_pb.MyNumberLinkRequest(
                juminhyo_code=code,
                task_id=query.task_id,
                organ=organ.spiffe_id,
                request_id=query.request_id,
                organ_query=proof.signed,
                organ_certificate=proof.certificate,
            ),
        )
        self._store.put(organ.spiffe_id, query.request_id, code, my_number)
        return my_number, VIA_LINK

    def confirm(self, organ: Identity, request_id: str) -> bool:
        """The organ has the My Number of this request: forget it now."""
        return self._store.confirm(organ.spiffe_id, request_id)
