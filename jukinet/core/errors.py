"""One root exception and the AIP-193 error mapping every RPC uses.

A refusal is raised as a `RefusedError` carrying a gRPC status code and a
stable UPPER_SNAKE reason; `abort()` turns it into a gRPC status with one
google.rpc.ErrorInfo so clients branch on the reason, never on the text.
Messages name the problem (a field, a rule) and never contain record data.
"""

from __future__ import annotations

from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "juki-net"


class JukiError(Exception):
    """Root of every error juki-net raises on purpose."""


class RefusedError(JukiError):
    """A request refused for a stated reason; maps to one gRPC status.

    `reason` is the stable code clients branch on; `metadata` may name a
    field or a rule, never a value from a record.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        reason: str,
        message: str,
        **metadata: str,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.metadata = metadata


def invalid_field(field: str, problem: str) -> RefusedError:
    """INVALID_ARGUMENT naming the malformed field (not its value)."""
    return RefusedError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_FIELD",
        f"{field}: {problem}",
        field=field,
    )


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


def passed_on(error: grpc.RpcError, *, unavailable: str, message: str) -> RefusedError:
    """A node-to-node call's failure as this node's refusal.

    The other node's status and reason are kept when it refused; a call that
    got no refusal back (down, timed out) becomes UNAVAILABLE with the reason
    `unavailable`.
    """
    info = error_info(error)
    if info is None or not isinstance(error, grpc.Call):
        return RefusedError(grpc.StatusCode.UNAVAILABLE, unavailable, message)
    return RefusedError(error.code(), info.reason, message)
