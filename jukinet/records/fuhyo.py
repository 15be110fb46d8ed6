"""The fuhyo file (附票本人確認情報): stored rows ↔ FuhyoRecord, lookups, and cutting to items.

The 18 items of seed 003 別添2 (2) and their columns (fuhyo_versions):

==  ==========================  ========================================
 1  住民票コード                juminhyo_code
 2  氏名 漢字                   name_kanji
 3  氏名 外字数                 name_gaiji_count
 4  氏名 ふりがな               name_kana (+ seion_kana for search)
 5  生年月日                    birth_date
 6  性別                        sex
 7  住所 市町村コード           address_municipality_code ("" abroad)
 8  住所 漢字                   address_text
 9  住所 外字数                 address_gaiji_count
10  最終住所 漢字               last_domestic_address
11  最終住所 外字数             last_domestic_address_gaiji_count
12  異動年月日                  change_date
13  旧住民票コード              former_juminhyo_code
14  附票管理市町村コード        keeping_municipality_code
15  附票本人確認情報状態区分    status
16  外字フラグ                  gaiji_flag
17  外字パターン                gaiji_pattern
18  通知区分                    notice_kind
==  ==========================  ========================================

There is no My Number here: not as a column, not in FuhyoRecord.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, select

from juki.v1 import common_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from juki.v1 import provision_service_pb2 as pb
from jukinet.records.kana import seion
from jukinet.records.search import (
    at_most_max_matches,
    key_parameters,
    limited,
    with_four_information,
)
from jukinet.storage.schema import fuhyo_current, fuhyo_versions
from jukinet.storage.version_state import VersionState

# Columns copied one to one between FuhyoRecord and fuhyo_versions.
_PLAIN = (
    "juminhyo_code",
    "name_kanji",
    "name_gaiji_count",
    "name_kana",
    "birth_date",
    "sex",
    "address_gaiji_count",
    "last_domestic_address",
    "last_domestic_address_gaiji_count",
    "change_date",
    "former_juminhyo_code",
    "keeping_municipality_code",
    "status",
    "gaiji_flag",
    "gaiji_pattern",
    "notice_kind",
)
_INDEXED = ("status", "keeping_municipality_code", "seion_kana", "name_kanji", "birth_date", "sex")


def version_values(
    change: fuhyo_pb.FuhyoChange, *, version: int, recorded_at: dt.datetime, served: bool = True
) -> dict[str, Any]:
    """The column values of one stored version of `change.record`, served at once or awaiting
    the tier above (storage/version_state.py)."""
    record = change.record
    return {
        **{name: getattr(record, name) for name in _PLAIN},
        "version": version,
        "change_id": change.change_id,
        "municipality_code": change.municipality_code,
        "seion_kana": seion(record.name_kana),
        "address_municipality_code": record.address.municipality_code,
        "address_text": record.address.text,
        "recorded_at": recorded_at,
        "state": VersionState.SERVED if served else VersionState.AWAITING,
    }


def index_row(values: dict[str, Any], version_id: int) -> dict[str, Any]:
    """The fuhyo_current row (without its key) pointing at a version with `values`."""
    return {
        **{k: values[k] for k in _INDEXED},
        "version_id": version_id,
        "served": values["state"] == VersionState.SERVED,
    }


def is_served(row: Any) -> bool:
    """Whether a stored fuhyo version may be answered here (not awaiting the tier above)."""
    return bool(row.state == VersionState.SERVED)


def current_versions() -> Select[Any]:
    """Each person's latest fuhyo version."""
    return select(fuhyo_versions).join(
        fuhyo_current, fuhyo_versions.c.id == fuhyo_current.c.version_id
    )


def record_of(row: Any) -> fuhyo_pb.FuhyoRecord:
    """The FuhyoRecord a stored version row holds."""
    return fuhyo_pb.FuhyoRecord(
        **{name: getattr(row, name) for name in _PLAIN},
        address=common_pb2.Address(
            municipality_code=row.address_municipality_code, text=row.address_text
        ),
    )


def current(conn: Connection, juminhyo_code: str) -> Row[Any] | None:
    """The person's latest fuhyo version, or None if never on file."""
    return conn.execute(
        current_versions().where(fuhyo_current.c.juminhyo_code == juminhyo_code)
    ).first()


@functools.cache
def _statement(by_code: bool, shape: tuple[str, ...]) -> Select[Any]:
    # Only what may be answered: not what awaits the tier above (records/scope.py).
    statement = current_versions().where(fuhyo_current.c.served.is_(True))
    if by_code:
        statement = statement.where(fuhyo_current.c.juminhyo_code == bindparam("key"))
    else:
        statement = with_four_information(
            statement.where(fuhyo_current.c.status != fuhyo_pb.FUHYO_STATUS_REMOVED),
            shape,
            fuhyo_current,
            fuhyo_versions,
        )
    return limited(statement.order_by(fuhyo_current.c.juminhyo_code))


def find(
    conn: Connection, query: pb.ResidentQuery, *, removed_too: bool = False
) -> Sequence[Row[Any]]:
    """Fuhyo rows the query's key matches: by code (removed too), or 4 information (on file;
    no fuhyo task asks for removed persons: `removed_too` is for the resident file's).

    An emigrant's address is abroad, so a 4-information search for one names
    a birth date; an address key matches the current address in Japan.
    """
    parameters = key_parameters(query, ("juminhyo_code",))
    by_code = query.WhichOneof("key") == "juminhyo_code"
    shape = () if by_code else tuple(parameters)
    return at_most_max_matches(conn, _statement(by_code, shape), parameters)


# The record items of a fuhyo record; the My Number is never one (it comes via the link).
FUHYO_ITEMS = frozenset(
    {
        pb.RECORD_ITEM_JUMINHYO_CODE,
        pb.RECORD_ITEM_NAME,
        pb.RECORD_ITEM_BIRTH_DATE,
        pb.RECORD_ITEM_SEX,
        pb.RECORD_ITEM_ADDRESS,
        pb.RECORD_ITEM_CHANGE,
    }
)


def provided(
    row: Row[Any], items: frozenset[pb.RecordItem.ValueType]
) -> fuhyo_pb.ProvidedFuhyoRecord:
    """The fuhyo record with only `items` filled in (the My Number is added by the link)."""
    full = record_of(row)
    record = fuhyo_pb.FuhyoRecord()
    if pb.RECORD_ITEM_JUMINHYO_CODE in items:
        record.juminhyo_code = full.juminhyo_code
        record.former_juminhyo_code = full.former_juminhyo_code
    if pb.RECORD_ITEM_NAME in items:
        record.name_kanji = full.name_kanji
        record.name_kana = full.name_kana
        record.name_gaiji_count = full.name_gaiji_count
        record.gaiji_flag = full.gaiji_flag
        record.gaiji_pattern = full.gaiji_pattern
    if pb.RECORD_ITEM_BIRTH_DATE in items:
        record.birth_date = full.birth_date
    if pb.RECORD_ITEM_SEX in items:
        record.sex = full.sex
    if pb.RECORD_ITEM_ADDRESS in items:
        record.address.CopyFrom(full.address)
        record.address_gaiji_count = full.address_gaiji_count
        record.last_domestic_address = full.last_domestic_address
        record.last_domestic_address_gaiji_count = full.last_domestic_address_gaiji_count
        record.keeping_municipality_code = full.keeping_municipality_code
    if pb.RECORD_ITEM_CHANGE in items:
        record.change_date = full.change_date
        record.status = full.status
        record.notice_kind = full.notice_kind
    return fuhyo_pb.ProvidedFuhyoRecord(record=record, items=sorted(items & FUHYO_ITEMS))
