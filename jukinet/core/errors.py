"""One root exception, the stable refusal reasons, and the AIP-193 error mapping every RPC uses.

A refusal is raised as a `RefusedError` carrying a `Reason`: a stable
UPPER_SNAKE code clients branch on. Each reason has exactly one gRPC status
code and a default message, in one table (`_REFUSALS`), so a reason never
means two things. `abort()` turns a refusal into a gRPC status with one
google.rpc.ErrorInfo. Messages name the problem (a field, a rule) and never
contain record data.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "juki-net"


class Reason(enum.StrEnum):
    """Every reason a juki-net node refuses with (ErrorInfo.reason); the value is the name."""

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[str]) -> str:
        return name

    # A request that is malformed whoever sends it.
    INVALID_FIELD = enum.auto()
    QUERY_TOO_BROAD = enum.auto()
    KEY_MISSING = enum.auto()
    BAD_BATCH_SIZE = enum.auto()
    BULK_HEADER_MISSING = enum.auto()
    BULK_ROW_MISMATCH = enum.auto()
    ENVELOPE_MALFORMED = enum.auto()
    ENVELOPE_TAMPERED = enum.auto()
    # Who is calling.
    NO_NETWORK_IDENTITY = enum.auto()
    CERTIFICATE_REVOKED = enum.auto()
    # What the caller may do.
    CALLER_NOT_ADMITTED = enum.auto()
    ORIGIN_MISMATCH = enum.auto()
    ORGAN_NOT_OF_CALLER = enum.auto()
    TASK_UNKNOWN = enum.auto()
    TASK_NOT_FOR_CALLER = enum.auto()
    KEY_NOT_ALLOWED_FOR_TASK = enum.auto()
    ITEM_NOT_ALLOWED_FOR_TASK = enum.auto()
    MY_NUMBER_NOT_ALLOWED_FOR_TASK = enum.auto()
    ENVELOPE_SENDER_NOT_PEER = enum.auto()
    ENVELOPE_WRONG_RECIPIENT = enum.auto()
    ENVELOPE_WRONG_METHOD = enum.auto()
    CSR_IDENTITY_MISMATCH = enum.auto()
    COMPARISON_NOT_ALLOWED = enum.auto()
    CHECKPOINT_NOT_OF_CALLER = enum.auto()
    NOT_AN_ADMINISTRATOR = enum.auto()
    NO_ACCESS_GRANT = enum.auto()
    # A resident change that contradicts the stored records (records.lifecycle).
    UNKNOWN_PERSON = enum.auto()
    BIRTH_FOR_EXISTING_CODE = enum.auto()
    STALE_SEQUENCE = enum.auto()
    REMOVAL_OF_REMOVED_PERSON = enum.auto()
    CHANGE_FOR_REMOVED_PERSON = enum.auto()
    MOVE_IN_FOR_CURRENT_RESIDENT = enum.auto()
    ENTRY_FOR_CURRENT_RESIDENT = enum.auto()
    NOT_RESIDENT_HERE = enum.auto()
    MOVE_WITHIN_CHANGES_MORE_THAN_ADDRESS = enum.auto()
    NAME_CHANGE_CHANGES_MORE_THAN_NAME = enum.auto()
    MY_NUMBER_CHANGE_CHANGES_MORE = enum.auto()
    CODE_CHANGE_CHANGES_MORE = enum.auto()
    REMOVAL_CHANGES_THE_RECORD = enum.auto()
    CORRECTION_CHANGES_THE_CODE = enum.auto()
    CODE_ALREADY_IN_USE = enum.auto()
    MY_NUMBER_IN_USE = enum.auto()
    # A fuhyo change that contradicts the fuhyo file (records.fuhyo).
    ENTRY_FOR_PERSON_ON_FILE = enum.auto()
    PERSON_NOT_ON_FILE = enum.auto()
    KEPT_BY_ANOTHER_MUNICIPALITY = enum.auto()
    ALREADY_EMIGRATED = enum.auto()
    EMIGRATION_CHANGES_MORE_THAN_ADDRESS = enum.auto()
    NOT_EMIGRATED = enum.auto()
    STATUS_CHANGE_NOT_ALLOWED = enum.auto()
    # Other state a request does not fit.
    WRONG_MUNICIPALITY = enum.auto()
    BULK_APPROVAL_REQUIRED = enum.auto()
    BULK_ROWS_EXCEEDED = enum.auto()
    PERSON_NOT_EMIGRANT = enum.auto()
    NO_LINK = enum.auto()
    ENVELOPE_UNKNOWN_KEY = enum.auto()
    ENVELOPE_OUTSIDE_TIME_WINDOW = enum.auto()
    IDENTITY_NOT_APPROVED = enum.auto()
    CHECKPOINT_MALFORMED = enum.auto()
    CHECKPOINT_SIZE_MISMATCH = enum.auto()
    LOG_NOT_EXTENDED = enum.auto()
    SAME_ADMINISTRATOR = enum.auto()
    GRANT_NOT_PENDING = enum.auto()
    # Not there.
    UNKNOWN_CHANGE = enum.auto()
    UNKNOWN_RUN = enum.auto()
    UNKNOWN_GRANT = enum.auto()
    PERSON_NOT_FOUND = enum.auto()
    ENVELOPE_REPLAYED = enum.auto()
    # Cannot be answered now; try again later.
    REVOCATION_LIST_UNAVAILABLE = enum.auto()
    REVOCATION_LIST_STALE = enum.auto()
    NEXT_HOP_UNAVAILABLE = enum.auto()
    NATIONAL_UNAVAILABLE = enum.auto()
    LINK_UNAVAILABLE = enum.auto()
    TRUST_MATERIAL_UNAVAILABLE = enum.auto()
    # Data this node kept and can no longer open.
    AT_REST_MALFORMED = enum.auto()
    AT_REST_KEY_RETIRED = enum.auto()
    AT_REST_TAMPERED = enum.auto()
    # Another node refused with a reason this version does not know.
    PEER_REFUSED = enum.auto()

    @classmethod
    def known(cls, text: str) -> Reason:
        """`text` as a Reason; PEER_REFUSED for a reason this version does not know."""
        try:
            return cls(text)
        except ValueError:
            return cls.PEER_REFUSED


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
    R.CHECKPOINT_NOT_OF_CALLER: (
        _S.PERMISSION_DENIED,
        "a node may only have its own logs' checkpoints witnessed",
    ),
    R.COMPARISON_NOT_ALLOWED: (
        _S.PERMISSION_DENIED,
        "the caller does not compare that municipality's file with this node",
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
    R.LOG_NOT_EXTENDED: (
        _S.FAILED_PRECONDITION,
        "the checkpoint does not extend the last one this witness cosigned: the log was rewritten",
    ),
    R.SAME_ADMINISTRATOR: (
        _S.FAILED_PRECONDITION,
        "a grant is approved by another administrator than the one who granted it",
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
