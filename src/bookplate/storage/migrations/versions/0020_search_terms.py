"""Search terms on the user row (issue 20, ``storage/term_vector.py``).

PostgreSQL: ``users.search_terms`` (``text[]``) holds every term of the user as
``code:term`` (``code``: the field's letter, ``term_vector.FIELD_CODES``), indexed by the
GIN index ``ix_users_search_terms`` on ``array_to_tsvector(search_terms)``; ``user_terms``
keeps only the rows of the name fields (first, last and middle name: they carry the default
order's ``order_key``). The upgrade
fills the column from ``user_terms`` in SQL and then deletes the other fields' rows; the
downgrade writes them back from the column (with a NULL ``order_key``, as they had) and drops
it. SQLite: the column is added and stays NULL; its terms stay in ``user_terms``.

Revision ID: 0020_search_terms
Revises: 0018_network_zone
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020_search_terms"
down_revision = "0018_network_zone"
branch_labels = None
depends_on = None

# The fields whose rows stay in user_terms below: first_name, last_name and middle_name
# (storage.rows.ORDERED_TERM_FIELDS when this was written).

# storage.term_vector.FIELD_CODES as written with this migration (they never change); a field
# without a letter keeps its name.
_CODES = {
    "primary_id": "p",
    "first_name": "f",
    "middle_name": "m",
    "last_name": "l",
    "job_category": "j",
    "user_group": "g",
    "campus_code": "c",
    "birth_date": "b",
    "email": "e",
    "phone_number": "t",
    "id_type": "y",
    "identifiers": "i",
    "block_type": "k",
    "note_type": "o",
    "note_text": "n",
    "statistic_category": "s",
    "role_type": "r",
}
_TO_CODE = (
    "CASE field "
    + " ".join(f"WHEN '{f}' THEN '{c}'" for f, c in _CODES.items())
    + " ELSE field END"
)
_TO_FIELD = (
    "CASE split_part(x.v, ':', 1) "
    + " ".join(f"WHEN '{c}' THEN '{f}'" for f, c in _CODES.items())
    + " ELSE split_part(x.v, ':', 1) END"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.add_column("users", sa.Column("search_terms", sa.Text(), nullable=True))
        return
    op.add_column("users", sa.Column("search_terms", postgresql.ARRAY(sa.Text()), nullable=True))
    # One pass over user_terms grouped by user, sorted as term_vector.lexemes sorts (code
    # point order: COLLATE "C"), then one UPDATE joined on the users' key.
    lexeme = f"(({_TO_CODE}) || ':' || term)"
    op.execute(
        "UPDATE users AS u SET search_terms = g.terms FROM ("  # noqa: S608 - constants only
        f' SELECT user_pk, array_agg({lexeme} ORDER BY {lexeme} COLLATE "C") AS terms'
        " FROM user_terms GROUP BY user_pk) AS g WHERE u.id = g.user_pk"
    )
    op.execute("UPDATE users SET search_terms = '{}' WHERE search_terms IS NULL")
    op.execute(
        "DELETE FROM user_terms WHERE field NOT IN ('first_name', 'last_name', 'middle_name')"
    )
    op.execute(
        "CREATE INDEX ix_users_search_terms ON users USING gin (array_to_tsvector(search_terms))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.drop_column("users", "search_terms")  # SQLite 3.35 and later drop a column
        return
    op.execute("DROP INDEX ix_users_search_terms")
    op.execute(
        "INSERT INTO user_terms (user_pk, institution, field, term, order_key)"  # noqa: S608 - constants only
        f" SELECT u.id, u.institution, {_TO_FIELD},"
        " substr(x.v, strpos(x.v, ':') + 1), NULL"
        " FROM users AS u CROSS JOIN LATERAL unnest(u.search_terms) AS x(v)"
        " WHERE split_part(x.v, ':', 1) NOT IN ('f', 'l', 'm')"
    )
    op.drop_column("users", "search_terms")
