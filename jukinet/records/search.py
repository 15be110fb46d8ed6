"""Finding persons by a query's key, and cutting a found record down to a task's items.

Lookups read the current-state index (resident_current) and the version it
points at. A 住民票コード or My Number finds the person's latest record even
if it is removed (a death or move-out is itself information a task may need,
given as RECORD_ITEM_CHANGE); a 4-information search finds current residents
only. Kana is compared in its search form (清音化かな, kana.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, Table

from juki.v1 import common_pb2
from juki.v1 import provision_service_pb2 as pb
from jukinet.core.errors import Reason, RefusedError
from jukinet.records import residents as records
from jukinet.records.kana import seion
from jukinet.storage.schema import resident_current, resident_versions

# A 4-information search matching more persons than this is refused as too broad.
MAX_MATCHES = 50


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def with_four_information(
    statement: Select[Any], four: pb.FourInformation, current: Table, versions: Table
) -> Select[Any]:
    """`statement` narrowed by the 4-information key (kana in search form, address by prefix).

    `current` is an index table with seion_kana, name_kanji, birth_date and
    sex; `versions` the version table with the address columns. Shared by the
    resident and the fuhyo file.
    """
    if four.name_kana:
        statement = statement.where(current.c.seion_kana == seion(four.name_kana))
    if four.name_kanji:
        statement = statement.where(current.c.name_kanji == four.name_kanji)
    if four.birth_date:
        statement = statement.where(current.c.birth_date == four.birth_date)
    if four.sex:
        statement = statement.where(current.c.sex == four.sex)
    if four.HasField("address"):
        statement = statement.where(
            versions.c.address_municipality_code == four.address.municipality_code
        )
        if four.address.text:
            statement = statement.where(
                versions.c.address_text.like(_like_prefix(four.address.text), escape="\\")
            )
    return statement


def at_most_max_matches(conn: Connection, statement: Select[Any]) -> Sequence[Row[Any]]:
    """The rows of `statement`, or QUERY_TOO_BROAD if there are more than MAX_MATCHES."""
    found = conn.execute(statement.limit(MAX_MATCHES + 1)).all()
    if len(found) > MAX_MATCHES:
        raise RefusedError(
            Reason.QUERY_TOO_BROAD,
            f"the search matches more than {MAX_MATCHES} persons; give more conditions",
        )
    return found


def find(conn: Connection, query: pb.ResidentQuery) -> Sequence[Row[Any]]:
    """The version rows (with `removed`) of the persons the query's key matches."""
    statement = records.current_versions()
    key = query.WhichOneof("key")
    if key == "juminhyo_code":
        statement = statement.where(resident_current.c.juminhyo_code == query.juminhyo_code)
    elif key == "my_number":
        statement = statement.where(resident_current.c.my_number == query.my_number)
    else:
        statement = with_four_information(
            statement.where(resident_current.c.removed.is_(False)),
            query.four_information,
            resident_current,
            resident_versions,
        )
    return at_most_max_matches(conn, statement.order_by(resident_current.c.juminhyo_code))


def provided(row: Row[Any], items: frozenset[pb.RecordItem.ValueType]) -> pb.ProvidedRecord:
    """The found record with only `items` filled in."""
    full = records.record_of(row)
    record = common_pb2.ResidentRecord()
    if pb.RECORD_ITEM_JUMINHYO_CODE in items:
        record.juminhyo_code = full.juminhyo_code
    if pb.RECORD_ITEM_NAME in items:
        record.name_kanji = full.name_kanji
        record.name_kana = full.name_kana
        record.seion_kana = full.seion_kana
        record.name_gaiji_count = full.name_gaiji_count
        record.gaiji_flag = full.gaiji_flag
    if pb.RECORD_ITEM_BIRTH_DATE in items:
        record.birth_date = full.birth_date
    if pb.RECORD_ITEM_SEX in items:
        record.sex = full.sex
    if pb.RECORD_ITEM_ADDRESS in items:
        record.address.CopyFrom(full.address)
        record.oaza_code = full.oaza_code
        record.address_gaiji_count = full.address_gaiji_count
    if pb.RECORD_ITEM_MY_NUMBER in items:
        record.my_number = full.my_number
    if pb.RECORD_ITEM_FORMER_SURNAME in items and full.HasField("former_surname"):
        record.former_surname.CopyFrom(full.former_surname)
    answer = pb.ProvidedRecord(record=record, items=sorted(items))
    if pb.RECORD_ITEM_CHANGE in items:
        answer.change_reason = row.change_reason
        answer.change_date = row.change_date
        answer.removed = bool(row.removed)
    return answer
