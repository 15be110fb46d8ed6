"""Disclosure (開示, 住基法第30条の32): a person's own record and who received it.

The document is plain UTF-8 text with Japanese headings, meant to be printed
and handed to the person at the counter: the current record item by item,
how many earlier versions are kept, and every provision of the record from
the provision log (date, recipient, task, items given, its place in the log),
and what proves the list is the log's: a checkpoint its witness cosigned,
to which the proofs handed over with the document lead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, RowMapping, func, select

from juki.v1 import common_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.core.clock import JST
from jukinet.core.errors import Reason, RefusedError
from jukinet.provision.catalogue import Catalogue
from jukinet.provision.log import ProvisionLog
from jukinet.records import fuhyo
from jukinet.records.residents import current_versions, record_of
from jukinet.storage import as_utc
from jukinet.storage.schema import resident_current, resident_versions

ITEM_LABELS = {
    "juminhyo_code": "住民票コード",
    "name": "氏名",
    "birth_date": "生年月日",
    "sex": "性別",
    "address": "住所",
    "my_number": "個人番号",
    "former_surname": "旧氏",
    "change": "異動情報",
}
# What proves a list of provision-log rows is the log's: lines for the document.
Proven = Callable[[Sequence[RowMapping]], list[str]]
_FUHYO_STATUS = {
    fuhyo_pb.FUHYO_STATUS_DOMESTIC: "国内",
    fuhyo_pb.FUHYO_STATUS_EMIGRATED: "国外転出",
    fuhyo_pb.FUHYO_STATUS_REMOVED: "消除",
}
_SEX = {common_pb2.SEX_MALE: "男", common_pb2.SEX_FEMALE: "女"}
_REASONS = {
    common_pb2.CHANGE_REASON_BIRTH: "出生",
    common_pb2.CHANGE_REASON_MOVE_IN: "転入",
    common_pb2.CHANGE_REASON_MOVE_OUT: "転出",
    common_pb2.CHANGE_REASON_MOVE_WITHIN: "転居",
    common_pb2.CHANGE_REASON_DEATH: "死亡",
    common_pb2.CHANGE_REASON_EMIGRATION: "国外転出",
    common_pb2.CHANGE_REASON_NAME_CHANGE: "氏名変更",
    common_pb2.CHANGE_REASON_EX_OFFICIO_ENTRY: "職権記載",
    common_pb2.CHANGE_REASON_EX_OFFICIO_CORRECTION: "職権修正",
    common_pb2.CHANGE_REASON_EX_OFFICIO_REMOVAL: "職権消除",
    common_pb2.CHANGE_REASON_CODE_CHANGE: "住民票コード変更",
    common_pb2.CHANGE_REASON_MY_NUMBER_CHANGE: "個人番号変更",
}


def resident_section(conn: Connection, juminhyo_code: str) -> tuple[str, list[str]]:
    """The title and first section of a resident's disclosure: the record, item by item."""
    row = conn.execute(
        current_versions().where(resident_current.c.juminhyo_code == juminhyo_code)
    ).first()
    if row is None:
        raise RefusedError(Reason.PERSON_NOT_FOUND)
    versions = conn.execute(
        select(func.count()).where(resident_versions.c.juminhyo_code == juminhyo_code)
    ).scalar_one()
    record = record_of(row)
    former = record.former_surname
    return "本人確認情報の開示（住民基本台帳法第30条の32）", [
        "1. 本人確認情報",
        f"  住民票コード        {record.juminhyo_code}",
        f"  氏名                {record.name_kanji}",
        f"  ふりがな            {record.name_kana}",
        f"  清音化かな          {record.seion_kana}",
        f"  生年月日            {record.birth_date}",
        f"  性別                {_SEX.get(record.sex, '')}",
        f"  住所                {record.address.text}",
        f"  市町村コード        {record.address.municipality_code}",
        f"  大字・字コード      {record.oaza_code}",
        f"  個人番号            {record.my_number}",
        f"  旧氏                {former.kanji} {former.kana}".rstrip(),
        f"  異動事由            {_REASONS.get(row.change_reason, '')}",
        f"  異動年月日          {row.change_date}",
        f"  通知を受けた年月日  {row.notified_date}",
        f"  更新順番号          {row.sequence_number}",
        f"  削除フラグ          {'削除' if row.removed else 'なし'}",
        f"  保存されている履歴  {versions} 件",
    ]


def fuhyo_section(conn: Connection, juminhyo_code: str) -> tuple[str, list[str]]:
    """The title and first section of a fuhyo disclosure: the 附票本人確認情報 (no My Number:
    the fuhyo file holds none)."""
    row = fuhyo.current(conn, juminhyo_code)
    if row is None:
        raise RefusedError(Reason.PERSON_NOT_FOUND)
    record = fuhyo.record_of(row)
    return "附票本人確認情報の開示", [
        "1. 附票本人確認情報",
        f"  住民票コード        {record.juminhyo_code}",
        f"  氏名                {record.name_kanji}",
        f"  ふりがな            {record.name_kana}",
        f"  生年月日            {record.birth_date}",
        f"  性別                {_SEX.get(record.sex, '')}",
        f"  住所                {record.address.text}",
        f"  最終住所            {record.last_domestic_address}",
        f"  附票管理市町村      {record.keeping_municipality_code}",
        f"  状態                {_FUHYO_STATUS.get(record.status, '')}",
        f"  異動年月日          {record.change_date}",
    ]


# The first section of a disclosure: (title, lines) for a person, PERSON_NOT_FOUND if none.
Section = Callable[[Connection, str], tuple[str, list[str]]]


def document(
    conn: Connection,
    log: ProvisionLog,
    catalogue: Catalogue,
    juminhyo_code: str,
    *,
    node_name: str,
    now: dt.datetime,
    section: Section = resident_section,
    proven_by: Proven | None = None,
) -> tuple[str, list[RowMapping]]:
    """The disclosure document for one person, and the provision-log rows it lists.

    `section` gives the record part (`resident_section`, `fuhyo_section`);
    `proven_by(rows)` says what proves the rows are the log's (a witnessed
    checkpoint), for the document's last section; the proofs themselves go
    to the person as a file beside it.
    """
    title, record_lines = section(conn, juminhyo_code)
    lines = [
        title,
        f"作成日時: {now.astimezone(JST):%Y-%m-%d %H:%M} (JST)    作成: {node_name}",
        "",
        *record_lines,
        "",
        "2. 提供状況",
    ]
    provisions = log.provisions_of(conn, juminhyo_code)
    if not provisions:
        lines.append("  提供の記録はありません。")
    for provision in provisions:
        task = catalogue.tasks.get(provision["task_id"])
        title = task.title if task else provision["task_id"]
        given = "・".join(ITEM_LABELS.get(i, i) for i in provision["items_given"].split(",") if i)
        stamp = as_utc(provision["at"]).astimezone(JST)
        lines.append(f"  {stamp:%Y-%m-%d %H:%M}  {provision['recipient']}")
        lines.append(f"      事務: {title} ({provision['task_id']})")
        lines.append(f"      提供項目: {given}")
        lines.append(f"      記録番号: {provision['leaf_index']}")
    if proven_by is not None and provisions:
        lines += ["", "3. 提供記録の証明", *(f"  {line}" for line in proven_by(provisions))]
    lines.append("")
    return "\n".join(lines), provisions
