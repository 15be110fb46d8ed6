"""The last word on what no handler expected: bytes that are not the request message, and an
error no handler raised on purpose.

Left to gRPC, undeserialisable bytes answer INTERNAL "Exception deserializing request!", and
an unexpected error reaches the caller as "Exception calling application: <the exception's
text>" (or "Exception iterating responses: …" from a streaming handler), which the tracing
interceptor writes on the span; a database driver's text can quote the row it failed on
(PostgreSQL: "Key (…)=(…) already exists"). Installed innermost, this interceptor takes the
request as bytes and parses it itself — bytes that are not the message answer
INVALID_ARGUMENT — and ends a call of any of the four handler kinds that failed unexpectedly
with INTERNAL and a fixed message, logging the exception as logs.exception_without_values
writes it. Refusals and calls a handler already aborted pass through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from jukinet.core.errors import JukiError

log = logging.getLogger(__name__)

MESSAGE = "internal error; the node's log has the details"
NOT_THE_MESSAGE = "the request bytes are not the method's request message"


def _parser(handler: grpc.RpcMethodHandler[Any, Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
    """The request parsed as the method's message; INVALID_ARGUMENT if it is not one."""
    deserialize = handler.request_deserializer

    def parse(raw: Any, context: grpc.ServicerContext) -> Any:
        if deserialize is None:
            return raw
        try:
            return deserialize(raw)
        except Exception:  # DecodeError, or whatever a deserializer raises: the bytes are bad
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, NOT_THE_MESSAGE)

    return parse


def _unexpected(error: Exception, method: str, context: grpc.ServicerContext) -> None:
    """Re-raise a refusal or an abort; end anything else with INTERNAL, logged."""
    if isinstance(error, JukiError) or type(error) is Exception:
        raise error  # a refusal (the authorisation interceptor maps it) or gRPC's abort()
    log.error("unexpected %s in %s", type(error).__name__, method, exc_info=error)
    context.abort(grpc.StatusCode.INTERNAL, MESSAGE)


# Each handler kind: its attribute, its factory, whether requests and responses stream.
_KINDS: tuple[tuple[str, Callable[..., grpc.RpcMethodHandler[Any, Any]], bool, bool], ...] = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler, False, False),
    ("unary_stream", grpc.unary_stream_rpc_method_handler, False, True),
    ("stream_unary", grpc.stream_unary_rpc_method_handler, True, False),
    ("stream_stream", grpc.stream_stream_rpc_method_handler, True, True),
)


class UnexpectedErrors(grpc.ServerInterceptor):
    """Every handler kind: bad request bytes INVALID_ARGUMENT, unexpected errors INTERNAL."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method, parse = handler_call_details.method, _parser(handler)

        def each(raw: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
            return (parse(item, context) for item in raw)

        for attribute, factory, streamed_in, streamed_out in _KINDS:
            behavior = getattr(handler, attribute)
            if behavior is not None:
                take = each if streamed_in else parse
                guarded = _guard(method, behavior, take, streamed_out=streamed_out)
                return factory(guarded, response_serializer=handler.response_serializer)
        return handler  # pragma: no cover - gRPC always sets one behaviour


def _guard(
    method: str,
    behavior: Callable[..., Any],
    take: Callable[[Any, grpc.ServicerContext], Any],
    *,
    streamed_out: bool,
) -> Callable[[Any, grpc.ServicerContext], Any]:
    """`behavior` given its request as `take` reads it, its unexpected errors made INTERNAL."""

    def answer(raw: Any, context: grpc.ServicerContext) -> Any:
        try:
            return behavior(take(raw, context), context)
        except Exception as error:
            _unexpected(error, method, context)

    def answers(raw: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from behavior(take(raw, context), context)
        except Exception as error:
            _unexpected(error, method, context)

    return answers if streamed_out else answer
