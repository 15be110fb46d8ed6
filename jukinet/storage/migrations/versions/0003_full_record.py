"""The full 本人確認情報 (28 items), the current-state index and held changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from jukinet.records.kana import seion

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NEW_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("sequence_number", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("notified_date", sa.String(10), nullable=False, server_default=""),
    sa.Column("operator_id", sa.String(32), nullable=False, server_default=""),
    sa.Column("terminal_id", sa.String(32), nullable=False, server_default=""),
    sa.Column("previous_juminhyo_code", sa.String(11), nullable=False, server_default=""),
    sa.Column("name_gaiji_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("address_gaiji_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("oaza_code", sa.String(12), nullable=False, server_default=""),
    sa.Column("gaiji_flag", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("name_gaiji_change_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("address_gaiji_change_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("former_surname_kanji", sa.String(50), nullable=False, server_default=""),
    sa.Column("former_surname_kana", sa.String(50), nullable=False, server_default=""),
    sa.Column("former_surname_gaiji_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("former_surname_gaiji_change_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("seion_kana", sa.String(100), nullable=False, server_default=""),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("retention", sa.Boolean, nullable=False, server_default=sa.false()),
]


def upgrade() -> None:
    for column in _NEW_COLUMNS:
        op.add_column("resident_versions", column)
    op.create_table(
        "resident_current",
        sa.Column("juminhyo_code", sa.String(11), primary_key=True),
        sa.Column("version_id", Id, nullable=False),
        sa.Column("sequence_number", sa.BigInteger, nullable=False),
        sa.Column("removed", sa.Boolean, nullable=False),
        sa.Column("municipality_code", sa.String(6), nullable=False),
        sa.Column("my_number", sa.String(12), nullable=False),
        sa.Column("seion_kana", sa.String(100), nullable=False),
        sa.Column("name_kanji", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.String(10), nullable=False),
        sa.Column("sex", sa.SmallInteger, nullable=False),
    )
    op.create_index("ix_resident_current_my_number", "resident_current", ["my_number"])
    op.create_index("ix_resident_current_kana", "resident_current", ["seion_kana", "birth_date"])
    op.create_index("ix_resident_current_kanji", "resident_current", ["name_kanji", "birth_date"])
    op.create_table(
        "held_changes",
        sa.Column("change_id", sa.String(36), primary_key=True),
        sa.Column("person_key", sa.String(11), nullable=False),
        sa.Column("sequence_number", sa.BigInteger, nullable=False),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_held_changes_person", "held_changes", ["person_key", "sequence_number"])
    # Records from revision 0001 (births): sequence number = version; index the latest.
    bind = op.get_bind()
    versions = sa.table(
        "resident_versions",
        *(
            sa.column(c)
            for c in (
                "id",
                "juminhyo_code",
                "version",
                "municipality_code",
                "my_number",
                "name_kanji",
                "name_kana",
                "birth_date",
                "sex",
                "sequence_number",
                "seion_kana",
            )
        ),
    )
    current = sa.table(
        "resident_current",
        *(
            sa.column(c)
            for c in (
                "juminhyo_code",
                "version_id",
                "sequence_number",
                "removed",
                "municipality_code",
                "my_number",
                "seion_kana",
                "name_kanji",
                "birth_date",
                "sex",
            )
        ),
    )
    latest: dict[str, Any] = {}
    for row in bind.execute(sa.select(versions).order_by(versions.c.version)):
        kana = seion(row.name_kana)
        bind.execute(
            sa.update(versions)
            .where(versions.c.id == row.id)
            .values(sequence_number=row.version, seion_kana=kana)
        )
        latest[row.juminhyo_code] = row
    for row in latest.values():
        bind.execute(
            sa.insert(current).values(
                juminhyo_code=row.juminhyo_code,
                version_id=row.id,
                sequence_number=row.version,
                removed=False,
                municipality_code=row.municipality_code,
                my_number=row.my_number,
                seion_kana=seion(row.name_kana),
                name_kanji=row.name_kanji,
                birth_date=row.birth_date,
                sex=row.sex,
            )
        )


def downgrade() -> None:
    op.drop_index("ix_held_changes_person", table_name="held_changes")
    op.drop_table("held_changes")
    for name in (
        "ix_resident_current_kanji",
        "ix_resident_current_kana",
        "ix_resident_current_my_number",
    ):
        op.drop_index(name, table_name="resident_current")
    op.drop_table("resident_current")
    with op.batch_alter_table("resident_versions") as batch:
        for column in reversed(_NEW_COLUMNS):
            batch.drop_column(column.name)
