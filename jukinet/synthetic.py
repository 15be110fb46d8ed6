"""Synthetic residents with valid identifiers, for the demo and tests. Never real people."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from juki.v1 import common_pb2
from jukinet.identifiers import JUMINHYO_SCHEME, complete_my_number
from jukinet.ledger import today_in_japan

_NAMES = (
    ("山田 花子", "ヤマダ ハナコ", common_pb2.SEX_FEMALE),
    ("佐藤 太郎", "サトウ タロウ", common_pb2.SEX_MALE),
    ("鈴木 さくら", "スズキ サクラ", common_pb2.SEX_FEMALE),
    ("高橋 大輝", "タカハシ ダイキ", common_pb2.SEX_MALE),
)


def juminhyo_code(rng: random.Random) -> str:
    """A random 住民票コード with a valid check digit."""
    return JUMINHYO_SCHEME.complete(f"{rng.randrange(10**10):010d}")


def my_number(rng: random.Random) -> str:
    """A random My Number with a valid check digit (leading digit non-zero)."""
    return complete_my_number(f"{rng.randrange(10**10, 10**11)}")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def birth(
    municipality_code: str, rng: random.Random | None = None, *, born: dt.date | None = None
) -> common_pb2.Change:
    """A valid 出生 change for a synthetic newborn in `municipality_code`."""
    rng = rng or random.Random()  # noqa: S311 - synthetic data, not secrets
    kanji, kana, sex = rng.choice(_NAMES)
    born = born or dt.date(2026, 4, 1) - dt.timedelta(days=rng.randrange(3650))
    return common_pb2.Change(
        change_id=_uuid(rng),
        reason=common_pb2.CHANGE_REASON_BIRTH,
        change_date=born.isoformat(),
        notified_date=born.isoformat(),
        sequence_number=1,
        operator_id="clerk-001",
        terminal_id="term-01",
        municipality_code=municipality_code,
        record=common_pb2.ResidentRecord(
            juminhyo_code=juminhyo_code(rng),
            my_number=my_number(rng),
            name_kanji=kanji,
            name_kana=kana,
            birth_date=born.isoformat(),
            sex=sex,
            address=common_pb2.Address(
                municipality_code=municipality_code,
                text=f"本町{rng.randrange(1, 30)}丁目{rng.randrange(1, 40)}番",
            ),
            oaza_code=f"{rng.randrange(1, 1000):03d}",
        ),
    )


def follow(
    change: common_pb2.Change,
    reason: common_pb2.ChangeReason.ValueType,
    *,
    municipality_code: str | None = None,
    rng: random.Random | None = None,
) -> common_pb2.Change:
    """The next change of the same person: sequence + 1, record copied, dated today.

    Callers then edit the record as the reason requires (a new address for a
    move, a new name for a name change, ...).
    """
    rng = rng or random.Random()  # noqa: S311 - synthetic data, not secrets
    today = today_in_japan().isoformat()
    following = common_pb2.Change()
    following.CopyFrom(change)
    following.change_id = _uuid(rng)
    following.reason = reason
    following.sequence_number = change.sequence_number + 1
    following.change_date = following.notified_date = today
    following.previous_juminhyo_code = ""
    following.record.ClearField("seion_kana")
    if municipality_code is not None:
        following.municipality_code = municipality_code
        following.record.address.municipality_code = municipality_code
    return following
