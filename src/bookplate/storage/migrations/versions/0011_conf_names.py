"""Names of Alma's configuration that the import kept only as codes: a circulation desk's name,
a library's description, a code table's own description; and an enabled flag on libraries and
desks, so staff can retire one without losing the roles that name it.

Revision ID: 0011_conf_names
Revises: 0010_network
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_conf_names"
down_revision = "0010_network"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("libraries") as batch:
        batch.add_column(sa.Column("description", sa.String(1000), nullable=True))
        batch.add_column(
            sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("circulation_desks") as batch:
        batch.add_column(sa.Column("name", sa.String(255), nullable=True))
        batch.add_column(
            sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "code_tables",
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.PrimaryKeyConstraint("institution", "name", name="pk_code_tables"),
    )


def downgrade() -> None:
    op.drop_table("code_tables")
    with op.batch_alter_table("circulation_desks") as batch:
        batch.drop_column("enabled")
        batch.drop_column("name")
    with op.batch_alter_table("libraries") as batch:
        batch.drop_column("enabled")
        batch.drop_column("description")
