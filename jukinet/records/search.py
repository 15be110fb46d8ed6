"""Finding persons by a query's key, and cutting a found record down to a task's items.

Lookups read the current-state index (resident_current) and the version it
points at. A 住民票コード or My Number finds the person's latest record even
if it is removed (a death or move-out is itself information a task may need,
given as RECORD_ITEM_CHANGE); a 4-information search finds current residents
only, unless the task is one that asks after removed persons too (生存確認: the
catalogue's `removed_persons`). Kana is compared in its search form (清音化かな,
kana.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, Table, bindparam

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


def four_information_parameters(four: pb.FourInformation) -> dict[str, Any]:
    """The 4-information key's values by parameter name (kana in search form, address text as
    a LIKE prefix); the names present are the shape of the statement that uses them."""
    given: dict[str, Any] = {}
    if four.name_kana:
        given["seion_kana"] = seion(four.name_kana)
    if four.name_kanji:
        given["name_kanji"] = four.name_kanji
    if four.birth_date:
        given["birth_date"] = four.birth_date
    if four.sex:
        given["sex"] = four.sex
    if four.HasField("address"):
        given["municipality"] = four.address.municipality_code
        if four.address.text:
            given["address_prefix"] = _like_prefix(four.address.text)
    return given


def with_four_information(
    statement: Select[Any], names: Iterable[str], current: Table, versions: Table
) -> Select[Any]:
    """`statement` narrowed by the 4-information parameters `names` (bound at execution).

    `current` is an index table with seion_kana, name_kanji, birth_date and
    sex; `versions` the version table with the address columns. Shared by the
    resident and the fuhyo file.
    """
    conditions: dict[str, ColumnElement[bool]] = {
        "seion_kana": current.c.seion_kana == bindparam("seion_kana"),
        "name_kanji": current.c.name_kanji == bindparam("name_kanji"),
        "birth_date": current.c.birth_date == bindparam("birth_date"),
        "sex": current.c.sex == bindparam("sex"),
        "municipality": versions.c.address_municipality_code == bindparam("municipality"),
        "address_prefix": versions.c.address_text.like(bindparam("address_prefix"), escape="\\"),
    }
    for name in names:
        statement = statement.where(conditions[name])
    return statement


def limited(statement: Select[Any]) -> Select[Any]:
    """At most one row more than MAX_MATCHES (to tell a too broad search)."""
    return statement.limit(MAX_MATCHES + 1)


def at_most_max_matches(
    conn: Connection, statement: Select[Any], parameters: dict[str, Any]
) -> Sequence[Row[Any]]:
    """The rows of a `limited` statement, or QUERY_TOO_BROAD if more than MAX_MATCHES."""
    found = conn.execute(statement, parameters).all()
    if len(found) > MAX_MATCHES:
        raise RefusedError(
            Reason.QUERY_TOO_BROAD,
            f"the search matches more than {MAX_MATCHES} persons; give more conditions",
        )
    return found


def key_parameters(query: pb.ResidentQuery, by_code: tuple[str, ...]) -> dict[str, Any]:
    """The parameters of a query's key: {"key": value} for a key in `by_code` (a 住民票コード
    or My Number), else the 4 information's."""
    key = query.WhichOneof("key")
    if key in by_code:
        return {"key": getattr(query, str(key))}
    return four_information_parameters(query.four_information)


# Statements are built once per key and shape and reused (#18: building and caching a fresh
# statement per query cost more than running it).
@functools.cache
def _resident_statement(key: str | None, shape: tuple[str, ...], removed_too: bool) -> Select[Any]:
    # Only what may be answered: not what awaits the tier above (records/scope.py).
    statement = records.current_versions().where(resident_current.c.served.is_(True))
    if key in _BY_KEY:
        statement = statement.where(resident_current.c[key] == bindparam("key"))
    else:
        if not removed_too:
            statement = statement.where(resident_current.c.removed.is_(False))
        statement = with_four_information(statement, shape, resident_current, resident_versions)
    return limited(statement.order_by(resident_current.c.juminhyo_code))


_BY_KEY = ("juminhyo_code", "my_number")


def find(
    conn: Connection, query: pb.ResidentQuery, *, removed_too: bool = False
) -> Sequence[Row[Any]]:
    """The version rows (with `removed`) of the persons the query's key matches; with
    `removed_too`, a 4-information search finds 消除者 as well."""
    parameters = key_parameters(query, _BY_KEY)
    key = query.WhichOneof("key")
    shape = () if key in _BY_KEY else tuple(parameters)
    return at_most_max_matches(conn, _resident_statement(key, shape, removed_too), parameters)


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
