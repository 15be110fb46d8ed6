"""Mapping between the wire record (ResidentRecord) and the stored version rows.

One place knows which column holds which of the 28 items of seed 003 別添2 (1):

==  ======================  =========================================
 1  住民票コード             juminhyo_code
 2  漢字氏名                 name_kanji
 3  外字数（氏名）           name_gaiji_count
 4  ふりがな氏名             name_kana
 5  生年月日                 birth_date
 6  性別                     sex
 7  住所                     address_text (+ address_municipality_code)
 8  外字数（住所）           address_gaiji_count
 9  個人番号                 my_number
10  異動事由                 change_reason
11  異動年月日               change_date
12  保存期間フラグ           retention
13  清音化かな氏名           seion_kana (kana.seion of name_kana)
14  市町村コード             municipality_code
15  大字・字コード           oaza_code
16  操作者ID                 operator_id
17  操作端末ID               terminal_id
18  タイムスタンプ           recorded_at
19  通知を受けた年月日       notified_date
20  外字フラグ               gaiji_flag
21  削除フラグ               deleted
22  更新順番号               sequence_number
23  氏名外字変更連番         name_gaiji_change_seq
24  住所外字変更連番         address_gaiji_change_seq
25  旧氏 漢字                former_surname_kanji
26  旧氏 外字数              former_surname_gaiji_count
27  旧氏 ふりがな            former_surname_kana
28  旧氏 外字変更連番        former_surname_gaiji_change_seq
==  ======================  =========================================
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, select

from juki.v1 import common_pb2
from jukinet.records.kana import seion
from jukinet.records.lifecycle import Current
from jukinet.storage.schema import resident_current, resident_versions
from jukinet.storage.version_state import VersionState

# The current-state index columns copied from a version (the rest is its id and state).
_INDEXED = ("municipality_code", "my_number", "seion_kana", "name_kanji", "birth_date", "sex")


def version_values(
    change: common_pb2.Change,
    record: common_pb2.ResidentRecord,
    *,
    version: int,
    removed: bool,
    recorded_at: dt.datetime,
    served: bool = True,
) -> dict[str, Any]:
    """The column values of one stored version: `record` as changed by `change`, served at
    once or awaiting the tier above (storage/version_state.py)."""
    former = record.former_surname
    return {
        "juminhyo_code": record.juminhyo_code,
        "version": version,
        "change_id": change.change_id,
        "change_reason": change.reason,
        "change_date": change.change_date,
        "municipality_code": change.municipality_code,
        "my_number": record.my_number,
        "name_kanji": record.name_kanji,
        "name_kana": record.name_kana,
        "birth_date": record.birth_date,
        "sex": record.sex,
        "address_municipality_code": record.address.municipality_code,
        "address_text": record.address.text,
        "recorded_at": recorded_at,
        "sequence_number": change.sequence_number,
        "notified_date": change.notified_date,
        "operator_id": change.operator_id,
        "terminal_id": change.terminal_id,
        "previous_juminhyo_code": change.previous_juminhyo_code,
        "name_gaiji_count": record.name_gaiji_count,
        "address_gaiji_count": record.address_gaiji_count,
        "oaza_code": record.oaza_code,
        "gaiji_flag": record.gaiji_flag,
        "name_gaiji_change_seq": record.name_gaiji_change_seq,
        "address_gaiji_change_seq": record.address_gaiji_change_seq,
        "former_surname_kanji": former.kanji,
        "former_surname_kana": former.kana,
        "former_surname_gaiji_count": former.gaiji_count,
        "former_surname_gaiji_change_seq": former.gaiji_change_seq,
        "seion_kana": seion(record.name_kana),
        "deleted": removed,
        "retention": removed,  # a removed record is kept for the retention period
        "moved_to_municipality_code": change.moved_to_municipality_code,
        "state": VersionState.SERVED if served else VersionState.AWAITING,
    }


def index_row(values: dict[str, Any], version_id: int) -> dict[str, Any]:
    """The resident_current row (without its key) pointing at a version with `values`."""
    return {
        **{k: values[k] for k in _INDEXED},
        "version_id": version_id,
        "sequence_number": values["sequence_number"],
        "removed": values["deleted"],
        "served": values["state"] == VersionState.SERVED,
    }


def current_versions() -> Select[Any]:
    """Each person's latest version row with its index state (`sequence_number`, `removed`,
    `served`)."""
    return select(
        resident_current.c.sequence_number,
        resident_current.c.removed,
        resident_current.c.served,
        resident_versions,
    ).join(resident_versions, resident_versions.c.id == resident_current.c.version_id)


def current_of(row: Any) -> Current:
    """The person's state on this node from their `current_versions` row."""
    removed = bool(row.removed)
    return Current(
        int(row.sequence_number),
        removed,
        record_of(row),
        keeper=row.municipality_code,
        served=bool(row.served),
        removal=int(row.change_reason) if removed else 0,
        moved_to=row.moved_to_municipality_code if removed else "",
    )


def record_of(row: Any) -> common_pb2.ResidentRecord:
    """The ResidentRecord a stored version row holds."""
    record = common_pb2.ResidentRecord(
        juminhyo_code=row.juminhyo_code,
        my_number=row.my_number,
        name_kanji=row.name_kanji,
        name_kana=row.name_kana,
        birth_date=row.birth_date,
        sex=row.sex,
        address=common_pb2.Address(
            municipality_code=row.address_municipality_code, text=row.address_text
        ),
        name_gaiji_count=row.name_gaiji_count,
        address_gaiji_count=row.address_gaiji_count,
        oaza_code=row.oaza_code,
        gaiji_flag=row.gaiji_flag,
        name_gaiji_change_seq=row.name_gaiji_change_seq,
        address_gaiji_change_seq=row.address_gaiji_change_seq,
        seion_kana=row.seion_kana,
    )
    if row.former_surname_kanji:
        record.former_surname.CopyFrom(
            common_pb2.FormerSurname(
                kanji=row.former_surname_kanji,
                kana=row.former_surname_kana,
                gaiji_count=row.former_surname_gaiji_count,
                gaiji_change_seq=row.former_surname_gaiji_change_seq,
            )
        )
    return record
