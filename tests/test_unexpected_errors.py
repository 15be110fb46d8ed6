"""An error no handler expected reaches neither the caller nor the log with its text.

A real gRPC server on loopback with the node's innermost interceptor; the handler fails the
way a database driver does, with the data it failed on in its message.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from jukinet.core import unexpected
from jukinet.core.errors import Reason, RefusedError
from jukinet.core.logs import JsonFormatter, TextFormatter, exception_without_values

SECRET = "Key (juminhyo_code)=(12345678901) already exists"
SERVICE = "test.Unexpected"


class DriverError(Exception):
    """Stands for a driver's error: its text quotes the row."""


def _fails(request: bytes, context: grpc.ServicerContext) -> bytes:
    try:
        raise DriverError(SECRET)
    except DriverError as error:
        raise RuntimeError(f"while storing: {error}") from error


def _aborts(request: bytes, context: grpc.ServicerContext) -> bytes:
    context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
    raise AssertionError("abort returned")


def _answers(request: bytes, context: grpc.ServicerContext) -> bytes:
    return b"ok:" + request


def _streams_then_fails(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield b"first"
    raise RuntimeError(SECRET)


def _reads_then_fails(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
    for _ in requests:
        pass
    raise RuntimeError(SECRET)


def _parsed(raw: bytes) -> bytes:
    """A deserializer that takes only b"x" (stands for a message's FromString)."""
    if raw != b"x":
        raise ValueError("not the message")
    return raw


@pytest.fixture
def channel() -> Iterator[grpc.Channel]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2), interceptors=[unexpected.UnexpectedErrors()]
    )
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(behavior, request_deserializer=_parsed)
        for name, behavior in (("Fails", _fails), ("Aborts", _aborts), ("Answers", _answers))
    }
    handlers["Streams"] = grpc.unary_stream_rpc_method_handler(_streams_then_fails)
    handlers["Reads"] = grpc.stream_unary_rpc_method_handler(
        _reads_then_fails, request_deserializer=_parsed
    )
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as opened:
        yield opened
    server.stop(None)


def _call(channel: grpc.Channel, name: str) -> bytes:
    return channel.unary_unary(f"/{SERVICE}/{name}")(b"x", timeout=10)  # type: ignore[no-any-return]


def test_the_caller_gets_internal_without_the_text(
    channel: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger=unexpected.__name__),
        pytest.raises(grpc.RpcError) as raised,
    ):
        _call(channel, "Fails")
    assert raised.value.code() is grpc.StatusCode.INTERNAL
    assert raised.value.details() == unexpected.MESSAGE
    [record] = [r for r in caplog.records if r.name == unexpected.__name__]
    for formatter in (TextFormatter(), JsonFormatter("prefecture-14")):
        line = formatter.format(record)
        assert SECRET not in line and "12345678901" not in line
        assert "RuntimeError" in line and "DriverError" in line  # the chain, by type
        assert "_fails" in line  # and the frames


def test_aborts_and_answers_pass_through(channel: grpc.Channel) -> None:
    assert _call(channel, "Answers") == b"ok:x"
    with pytest.raises(grpc.RpcError) as raised:
        _call(channel, "Aborts")
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    assert raised.value.details() == "no such thing"


def test_a_streaming_handler_ends_internal_without_the_text(channel: grpc.Channel) -> None:
    replies = channel.unary_stream(f"/{SERVICE}/Streams")(b"x", timeout=10)
    with pytest.raises(grpc.RpcError) as raised:
        list(replies)
    assert raised.value.code() is grpc.StatusCode.INTERNAL
    assert raised.value.details() == unexpected.MESSAGE
    with pytest.raises(grpc.RpcError) as raised:
        channel.stream_unary(f"/{SERVICE}/Reads")(iter([b"x", b"x"]), timeout=10)
    assert (raised.value.code(), raised.value.details()) == (
        grpc.StatusCode.INTERNAL,
        unexpected.MESSAGE,
    )


def test_bytes_that_are_not_the_message_are_invalid_argument(channel: grpc.Channel) -> None:
    for call in (
        lambda: channel.unary_unary(f"/{SERVICE}/Answers")(b"garbage", timeout=10),
        lambda: channel.stream_unary(f"/{SERVICE}/Reads")(iter([b"x", b"garbage"]), timeout=10),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            call()
        assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert raised.value.details() == unexpected.NOT_THE_MESSAGE


def test_our_own_errors_keep_their_message_in_the_log() -> None:
    try:
        raise RefusedError(Reason.INVALID_FIELD, "birth_date: not a date")
    except RefusedError as error:
        written = exception_without_values(error)
    assert "birth_date: not a date" in written
    handler_output = io.StringIO()
    handler = logging.StreamHandler(handler_output)
    handler.setFormatter(TextFormatter())
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, None)
    try:
        raise ValueError(SECRET)
    except ValueError:
        record.exc_info = sys.exc_info()
        record.exc_text = f"an earlier formatter's text: {SECRET}"
    handler.emit(record)
    assert SECRET not in handler_output.getvalue()
    assert "ValueError (message withheld" in handler_output.getvalue()
