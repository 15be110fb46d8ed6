"""A node's log lines: plain text for people, or JSON lines for a log pipeline.

JSON lines (`log_format = "json"` or `juki-net serve --log-format json`)
carry the time (UTC, ISO 8601), level, node, logger, the event (the
message), the trace and span ids of the span the line was written in, and a
reason code where the line names one (`extra={"reason": ...}`). Messages
are written to hold methods, counts and reason codes only — never a record
— so JSON adds fields, not data (the PII tests read these files too).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from typing import Any

from opentelemetry import trace

from jukinet.core import held_logs
from jukinet.core.errors import JukiError
from jukinet.core.held_logs import TEXT_FORMAT

FORMATS = ("text", "json")


def exception_without_values(error: BaseException) -> str:
    """A traceback that names each exception of the chain by its type, with its frames, and
    gives the message of this project's own errors only (written never to hold record data).

    Another library's message can quote the data it failed on: PostgreSQL's "DETAIL: Key
    (juminhyo_code)=(…) already exists", a parser's offending value. Frames show code, not
    values.
    """
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    parts = []
    for link in reversed(chain):
        kind = type(link)
        name = f"{kind.__module__}.{kind.__qualname__}"
        own = isinstance(link, JukiError)
        parts.append(
            "Traceback (most recent call last):\n"
            + "".join(traceback.format_tb(link.__traceback__))
            + (f"{name}: {link}" if own else f"{name} (message withheld: it may quote data)")
        )
    return "\n\nwhich led to:\n\n".join(parts)


class _WithoutValues(logging.Formatter):
    """A formatter writing exceptions as `exception_without_values` does."""

    def formatException(self, ei: Any) -> str:
        return exception_without_values(ei[1])


class TextFormatter(_WithoutValues):
    """TEXT_FORMAT lines."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = None  # another formatter's rendering may hold the message
        return super().format(record)


class JsonFormatter(_WithoutValues):
    """One JSON object per line."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self._node = node

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "node": self._node,
            "logger": record.name,
            "event": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
            line["span_id"] = format(span.span_id, "016x")
        reason = getattr(record, "reason", None)
        if reason:
            line["reason"] = str(reason)
        category = getattr(record, "warning_category", None)
        if category:  # a Python warning (core/held_logs.py)
            line["category"] = category
            line["module"] = getattr(record, "warning_module", "")
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(node: str, log_format: str) -> None:
    """Write every log line of this process to stderr as `log_format` ("text" or "json"),
    from INFO up, the lines held until now first (core/held_logs.py)."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(node) if log_format == "json" else TextFormatter())
    logging.getLogger().setLevel(logging.INFO)
    held_logs.release(handler)
