"""The fuhyo file (附票本人確認情報) and the outbox's destination (a CS sends to two hops).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("destination", sa.String(16), nullable=False, server_default="next_hop")
        )
    op.create_table(
        "fuhyo_versions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("juminhyo_code", sa.String(11), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("change_id", sa.String(36), nullable=False),
        sa.Column("municipality_code", sa.String(6), nullable=False),
        sa.Column("name_kanji", sa.String(100), nullable=False),
        sa.Column("name_gaiji_count", sa.Integer, nullable=False),
        sa.Column("name_kana", sa.String(100), nullable=False),
        sa.Column("seion_kana", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.String(10), nullable=False),
        sa.Column("sex", sa.SmallInteger, nullable=False),
        sa.Column("address_municipality_code", sa.String(6), nullable=False),
        sa.Column("address_text", sa.String(200), nullable=False),
        sa.Column("address_gaiji_count", sa.Integer, nullable=False),
        sa.Column("last_domestic_address", sa.String(200), nullable=False),
        sa.Column("last_domestic_address_gaiji_count", sa.Integer, nullable=False),
        sa.Column("change_date", sa.String(10), nullable=False),
        sa.Column("former_juminhyo_code", sa.String(11), nullable=False),
        sa.Column("keeping_municipality_code", sa.String(6), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("gaiji_flag", sa.Boolean, nullable=False),
        sa.Column("gaiji_pattern", sa.String(64), nullable=False),
        sa.Column("notice_kind", sa.SmallInteger, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("juminhyo_code", "version", name="uq_fuhyo_versions_code_version"),
    )
    op.create_table(
        "fuhyo_current",
        sa.Column("juminhyo_code", sa.String(11), primary_key=True),
        sa.Column("version_id", Id, nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("keeping_municipality_code", sa.String(6), nullable=False),
        sa.Column("seion_kana", sa.String(100), nullable=False),
        sa.Column("name_kanji", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.String(10), nullable=False),
        sa.Column("sex", sa.SmallInteger, nullable=False),
    )
    op.create_index("ix_fuhyo_current_kana", "fuhyo_current", ["seion_kana", "birth_date"])
    op.create_index("ix_fuhyo_current_kanji", "fuhyo_current", ["name_kanji", "birth_date"])


def downgrade() -> None:
    op.drop_index("ix_fuhyo_current_kanji", table_name="fuhyo_current")
    op.drop_index("ix_fuhyo_current_kana", table_name="fuhyo_current")
    op.drop_table("fuhyo_current")
    op.drop_table("fuhyo_versions")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("destination")
