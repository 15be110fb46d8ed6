"""Synthetic residents with valid identifiers, for the demo, tests and benchmarks; never real.

Names come from Faker's ja_JP provider as (kanji, kana) pairs, so the kana is
the reading of the kanji; addresses are Faker town names with 丁目・番・号 in
a real municipality (JIS X 0402); 住民票コード and My Numbers carry valid
check digits. Everything is drawn from the `random.Random` passed in, so a
seed reproduces the same people.

`load_residents` writes many residents straight into a node's database (the
versions and the current-state index), for loading a prefecture with any
number of people without a million RPCs.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from faker import Faker
from sqlalchemy import text

from juki.v1 import common_pb2
from juki.v1 import fuhyo_service_pb2 as fuhyo_pb
from jukinet.core import clock
from jukinet.core.clock import today_in_japan
from jukinet.records import residents as records
from jukinet.records.identifiers import JUMINHYO_SCHEME, complete_my_number, municipalities_of
from jukinet.storage import Database, bulk
from jukinet.storage.schema import resident_current, resident_versions

LOAD_CHUNK = 5000


@cache
def _faker() -> Faker:
    return Faker("ja_JP")


def juminhyo_code(rng: random.Random) -> str:
    """A random 住民票コード with a valid check digit."""
    return JUMINHYO_SCHEME.complete(f"{rng.randrange(10**10):010d}")


def my_number(rng: random.Random) -> str:
    """A random My Number with a valid check digit (leading digit non-zero)."""
    return complete_my_number(f"{rng.randrange(10**10, 10**11)}")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def person(rng: random.Random) -> tuple[str, str, common_pb2.Sex.ValueType, str]:
    """(name kanji, name kana, sex, address text below the municipality) of a synthetic person."""
    fake = _faker()
    fake.seed_instance(rng.getrandbits(64))
    surname, surname_kana, _ = fake.last_name_pair()
    female = rng.random() < 0.5
    given, given_kana, _ = fake.first_name_female_pair() if female else fake.first_name_male_pair()
    sex = common_pb2.SEX_FEMALE if female else common_pb2.SEX_MALE
    address = f"{fake.town()}{fake.chome()}{fake.ban()}{fake.gou()}"
    return f"{surname} {given}", f"{surname_kana} {given_kana}", sex, address


def birth(
    municipality_code: str, rng: random.Random | None = None, *, born: dt.date | None = None
) -> common_pb2.Change:
    """A valid 出生 change for a synthetic newborn in `municipality_code`."""
    rng = rng or random.Random()  # noqa: S311 - synthetic data, not secrets
    kanji, kana, sex, address = person(rng)
    born = born or today_in_japan() - dt.timedelta(days=rng.randrange(3650))
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
            address=common_pb2.Address(municipality_code=municipality_code, text=address),
            oaza_code=f"{rng.randrange(1, 1000):03d}",
        ),
    )


def residents(area: str, count: int, rng: random.Random) -> Iterator[common_pb2.Change]:
    """`count` births of people aged 0-95 across a prefecture's municipalities (`area` of 2
    digits) or in one municipality (6 digits), codes unique."""
    municipalities = [area] if len(area) == 6 else municipalities_of(area)
    today = today_in_japan()
    codes: set[str] = set()
    numbers: set[str] = set()
    made = 0
    while made < count:
        change = birth(
            rng.choice(municipalities), rng, born=today - dt.timedelta(days=rng.randrange(35000))
        )
        record = change.record
        if record.juminhyo_code in codes or record.my_number in numbers:
            continue  # a random collision: draw again
        codes.add(record.juminhyo_code)
        numbers.add(record.my_number)
        made += 1
        yield change


@dataclass(frozen=True)
class Loaded:
    """What `load_residents` did: how many, and where the time went.

    Making up the synthetic people (Faker, check digits) is timed apart from
    writing them, because a real load reads people it already has.
    """

    count: int
    generating_s: float
    writing_s: float


def load_residents(
    db: Database,
    area: str,
    count: int,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> Loaded:
    """Write `count` synthetic residents of `area` (a prefecture or municipality) into `db`.

    Rows are inserted in chunks of LOAD_CHUNK per transaction, with version
    ids reserved first (storage/bulk) so the current-state index can point at
    them without reading them back. Meant for an empty store (codes are unique within
    one load, not checked against rows already there). `progress(written)`
    is called after each chunk.
    """
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    now = clock.SYSTEM.now()
    versions: list[dict[str, Any]] = []
    writing_s = 0.0
    began = time.perf_counter()

    @contextmanager
    def writing() -> Iterator[None]:
        nonlocal writing_s
        started = time.perf_counter()
        yield
        writing_s += time.perf_counter() - started

    written = 0

    def flush() -> None:
        nonlocal written
        with writing(), db.transaction() as conn:
            bulk.for_a_bulk_load(conn)
            ids = bulk.reserve_ids(conn, resident_versions, len(versions))
            for values, version_id in zip(versions, ids, strict=True):
                values["id"] = version_id
            bulk.insert_rows(conn, resident_versions, versions)
            bulk.insert_rows(
                conn,
                resident_current,
                [
                    {"juminhyo_code": v["juminhyo_code"], **records.index_row(v, v["id"])}
                    for v in versions
                ],
            )
        written += len(versions)
        versions.clear()
        if progress is not None:
            progress(written)

    for change in residents(area, count, rng):
        values = records.version_values(
            change, change.record, version=1, removed=False, recorded_at=now
        )
        versions.append(values)
        if len(versions) >= LOAD_CHUNK:
            flush()
    if versions:
        flush()
    if db.engine.dialect.name == "postgresql":
        # As after any bulk load: statistics for the planner (without them PostgreSQL scanned
        # the whole index table for a batch's `= ANY(…)`), and the vacuum that sets the
        # visibility map, done now rather than by autovacuum under the traffic that follows.
        with writing(), db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("VACUUM (ANALYZE) resident_versions, resident_current"))
    total = time.perf_counter() - began
    return Loaded(count, generating_s=total - writing_s, writing_s=writing_s)


def follow(
    change: common_pb2.Change,
    reason: common_pb2.ChangeReason.ValueType,
    *,
    municipality_code: str | None = None,
    moved_to: str = "",
    rng: random.Random | None = None,
) -> common_pb2.Change:
    """The next change of the same person: sequence + 1, record copied, dated today; entered
    at `municipality_code` (default: where the last one was), and for a 転出 naming `moved_to`.

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
    following.moved_to_municipality_code = moved_to
    following.record.ClearField("seion_kana")
    if municipality_code is not None:
        following.municipality_code = municipality_code
        following.record.address.municipality_code = municipality_code
    return following


def fuhyo_entry(resident: common_pb2.Change, rng: random.Random) -> fuhyo_pb.FuhyoChange:
    """A new fuhyo (記載) for the person of a resident change, kept by that municipality."""
    record = resident.record
    return fuhyo_pb.FuhyoChange(
        change_id=_uuid(rng),
        municipality_code=resident.municipality_code,
        record=fuhyo_pb.FuhyoRecord(
            juminhyo_code=record.juminhyo_code,
            name_kanji=record.name_kanji,
            name_kana=record.name_kana,
            birth_date=record.birth_date,
            sex=record.sex,
            address=record.address,
            change_date=resident.change_date,
            keeping_municipality_code=resident.municipality_code,
            status=fuhyo_pb.FUHYO_STATUS_DOMESTIC,
            notice_kind=fuhyo_pb.FUHYO_NOTICE_KIND_ENTRY,
        ),
    )


COUNTRIES = (
    "アメリカ合衆国",
    "オーストラリア",
    "ドイツ連邦共和国",
    "タイ王国",
    "ブラジル連邦共和国",
)


def fuhyo_follow(
    change: fuhyo_pb.FuhyoChange,
    kind: fuhyo_pb.FuhyoNoticeKind.ValueType,
    rng: random.Random,
) -> fuhyo_pb.FuhyoChange:
    """The next fuhyo change of the same person, dated today; an emigration moves abroad.

    EMIGRATION: address abroad (a country), last domestic address = the
    address left; RETURN: back to the last domestic address; REMOVAL: status
    REMOVED; others: the record copied (callers edit it).
    """
    following = fuhyo_pb.FuhyoChange()
    following.CopyFrom(change)
    following.change_id = _uuid(rng)
    record = following.record
    record.notice_kind = kind
    record.change_date = today_in_japan().isoformat()
    record.former_juminhyo_code = ""
    if kind == fuhyo_pb.FUHYO_NOTICE_KIND_EMIGRATION:
        record.last_domestic_address = record.address.text
        record.address.CopyFrom(common_pb2.Address(text=rng.choice(COUNTRIES)))
        record.status = fuhyo_pb.FUHYO_STATUS_EMIGRATED
    elif kind == fuhyo_pb.FUHYO_NOTICE_KIND_RETURN:
        record.address.CopyFrom(
            common_pb2.Address(
                municipality_code=change.municipality_code, text=record.last_domestic_address
            )
        )
        record.status = fuhyo_pb.FUHYO_STATUS_DOMESTIC
    elif kind == fuhyo_pb.FUHYO_NOTICE_KIND_REMOVAL:
        record.status = fuhyo_pb.FUHYO_STATUS_REMOVED
    return following
