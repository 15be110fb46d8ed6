"""Pages of a list that can grow (AIP-158): a page size within bounds, and an opaque token that
carries where the last page ended (a keyset, not an offset: rows added meanwhile shift nothing).

A token is a client's bytes like any other: one that this list did not give answers
INVALID_ARGUMENT (INVALID_FIELD page_token), never another error.
"""

from __future__ import annotations

import base64
import binascii
import json

from jukinet.core.errors import RefusedError, invalid_field

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
# A token longer than this was not made here (ours hold a time and an id).
MAX_TOKEN = 512


def page_size(requested: int) -> int:
    """The page size to answer with: `requested`, 0 for the default; INVALID_FIELD outside."""
    if not 0 <= requested <= MAX_PAGE_SIZE:
        raise invalid_field("page_size", f"must be 0..{MAX_PAGE_SIZE} (0: {DEFAULT_PAGE_SIZE})")
    return requested or DEFAULT_PAGE_SIZE


def token(*parts: str) -> str:
    """The opaque token of a page ending at the row whose keys are `parts`."""
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode()


def bad_token() -> RefusedError:
    """The refusal of a page token this list did not give (also for keys a list cannot read)."""
    return invalid_field("page_token", "not a token this list gave")


def parts_of(page_token: str, count: int) -> tuple[str, ...]:
    """The keys a `token` of `count` parts carries; INVALID_FIELD if it is not one."""
    refused = bad_token()
    if len(page_token) > MAX_TOKEN:
        raise refused
    try:
        parts = json.loads(base64.urlsafe_b64decode(page_token.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise refused from None
    if not (
        isinstance(parts, list) and len(parts) == count and all(isinstance(p, str) for p in parts)
    ):
        raise refused
    return tuple(parts)
