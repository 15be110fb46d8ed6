"""The last word on an error no handler expected: INTERNAL, a message without data, the trace
in the node's log.

Left to gRPC, such an error reaches the caller as "Exception calling application: <the
exception's text>", and the tracing interceptor writes that text on the span; a database
driver's text can quote the row it failed on (PostgreSQL: "Key (…)=(…) already exists").
Installed innermost, this interceptor ends the call with INTERNAL and a fixed message, and
logs the exception as logs.exception_without_values writes it. Refusals and calls a handler
already aborted pass through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc

from jukinet.core.errors import JukiError

log = logging.getLogger(__name__)

MESSAGE = "internal error; the node's log has the details"


class UnexpectedErrors(grpc.ServerInterceptor):
    """Unary handlers' unexpected exceptions become INTERNAL with `MESSAGE`."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler  # streaming handlers are left as they are
        behavior = handler.unary_unary
        method = handler_call_details.method

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return behavior(request, context)
            except JukiError:
                raise  # a refusal: the authorisation interceptor turns it into its status
            except Exception as error:
                if type(error) is Exception:  # gRPC's abort(): the call has its status already
                    raise
                log.error("unexpected %s in %s", type(error).__name__, method, exc_info=error)
                context.abort(grpc.StatusCode.INTERNAL, MESSAGE)

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
