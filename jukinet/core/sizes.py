"""How long each kind of stored text may be: one home for the table columns and the checks.

The schema (storage/schema.py) sizes its columns from these; a value that
does not fit is refused with INVALID_FIELD (`check_fits`) before anything is
written, never truncated and never left for the database to reject (a
PostgreSQL DataError once came from a slice at a call site). Where a refusal
must itself be recorded with a field that did not fit, the record keeps ""
for it (`kept`), never a part of the value.
"""

from __future__ import annotations

from jukinet.core.errors import invalid_field

JUMINHYO_CODE = 11
MY_NUMBER = 12
MUNICIPALITY_CODE = 6
DATE = 10  # YYYY-MM-DD
UUID = 36  # change, request, message and approval ids
NAME = 100  # a name in kanji or kana
FORMER_SURNAME = 50
ADDRESS = 200
OAZA_CODE = 12
OPAQUE_ID = 32  # operator (clerk) and terminal ids
GAIJI_PATTERN = 64
SPIFFE_ID = 255
TASK_ID = 64
REASON = 64
SHA256_HEX = 64
TRACE_CONTEXT = 255
METHOD = 255
AUDIT_OUTCOME = 32
PROVISION_OUTCOME = 16
KEY_KIND = 20
ITEMS = 200  # comma-separated item names
HOP = 16  # an outbox destination
LOG_NAME = 16  # a Merkle log of a node ("provision", "audit")
LOG_ORIGIN = 255  # a checkpoint's origin line


def fits(value: str, size: int) -> bool:
    """True if `value` fits a column of `size` characters."""
    return len(value) <= size


def check_fits(field: str, value: str, size: int) -> None:
    """INVALID_FIELD naming `field` if `value` is longer than `size`."""
    if not fits(value, size):
        raise invalid_field(field, f"must be at most {size} characters")


def kept(value: str, size: int) -> str:
    """`value` if it fits, else "": what a log keeps of a field that was refused for its size."""
    return value if fits(value, size) else ""
