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

from juki.v1 import common_pb2, provision_service_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.core import sizes
from jukinet.core.errors import Reason, RefusedError, invalid_field
from jukinet.records.identifiers import (
    is_known_municipality,
    is_valid_juminhyo_code,
    is_valid_my_number,
)

# Full-width katakana, the prolonged sound mark and spaces between names.
_KANA = re.compile(r"[\u30A1-\u30FA\u30FC\u3000 ]+")
_OPAQUE_ID = re.compile(rf"[A-Za-z0-9._-]{{1,{sizes.OPAQUE_ID}}}")
_OAZA = re.compile(rf"[0-9]{{1,{sizes.OAZA_CODE}}}")
_GAIJI_PATTERN = re.compile(rf"[A-Za-z0-9]{{0,{sizes.GAIJI_PATTERN}}}")
MAX_NAME = sizes.NAME
MAX_ADDRESS = sizes.ADDRESS
MAX_FORMER_SURNAME = sizes.FORMER_SURNAME
# The enums' numbers, taken once (protobuf builds the list anew on every .values() call).
_CHANGE_REASONS = frozenset(common_pb2.ChangeReason.values())
_REPAIR_KINDS = frozenset(common_pb2.RepairKind.values())
_OPAQUE_RULE = f"must be 1..{sizes.OPAQUE_ID} letters, digits, '.', '_' or '-'"


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_uuid(value: str) -> bool:
    """True if `value` is a UUID in canonical form (lowercase hex with dashes): what
    `str(uuid.UUID(value)) == value` says, without building the UUID (#18: that was 8 % of a
    prefecture's batch)."""
    return _CANONICAL_UUID.fullmatch(value) is not None


def check_change_id(change_id: str, field: str = "change_id") -> None:
    """A canonical lowercase UUID."""
    if not is_uuid(change_id):
        raise invalid_field(field, "must be a lowercase UUID")


# The one form a date is written in (date.fromisoformat also takes 2020-W01-1, 20200101, …,
# which would be stored as written and then never match a 4-information search).
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _check_date(value: str, field: str, today: dt.date) -> dt.date:
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        raise invalid_field(field, "must be a date YYYY-MM-DD") from None
    if parsed > today:
        raise invalid_field(field, "must not be in the future")
    return parsed


# Control, format, surrogate, private-use and unassigned characters.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def _check_text(value: str, field: str, limit: int) -> None:
    if not value or len(value) > limit:
        raise invalid_field(field, f"must be 1..{limit} characters")
    # Fast path: printable text (ideographic spaces aside) holds none of the refused
    # categories; only other text is looked at character by character.
    if not value.replace("\u3000", " ").isprintable() and any(
        unicodedata.category(c) in _REFUSED_CATEGORIES for c in value
    ):
        raise invalid_field(field, "must not contain control or unassigned characters")


def check_municipality(value: str, field: str) -> None:
    """A municipality code of JIS X 0402 (a field check: it runs before any scope check)."""
    if not is_known_municipality(value):
        raise invalid_field(field, "must be a municipality code of JIS X 0402")


def _check_count(value: int, field: str, limit: int) -> None:
    if not 0 <= value <= limit:
        raise invalid_field(field, f"must be 0..{limit}")


def _check_kana(value: str, field: str, limit: int) -> None:
    _check_text(value, field, limit)
    if not _KANA.fullmatch(value):
        raise invalid_field(field, "must be full-width katakana")


def _check_code(code: str) -> None:
    """住民票コード of a record: 11 digits with a valid check digit."""
    if not is_valid_juminhyo_code(code):
        raise invalid_field("record.juminhyo_code", "must be 11 digits with a valid check digit")


def _check_person(
    record: common_pb2.ResidentRecord | fuhyo_pb.FuhyoRecord, today: dt.date
) -> dt.date:
    """Name, birth date and sex, as a resident record and a fuhyo record both hold them.

    Returns the birth date.
    """
    _check_text(record.name_kanji, "record.name_kanji", MAX_NAME)
    _check_kana(record.name_kana, "record.name_kana", MAX_NAME)
    _check_count(record.name_gaiji_count, "record.name_gaiji_count", len(record.name_kanji))
    birth = _check_date(record.birth_date, "record.birth_date", today)
    if record.sex not in (common_pb2.SEX_MALE, common_pb2.SEX_FEMALE):
        raise invalid_field("record.sex", "must be SEX_MALE or SEX_FEMALE")
    return birth


def check_record(record: common_pb2.ResidentRecord, today: dt.date) -> dt.date:
    """Check every field of a resident record; returns the birth date."""
    _check_code(record.juminhyo_code)
    if not is_valid_my_number(record.my_number):
        raise invalid_field("record.my_number", "must be 12 digits with a valid check digit")
    birth = _check_person(record, today)
    if not record.HasField("address"):
        raise invalid_field("record.address", "is required")
    check_municipality(record.address.municipality_code, "record.address.municipality_code")
    _check_text(record.address.text, "record.address.text", MAX_ADDRESS)
    _check_count(record.address_gaiji_count, "record.address_gaiji_count", len(record.address.text))
    if record.oaza_code and not _OAZA.fullmatch(record.oaza_code):
        raise invalid_field("record.oaza_code", f"must be 1..{sizes.OAZA_CODE} digits")
    for name in ("name_gaiji_change_seq", "address_gaiji_change_seq"):
        if getattr(record, name) < 0:
            raise invalid_field(f"record.{name}", "must not be negative")
    if record.HasField("former_surname"):
        former = record.former_surname
        _check_text(former.kanji, "record.former_surname.kanji", MAX_FORMER_SURNAME)
        _check_kana(former.kana, "record.former_surname.kana", MAX_FORMER_SURNAME)
        _check_count(former.gaiji_count, "record.former_surname.gaiji_count", len(former.kanji))
        if former.gaiji_change_seq < 0:
            raise invalid_field("record.former_surname.gaiji_change_seq", "must not be negative")
    return birth


_REPAIR_ONLY = "is set only by a node's consistency check"


def check_change(change: common_pb2.Change, today: dt.date) -> None:
    """Check a change's own fields and its record, before any lookup in the store."""
    check_change_id(change.change_id)
    if change.HasField("repair"):
        raise invalid_field("repair", _REPAIR_ONLY)
    if change.reason not in _CHANGE_REASONS or not change.reason:
        raise invalid_field("reason", "is not a supported change reason")
    change_date = _check_date(change.change_date, "change_date", today)
    _check_date(change.notified_date, "notified_date", today)
    check_municipality(change.municipality_code, "municipality_code")
    if change.sequence_number < 1:
        raise invalid_field("sequence_number", "must be 1 or more")
    for name in ("operator_id", "terminal_id"):
        if not _OPAQUE_ID.fullmatch(getattr(change, name)):
            raise invalid_field(name, _OPAQUE_RULE)
    if not change.HasField("record"):
        raise invalid_field("record", "is required")
    birth = check_record(change.record, today)
    if change_date < birth:
        raise invalid_field("change_date", "must not be before the birth date")
    if change.record.address.municipality_code != change.municipality_code:
        raise invalid_field(
            "record.address.municipality_code", "must be the municipality entering the change"
        )
    if change.reason == common_pb2.CHANGE_REASON_BIRTH and change_date != birth:
        raise invalid_field("change_date", "must equal the birth date for a birth")
    if change.reason == common_pb2.CHANGE_REASON_CODE_CHANGE:
        if not is_valid_juminhyo_code(change.previous_juminhyo_code):
            raise invalid_field("previous_juminhyo_code", "must be a valid resident record code")
        if change.previous_juminhyo_code == change.record.juminhyo_code:
            raise invalid_field("previous_juminhyo_code", "must differ from the new code")
    elif change.previous_juminhyo_code:
        raise invalid_field("previous_juminhyo_code", "is only for a code change")
    if change.reason == common_pb2.CHANGE_REASON_MOVE_OUT:
        check_municipality(change.moved_to_municipality_code, "moved_to_municipality_code")
        if change.moved_to_municipality_code == change.municipality_code:
            raise invalid_field("moved_to_municipality_code", "must be another municipality")
    elif change.moved_to_municipality_code:
        raise invalid_field("moved_to_municipality_code", "is only for a move-out")


# The fuhyo status each notice kind must leave the record in.
_STATUS_AFTER = {
    fuhyo_pb.FUHYO_NOTICE_KIND_ENTRY: {
        fuhyo_pb.FUHYO_STATUS_DOMESTIC,
        fuhyo_pb.FUHYO_STATUS_EMIGRATED,
    },
    fuhyo_pb.FUHYO_NOTICE_KIND_CORRECTION: {
        fuhyo_pb.FUHYO_STATUS_DOMESTIC,
        fuhyo_pb.FUHYO_STATUS_EMIGRATED,
    },
    fuhyo_pb.FUHYO_NOTICE_KIND_EMIGRATION: {fuhyo_pb.FUHYO_STATUS_EMIGRATED},
    fuhyo_pb.FUHYO_NOTICE_KIND_RETURN: {fuhyo_pb.FUHYO_STATUS_DOMESTIC},
    fuhyo_pb.FUHYO_NOTICE_KIND_REMOVAL: {fuhyo_pb.FUHYO_STATUS_REMOVED},
    fuhyo_pb.FUHYO_NOTICE_KIND_CODE_CHANGE: {
        fuhyo_pb.FUHYO_STATUS_DOMESTIC,
        fuhyo_pb.FUHYO_STATUS_EMIGRATED,
    },
}


def _check_fuhyo_address(record: fuhyo_pb.FuhyoRecord) -> None:
    """In Japan: a known municipality; abroad: no municipality, and a last domestic address."""
    if not record.HasField("address"):
        raise invalid_field("record.address", "is required")
    _check_text(record.address.text, "record.address.text", MAX_ADDRESS)
    _check_count(record.address_gaiji_count, "record.address_gaiji_count", len(record.address.text))
    emigrant = record.status == fuhyo_pb.FUHYO_STATUS_EMIGRATED
    if emigrant and record.address.municipality_code:
        raise invalid_field("record.address.municipality_code", "must be empty for an emigrant")
    # A removed emigrant keeps the address abroad.
    abroad = emigrant or (
        record.status == fuhyo_pb.FUHYO_STATUS_REMOVED and not record.address.municipality_code
    )
    if not abroad:
        check_municipality(record.address.municipality_code, "record.address.municipality_code")
    if emigrant or record.last_domestic_address:
        _check_text(record.last_domestic_address, "record.last_domestic_address", MAX_ADDRESS)
    _check_count(
        record.last_domestic_address_gaiji_count,
        "record.last_domestic_address_gaiji_count",
        len(record.last_domestic_address),
    )


def check_fuhyo_change(change: fuhyo_pb.FuhyoChange, today: dt.date) -> None:
    """Check a fuhyo change's own fields and record (the 18 items), before any lookup."""
    check_change_id(change.change_id)
    if change.HasField("repair"):
        raise invalid_field("repair", _REPAIR_ONLY)
    check_municipality(change.municipality_code, "municipality_code")
    if not change.HasField("record"):
        raise invalid_field("record", "is required")
    record = change.record
    _check_code(record.juminhyo_code)
    birth = _check_person(record, today)
    if _check_date(record.change_date, "record.change_date", today) < birth:
        raise invalid_field("record.change_date", "must not be before the birth date")
    allowed = _STATUS_AFTER.get(record.notice_kind)
    if allowed is None:
        raise invalid_field("record.notice_kind", "is not a supported notice kind")
    if record.status not in allowed:
        raise invalid_field("record.status", "does not fit the notice kind")
    _check_fuhyo_address(record)
    if record.keeping_municipality_code != change.municipality_code:
        raise invalid_field(
            "record.keeping_municipality_code", "must be the municipality entering the change"
        )
    if not _GAIJI_PATTERN.fullmatch(record.gaiji_pattern):
        raise invalid_field(
            "record.gaiji_pattern", f"must be 0..{sizes.GAIJI_PATTERN} letters or digits"
        )
    if record.notice_kind == fuhyo_pb.FUHYO_NOTICE_KIND_CODE_CHANGE:
        if not is_valid_juminhyo_code(record.former_juminhyo_code):
            raise invalid_field("record.former_juminhyo_code", "must be a valid resident code")
        if record.former_juminhyo_code == record.juminhyo_code:
            raise invalid_field("record.former_juminhyo_code", "must differ from the new code")
    elif record.former_juminhyo_code:
        raise invalid_field("record.former_juminhyo_code", "is only for a code change")


def check_repair(change: common_pb2.Change | fuhyo_pb.FuhyoChange, today: dt.date) -> None:
    """A consistency repair (common.proto Repair): its id, municipality and person's code, and,
    unless it withdraws the person, the record it re-sends as an ordinary change of its kind
    would carry it (a re-sent version may be one no register system could enter today, e.g.
    the old code's removed version of a code change, so only the record is checked)."""
    check_change_id(change.change_id)
    check_municipality(change.municipality_code, "municipality_code")
    kind = change.repair.kind
    if kind not in _REPAIR_KINDS or not kind:
        raise invalid_field("repair.kind", "is not a supported repair")
    _check_code(change.record.juminhyo_code)
    if kind == common_pb2.REPAIR_KIND_WITHDRAW:
        return
    if isinstance(change, common_pb2.Change):
        if change.sequence_number < 1:
            raise invalid_field("sequence_number", "must be 1 or more")
        if change.moved_to_municipality_code:
            check_municipality(change.moved_to_municipality_code, "moved_to_municipality_code")
        check_record(change.record, today)
    else:
        _check_person(change.record, today)
        _check_fuhyo_address(change.record)


def check_query(query: provision_service_pb2.ResidentQuery, today: dt.date) -> None:
    """Check a provision query's ids and its search key, and the 4-information minimum.

    The minimum conditions of a 4-information search: a name (kana or kanji)
    and at least one of birth date and address; a name alone, or a name and
    sex, match too many people and are refused (QUERY_TOO_BROAD).
    """
    check_change_id(query.request_id, "query.request_id")
    if not _OPAQUE_ID.fullmatch(query.operator_id):
        raise invalid_field("query.operator_id", _OPAQUE_RULE)
    key = query.WhichOneof("key")
    if key == "juminhyo_code" and not is_valid_juminhyo_code(query.juminhyo_code):
        raise invalid_field("query.juminhyo_code", "must be 11 digits with a valid check digit")
    if key == "my_number" and not is_valid_my_number(query.my_number):
        raise invalid_field("query.my_number", "must be 12 digits with a valid check digit")
    if key != "four_information":
        return
    four = query.four_information
    if four.name_kana:
        _check_kana(four.name_kana, "query.four_information.name_kana", MAX_NAME)
    if four.name_kanji:
        _check_text(four.name_kanji, "query.four_information.name_kanji", MAX_NAME)
    if four.birth_date:
        _check_date(four.birth_date, "query.four_information.birth_date", today)
    if four.sex not in (common_pb2.SEX_UNSPECIFIED, common_pb2.SEX_MALE, common_pb2.SEX_FEMALE):
        raise invalid_field("query.four_information.sex", "is not a sex code")
    address = four.address if four.HasField("address") else None
    if address is not None:
        check_municipality(address.municipality_code, "query.four_information.address")
        if address.text:
            _check_text(address.text, "query.four_information.address.text", MAX_ADDRESS)
    has_name = bool(four.name_kana or four.name_kanji)
    if not (has_name and (four.birth_date or address is not None)):
        raise RefusedError(
            Reason.QUERY_TOO_BROAD,
            "a 4-information search needs a name and a birth date or an address",
        )
