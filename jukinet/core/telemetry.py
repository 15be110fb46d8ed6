"""OpenTelemetry tracing for a node process, configured the OpenTelemetry way.

Exporters, chosen by the standard ``OTEL_TRACES_EXPORTER`` variable
(comma-separated): ``otlp`` (OTLP/gRPC; endpoint, headers and TLS from the
standard ``OTEL_EXPORTER_OTLP_*`` variables), ``console`` (stdout), ``none``.
Unlike the SDK's default we treat an unset variable as ``none``, so a node
never blocks on a collector nobody runs. A node's ``trace_file`` adds a
JSON-lines file of finished spans (what ``juki-net up`` uses locally).
``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` are honoured by the SDK.

Context crosses gRPC hops in metadata (W3C ``traceparent``) through the
opentelemetry-instrumentation-grpc interceptors, and crosses an outbox as the
``traceparent`` stored with each entry.

Spans carry method names, status codes and counts only; no attribute is ever
set from a record.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import IO, Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.grpc import client_interceptor, server_interceptor
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.util import ns_to_iso_str

EXPORTER_ENV = "OTEL_TRACES_EXPORTER"
SPAN_FILE_DELAY_MS = 200
SPAN_FILE_QUEUE = 65_536
SPAN_FILE_BATCH = 4_096


@functools.lru_cache(maxsize=4)
def _resource_of(resource: Resource) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(resource.to_json())
    return loaded


def _attributes(attributes: Any) -> dict[str, Any] | None:
    return None if attributes is None else dict(attributes)


def _context(context: trace.SpanContext) -> dict[str, str]:
    return {
        "trace_id": f"0x{trace.format_trace_id(context.trace_id)}",
        "span_id": f"0x{trace.format_span_id(context.span_id)}",
        "trace_state": repr(context.trace_state),
    }


def _json_line(span: ReadableSpan) -> str:
    """One span as the SDK's `ReadableSpan.to_json` writes it (same keys and values), on one
    line, with the process's resource turned into JSON once instead of per span (#18: that was
    two thirds of the cost of writing a span)."""
    context, parent = span.context, span.parent
    line = {
        "name": span.name,
        "context": _context(context) if context else None,
        "kind": str(span.kind),
        "parent_id": f"0x{trace.format_span_id(parent.span_id)}" if parent else None,
        "start_time": ns_to_iso_str(span.start_time) if span.start_time else None,
        "end_time": ns_to_iso_str(span.end_time) if span.end_time else None,
        "status": {"status_code": span.status.status_code.name}
        | ({"description": span.status.description} if span.status.description else {}),
        "attributes": _attributes(span.attributes),
        "events": [
            {
                "name": e.name,
                "timestamp": ns_to_iso_str(e.timestamp),
                "attributes": _attributes(e.attributes),
            }
            for e in span.events
        ],
        "links": [
            {
                "context": _context(link.context),
                "attributes": _attributes(link.attributes),
            }
            for link in span.links
        ],
        "resource": _resource_of(span.resource),
    }
    return json.dumps(line) + "\n"


def setup_tracing(service_name: str, trace_file: Path | None) -> TracerProvider:
    """Build this process's tracer provider from OTEL_* and the optional trace file."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    if trace_file is not None:
        trace_file.parent.mkdir(parents=True, exist_ok=True)
        stream: IO[str] = trace_file.open("a", encoding="utf-8")
        # Written by the batch processor's own thread, never on the request path (#18: the
        # synchronous write was ~3 % of a query's time); flushed every SPAN_FILE_DELAY_MS and
        # when the node stops (TracerProvider.shutdown).
        provider.add_span_processor(
            BatchSpanProcessor(
                ConsoleSpanExporter(out=stream, formatter=_json_line),
                schedule_delay_millis=SPAN_FILE_DELAY_MS,
                # The SDK's default queue (2,048) dropped spans in bursts (a consistency run);
                # the file must hold every hop, so the queue is deep and batches are large.
                max_queue_size=SPAN_FILE_QUEUE,
                max_export_batch_size=SPAN_FILE_BATCH,
            )
        )
    for name in (n.strip() for n in os.environ.get(EXPORTER_ENV, "none").split(",")):
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter,
            )

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    return provider


def grpc_server_interceptor(provider: TracerProvider) -> object:
    """Server spans for every RPC, continuing the caller's trace from metadata."""
    # opentelemetry-instrumentation-grpc ships no type hints.
    return server_interceptor(tracer_provider=provider)  # type: ignore[no-untyped-call]


def traced_channel(channel: grpc.Channel, provider: TracerProvider) -> grpc.Channel:
    """`channel` with client spans for every RPC, injecting the context into metadata."""
    interceptor = client_interceptor(tracer_provider=provider)  # type: ignore[no-untyped-call]
    traced: grpc.Channel = intercept_channel(channel, interceptor)  # type: ignore[no-untyped-call]
    return traced


def current_traceparent() -> str:
    """The active span's W3C traceparent ('' outside any span), to store with outbox rows."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return str(carrier.get("traceparent", ""))


def context_from_traceparent(traceparent: str) -> otel_context.Context:
    """A context whose parent is the span a stored traceparent names."""
    return propagate.extract({"traceparent": traceparent} if traceparent else {})


def span_context_of(traceparent: str) -> trace.SpanContext:
    """The span context a stored traceparent names (invalid if empty)."""
    return trace.get_current_span(context_from_traceparent(traceparent)).get_span_context()
