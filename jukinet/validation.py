"""Checks a change must pass before any node stores it.

Every node (the CS first, then each server again) runs the same checks, so a
record is never trusted merely because the previous hop accepted it. A failed
check raises `errors.invalid_field`, which names the field and the rule,
never the value.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid

from juki.v1 import common_pb2
from jukinet.errors import invalid_field
from jukinet.identifiers import (
    is_known_municipality,
    is_valid_juminhyo_code,
    is_valid_my_number,
)

# Full-width katakana, the prolonged sound mark and spaces between names.
_KANA = re.compile(r"[\u30A1-\u30FA\u30FC\u3000 ]+")
MAX_NAME = 100
MAX_ADDRESS = 200


def check_change_id(change_id: str, field: str = "change_id") -> None:
    """A canonical lowercase UUID."""
    try:
        ok = str(uuid.UUID(change_id)) == change_id
    except ValueError:
        ok = False
    if not ok:
        raise invalid_field(field, "must be a lowercase UUID")


def _check_date(value: str, field: str, today: dt.date) -> dt.date:
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        raise invalid_field(field, "must be a date YYYY-MM-DD") from None
    if len(value) != 10:
        raise invalid_field(field, "must be a date YYYY-MM-DD")
    if parsed > today:
        raise invalid_field(field, "must not be in the future")
    return parsed


def _check_text(value: str, field: str, limit: int) -> None:
    if not value or len(value) > limit:
        raise invalid_field(field, f"must be 1..{limit} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in value):
        raise invalid_field(field, "must not contain control or unassigned characters")


def _check_municipality(value: str, field: str) -> None:
    if not is_known_municipality(value):
        raise invalid_field(field, "must be a municipality code of JIS X 0402")


def check_record(record: common_pb2.ResidentRecord, today: dt.date) -> dt.date:
    """Check every field of a resident record; returns the birth date."""
    if not is_valid_juminhyo_code(record.juminhyo_code):
        raise invalid_field("record.juminhyo_code", "must be 11 digits with a valid check digit")
    if not is_valid_my_number(record.my_number):
        raise invalid_field("record.my_number", "must be 12 digits with a valid check digit")
    _check_text(record.name_kanji, "record.name_kanji", MAX_NAME)
    _check_text(record.name_kana, "record.name_kana", MAX_NAME)
    if not _KANA.fullmatch(record.name_kana):
        raise invalid_field("record.name_kana", "must be full-width katakana")
    birth = _check_date(record.birth_date, "record.birth_date", today)
    if record.sex not in (common_pb2.SEX_MALE, common_pb2.SEX_FEMALE):
        raise invalid_field("record.sex", "must be SEX_MALE or SEX_FEMALE")
    if not record.HasField("address"):
        raise invalid_field("record.address", "is required")
    _check_municipality(record.address.municipality_code, "record.address.municipality_code")
    _check_text(record.address.text, "record.address.text", MAX_ADDRESS)
    return birth


def check_change(change: common_pb2.Change, today: dt.date) -> None:
    """Check a change's own fields and its record, before any lookup in the store."""
    check_change_id(change.change_id)
    if change.reason != common_pb2.CHANGE_REASON_BIRTH:
        raise invalid_field("reason", "is not a supported change reason")
    change_date = _check_date(change.change_date, "change_date", today)
    _check_municipality(change.municipality_code, "municipality_code")
    if not change.HasField("record"):
        raise invalid_field("record", "is required")
    birth = check_record(change.record, today)
    if change.reason == common_pb2.CHANGE_REASON_BIRTH:
        if change_date != birth:
            raise invalid_field("change_date", "must equal the birth date for a birth")
        if change.record.address.municipality_code != change.municipality_code:
            raise invalid_field(
                "record.address.municipality_code",
                "must be the entering municipality for a birth",
            )
