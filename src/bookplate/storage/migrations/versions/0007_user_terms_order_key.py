"""Search: the name terms carry the user's place in the default order.

``user_terms.order_key`` holds, on the rows of the name fields (first, last and middle name),
``rows.user_order_key``: the user's last name, first name and primary ID sort keys in one
string that sorts like the three. ``ix_user_terms_search`` (institution, field, term,
order_key, user_pk) replaces ``ix_user_terms_lookup``: the page of a name search is an ordered
range read of that index with LIMIT, without a look-up in ``users`` per matching user.

Existing rows get their key from the ``users`` sort columns (the same values ``user_row``
wrote). On PostgreSQL the old index is dropped before the update so that only the primary key
is maintained meanwhile; run ``VACUUM ANALYZE user_terms`` afterwards (the updated pages are
not all-visible until then, so the count is not index-only yet). On 1,000,000 users (about
2.5 million name rows) it took 113 s on a loaded 2-core machine, then 29 s for ``VACUUM
ANALYZE``; it blocks writes to ``user_terms`` meanwhile.

Revision ID: 0007_user_terms_order_key
Revises: 0006_auth_profiles
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_user_terms_order_key"
down_revision = "0006_auth_profiles"
branch_labels = None
depends_on = None

# rows.ORDERED_TERM_FIELDS at the time of this migration.
_NAME_FIELDS = "('first_name', 'last_name', 'middle_name')"


def _key_sql(char: str) -> str:
    """``rows.order_key(users.last_name_sort, users.first_name_sort, users.primary_id_norm)``
    in SQL; ``char`` is the dialect's function from code point to character."""
    one, two = f"{char}(1)", f"{char}(2)"
    return " || ".join(
        f"replace(users.{column}, {one}, {one} || {two}) || {one} || {one}"
        for column in ("last_name_sort", "first_name_sort", "primary_id_norm")
    )


def upgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    op.add_column(
        "user_terms",
        sa.Column(
            "order_key",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=True,
        ),
    )
    op.drop_index("ix_user_terms_lookup", table_name="user_terms")
    if postgresql:
        key = _key_sql("chr")
        op.execute(
            f"UPDATE user_terms SET order_key = {key} FROM users "  # noqa: S608 - SQL from constants of this migration only
            f"WHERE users.id = user_terms.user_pk AND user_terms.field IN {_NAME_FIELDS}"
        )
    else:
        key = _key_sql("char")
        op.execute(
            f"UPDATE user_terms SET order_key = (SELECT {key} FROM users "  # noqa: S608 - SQL from constants of this migration only
            f"WHERE users.id = user_terms.user_pk) WHERE field IN {_NAME_FIELDS}"
        )
    op.create_index(
        "ix_user_terms_search",
        "user_terms",
        ["institution", "field", "term", "order_key", "user_pk"],
        unique=False,
    )
    if postgresql:
        op.execute("ANALYZE user_terms")


def downgrade() -> None:
    op.drop_index("ix_user_terms_search", table_name="user_terms")
    op.create_index(
        "ix_user_terms_lookup",
        "user_terms",
        ["institution", "field", "term", "user_pk"],
        unique=False,
    )
    op.drop_column("user_terms", "order_key")
