"""One root exception, each refusal reason's status code and message, and the AIP-193 error mapping
every RPC uses (the reasons themselves: core/reasons.py).

A refusal is raised as a `RefusedError` carrying a `Reason`: a stable
UPPER_SNAKE code clients branch on. Each reason has exactly one gRPC status
code and a default message, in one table (`_REFUSALS`), so a reason never
means two things. `abort()` turns a refusal into a gRPC status with one
google.rpc.ErrorInfo. Messages name the problem (a field, a rule) and never
contain record data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from jukinet.core.reasons import Reason as Reason

ERROR_DOMAIN = "juki-net"


_S = grpc.StatusCode
R = Reason
# Each reason's one status code, and the message it is sent with unless the refusal names more.
_REFUSALS: Mapping[Reason, tuple[grpc.StatusCode, str]] = {
    R.INVALID_FIELD: (_S.INVALID_ARGUMENT, "a field is malformed"),
    R.QUERY_TOO_BROAD: (_S.INVALID_ARGUMENT, "the search matches too many persons"),
    R.KEY_MISSING: (_S.INVALID_ARGUMENT, "the query has no search key"),
    R.BAD_BATCH_SIZE: (_S.INVALID_ARGUMENT, "the batch holds too few or too many changes"),
    R.BULK_HEADER_MISSING: (
        _S.INVALID_ARGUMENT,
        "the first message of a bulk provision must be its header",
    ),
    R.BULK_ROW_MISMATCH: (_S.INVALID_ARGUMENT, "a row must be a query for the header's task"),
    R.ENVELOPE_MALFORMED: (_S.INVALID_ARGUMENT, "the envelope does not parse"),
    R.ENVELOPE_TAMPERED: (_S.INVALID_ARGUMENT, "the envelope does not verify"),
    R.NO_NETWORK_IDENTITY: (
        _S.UNAUTHENTICATED,
        "the client certificate carries no SPIFFE ID of this network",
    ),
    R.CERTIFICATE_REVOKED: (_S.UNAUTHENTICATED, "the client certificate is revoked"),
    R.CALLER_NOT_ADMITTED: (_S.PERMISSION_DENIED, "this identity may not call this method here"),
    R.ORIGIN_MISMATCH: (
        _S.PERMISSION_DENIED,
        "the change belongs to a municipality outside the sender's jurisdiction",
    ),
    R.NOT_AN_ADMINISTRATOR: (_S.PERMISSION_DENIED, "only this node's administrators manage access"),
    R.NO_ACCESS_GRANT: (
        _S.PERMISSION_DENIED,
        "this operator holds no approved, unexpired grant of that right on this node",
    ),
    R.REPAIR_NOT_APPROVED: (
        _S.PERMISSION_DENIED,
        "an overwrite or withdrawal needs the approval of another operator than who ran the check",
    ),
    R.CHECKPOINT_NOT_OF_CALLER: (
        _S.PERMISSION_DENIED,
        "a node may only have its own logs' checkpoints witnessed",
    ),
    R.WITNESS_NOT_NAMED: (
        _S.PERMISSION_DENIED,
        "the caller's key document does not name this node as a witness of its logs",
    ),
    R.COMPARISON_NOT_ALLOWED: (
        _S.PERMISSION_DENIED,
        "the caller does not compare that municipality's file with this node",
    ),
    R.TOO_MANY_RUNS: (
        _S.RESOURCE_EXHAUSTED,
        "the caller began more comparison runs this hour than this node answers",
    ),
    R.ORGAN_NOT_OF_CALLER: (_S.PERMISSION_DENIED, "the organ is not of the caller's prefecture"),
    R.TASK_UNKNOWN: (_S.PERMISSION_DENIED, "the task is not in the catalogue"),
    R.TASK_NOT_FOR_CALLER: (_S.PERMISSION_DENIED, "this caller may not use this task here"),
    R.KEY_NOT_ALLOWED_FOR_TASK: (_S.PERMISSION_DENIED, "the task does not allow this search key"),
    R.ITEM_NOT_ALLOWED_FOR_TASK: (
        _S.PERMISSION_DENIED,
        "the task does not allow an item asked for",
    ),
    R.MY_NUMBER_NOT_ALLOWED_FOR_TASK: (
        _S.PERMISSION_DENIED,
        "the task may not receive the My Number",
    ),
    R.ORGAN_PROOF_MISSING: (
        _S.PERMISSION_DENIED,
        "a My Number is given only for a query the organ signed",
    ),
    R.ORGAN_PROOF_INVALID: (
        _S.PERMISSION_DENIED,
        "the organ's signed query does not verify with a valid certificate of the organ",
    ),
    R.ORGAN_PROOF_STALE: (_S.PERMISSION_DENIED, "the organ signed its query too long ago"),
    R.ORGAN_PROOF_MISMATCH: (
        _S.PERMISSION_DENIED,
        "the organ's signed query is not this request",
    ),
    R.LINK_RATE_EXCEEDED: (
        _S.RESOURCE_EXHAUSTED,
        "this organ received as many My Numbers for this task this hour as the link gives",
    ),
    R.ENVELOPE_SENDER_NOT_PEER: (
        _S.PERMISSION_DENIED,
        "the envelope's sender is not the connected peer",
    ),
    R.ENVELOPE_WRONG_RECIPIENT: (_S.PERMISSION_DENIED, "the envelope is addressed to another node"),
    R.ENVELOPE_WRONG_METHOD: (_S.PERMISSION_DENIED, "the envelope was sealed for another method"),
    R.CSR_IDENTITY_MISMATCH: (
        _S.PERMISSION_DENIED,
        "the request names another identity than the calling certificate's",
    ),
    R.UNKNOWN_PERSON: (_S.FAILED_PRECONDITION, "no record of this person on this node"),
    R.BIRTH_FOR_EXISTING_CODE: (
        _S.FAILED_PRECONDITION,
        "a birth must name a new resident record code",
    ),
    R.STALE_SEQUENCE: (_S.FAILED_PRECONDITION, "a later change of this person is already applied"),
    R.SEQUENCE_TOO_FAR_AHEAD: (
        _S.FAILED_PRECONDITION,
        "a re-sent version may not be that far ahead of this node's version of the person",
    ),
    R.REMOVAL_OF_REMOVED_PERSON: (_S.FAILED_PRECONDITION, "the person is already removed"),
    R.CHANGE_FOR_REMOVED_PERSON: (
        _S.FAILED_PRECONDITION,
        "the person is removed; only a move-in or entry applies",
    ),
    R.MOVE_IN_FOR_CURRENT_RESIDENT: (_S.FAILED_PRECONDITION, "the person is a current resident"),
    R.ENTRY_FOR_CURRENT_RESIDENT: (_S.FAILED_PRECONDITION, "the person is a current resident"),
    R.NOT_RESIDENT_HERE: (
        _S.FAILED_PRECONDITION,
        "the person is a resident of another municipality",
    ),
    R.TAKE_IN_NOT_ALLOWED: (
        _S.FAILED_PRECONDITION,
        "the person was not removed in a way that lets this municipality take them in",
    ),
    R.MOVE_WITHIN_CHANGES_MORE_THAN_ADDRESS: (
        _S.FAILED_PRECONDITION,
        "a move within the municipality may change only the address",
    ),
    R.NAME_CHANGE_CHANGES_MORE_THAN_NAME: (
        _S.FAILED_PRECONDITION,
        "a name change may change only the name",
    ),
    R.MY_NUMBER_CHANGE_CHANGES_MORE: (
        _S.FAILED_PRECONDITION,
        "a My Number change may change only the My Number",
    ),
    R.CODE_CHANGE_CHANGES_MORE: (_S.FAILED_PRECONDITION, "a code change may change only the code"),
    R.REMOVAL_CHANGES_THE_RECORD: (
        _S.FAILED_PRECONDITION,
        "a removal records the person as they were",
    ),
    R.CORRECTION_CHANGES_THE_CODE: (_S.FAILED_PRECONDITION, "a correction may not change the code"),
    R.CODE_ALREADY_IN_USE: (_S.FAILED_PRECONDITION, "the new resident record code is in use"),
    R.MY_NUMBER_IN_USE: (_S.FAILED_PRECONDITION, "the My Number belongs to another person"),
    R.ENTRY_FOR_PERSON_ON_FILE: (_S.FAILED_PRECONDITION, "the person is already on the fuhyo file"),
    R.PERSON_NOT_ON_FILE: (_S.FAILED_PRECONDITION, "the person is not on the fuhyo file"),
    R.KEPT_BY_ANOTHER_MUNICIPALITY: (
        _S.FAILED_PRECONDITION,
        "another municipality keeps this fuhyo",
    ),
    R.ALREADY_EMIGRATED: (_S.FAILED_PRECONDITION, "the person has already emigrated"),
    R.EMIGRATION_CHANGES_MORE_THAN_ADDRESS: (
        _S.FAILED_PRECONDITION,
        "an emigration may change only the address",
    ),
    R.NOT_EMIGRATED: (_S.FAILED_PRECONDITION, "only an emigrant can return from abroad"),
    R.STATUS_CHANGE_NOT_ALLOWED: (_S.FAILED_PRECONDITION, "a correction may not change the status"),
    R.WRONG_MUNICIPALITY: (
        _S.FAILED_PRECONDITION,
        "the change's municipality is not the one this CS serves",
    ),
    R.BULK_APPROVAL_REQUIRED: (
        _S.FAILED_PRECONDITION,
        "this many rows need an unused approval for this caller and task",
    ),
    R.BULK_ROWS_EXCEEDED: (_S.FAILED_PRECONDITION, "more rows arrived than the header declared"),
    R.PERSON_NOT_EMIGRANT: (
        _S.FAILED_PRECONDITION,
        "the person's record does not show an emigration",
    ),
    R.SEVERAL_MATCHES: (
        _S.FAILED_PRECONDITION,
        "the query matches several persons: a My Number is given for one identified person only",
    ),
    R.NOT_OF_THIS_PREFECTURE: (
        _S.FAILED_PRECONDITION,
        "the person is not of this prefecture: the narrow link is to this prefecture's server",
    ),
    R.OUTBOX_BEHIND: (
        _S.UNAVAILABLE,
        "this node's outbox has not caught up: the comparison would take changes on their way "
        "for differences; it runs again",
    ),
    R.NO_LINK: (_S.FAILED_PRECONDITION, "this node has no narrow link"),
    R.ENVELOPE_UNKNOWN_KEY: (_S.FAILED_PRECONDITION, "the envelope names an unknown key"),
    R.ENVELOPE_OUTSIDE_TIME_WINDOW: (
        _S.FAILED_PRECONDITION,
        "the envelope was sealed outside the accepted time window",
    ),
    R.IDENTITY_NOT_APPROVED: (
        _S.FAILED_PRECONDITION,
        "the CA operator has not approved this identity; ask for a first certificate",
    ),
    R.CHECKPOINT_MALFORMED: (
        _S.INVALID_ARGUMENT,
        "the checkpoint is malformed or not signed by the caller's log key",
    ),
    R.CHECKPOINT_SIZE_MISMATCH: (
        _S.FAILED_PRECONDITION,
        "the proof starts from another size than the last checkpoint this witness cosigned",
    ),
    R.COSIGNATURE_INVALID: (
        _S.FAILED_PRECONDITION,
        "the witness's answer is not a valid cosignature by its published key",
    ),
    R.LOG_NOT_EXTENDED: (
        _S.FAILED_PRECONDITION,
        "the checkpoint does not extend the last one this witness cosigned: the log was rewritten",
    ),
    R.LOG_FORKED: (
        _S.FAILED_PRECONDITION,
        "another witness of this log holds a checkpoint its node cannot reconcile with this one: "
        "the node showed two histories, and this witness cosigns no more of it",
    ),
    R.SAME_ADMINISTRATOR: (
        _S.FAILED_PRECONDITION,
        "a grant is approved by another administrator than the one who granted it",
    ),
    R.GRANTEE_APPROVES: (
        _S.FAILED_PRECONDITION,
        "a grant is approved by another administrator than the one it gives rights to",
    ),
    R.APPROVER_RAN_THE_CHECK: (
        _S.FAILED_PRECONDITION,
        "a check's repairs are approved by another operator than the one who ran it",
    ),
    R.GRANT_NOT_PENDING: (_S.FAILED_PRECONDITION, "the grant is not waiting for approval"),
    R.UNKNOWN_GRANT: (_S.NOT_FOUND, "no such grant here"),
    R.UNKNOWN_CHANGE: (_S.NOT_FOUND, "no such change here"),
    R.UNKNOWN_RUN: (_S.NOT_FOUND, "no such consistency run here"),
    R.PERSON_NOT_FOUND: (_S.NOT_FOUND, "no such person on file"),
    R.ENVELOPE_REPLAYED: (_S.ALREADY_EXISTS, "this envelope was already received"),
    R.REVOCATION_LIST_UNAVAILABLE: (_S.UNAVAILABLE, "the revocation list cannot be read"),
    R.REVOCATION_LIST_STALE: (_S.UNAVAILABLE, "the revocation list is out of date"),
    R.NEXT_HOP_UNAVAILABLE: (_S.UNAVAILABLE, "the next hop did not answer"),
    R.NATIONAL_UNAVAILABLE: (
        _S.UNAVAILABLE,
        "the national server did not answer the forwarded query",
    ),
    R.LINK_UNAVAILABLE: (_S.UNAVAILABLE, "the prefecture server did not give the My Number"),
    R.TRUST_MATERIAL_UNAVAILABLE: (_S.UNAVAILABLE, "this node holds no trust material to give yet"),
    R.AT_REST_MALFORMED: (_S.DATA_LOSS, "stored data is not in the at-rest layout"),
    R.AT_REST_KEY_RETIRED: (_S.DATA_LOSS, "the key this data was sealed under is retired"),
    R.AT_REST_TAMPERED: (_S.DATA_LOSS, "stored data does not authenticate"),
    R.PEER_REFUSED: (_S.UNKNOWN, "another node refused for a reason not known here"),
}
del R
assert set(_REFUSALS) == set(Reason), "every reason needs its status code"


def status_code_of(reason: Reason) -> grpc.StatusCode:
    """The one gRPC status code a refusal for `reason` carries."""
    return _REFUSALS[reason][0]


def default_message_of(reason: Reason) -> str:
    """The message a refusal for `reason` is sent with unless it names more."""
    return _REFUSALS[reason][1]


class JukiError(Exception):
    """Root of every error juki-net raises on purpose."""


class RefusedError(JukiError):
    """A request refused for a stated reason; maps to one gRPC status.

    `message` refines the reason's default message; `metadata` may name a
    field or a rule, never a value from a record. `code` is given only for a
    refusal passed on from another node (`passed_on`), which keeps that
    node's status.
    """

    def __init__(
        self,
        reason: Reason,
        message: str | None = None,
        *,
        code: grpc.StatusCode | None = None,
        **metadata: str,
    ) -> None:
        default_code, default_message = _REFUSALS[reason]
        self.reason = reason
        self.code = code or default_code
        self.message = message or default_message
        self.metadata = metadata
        super().__init__(self.message)


def invalid_field(field: str, problem: str) -> RefusedError:
    """INVALID_ARGUMENT naming the malformed field (not its value)."""
    return RefusedError(Reason.INVALID_FIELD, f"{field}: {problem}", field=field)


def to_status(error: RefusedError) -> grpc.Status:
    """The gRPC status (with ErrorInfo detail) for a refusal."""
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    proto = status_pb2.Status(
        code=getattr(code_pb2, error.code.name),
        message=error.message,
        details=[detail],
    )
    status: grpc.Status = rpc_status.to_status(proto)
    return status


def abort(context: grpc.ServicerContext, error: RefusedError) -> NoReturn:
    """End the RPC with the refusal's status; never returns."""
    context.abort_with_status(to_status(error))
    raise AssertionError("abort_with_status returned")  # pragma: no cover


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo detail of a failed call, if the server sent one."""
    status = rpc_status.from_call(error)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


def status_line(error: grpc.RpcError) -> str:
    """'CODE [REASON]' of a failed call (the reason from its ErrorInfo, if any)."""
    info = error_info(error)
    code = error.code().name if isinstance(error, grpc.Call) else "UNKNOWN"
    return f"{code} [{info.reason}]" if info else code


def passed_on(error: grpc.RpcError, *, unavailable: Reason) -> RefusedError:
    """A node-to-node call's failure as this node's refusal.

    The other node's status and reason are kept when it refused; a call that
    got no refusal back (down, timed out) becomes `unavailable`.
    """
    info = error_info(error)
    if info is None or not isinstance(error, grpc.Call):
        return RefusedError(unavailable)
    return RefusedError(Reason.known(info.reason), code=error.code())
