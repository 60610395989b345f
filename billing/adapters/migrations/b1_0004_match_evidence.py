"""billing: the evidence of closed-world plate matching (docs/no-stop.md).

``billing_passages.match_evidence``: the read's hypotheses, the candidates' posteriors, the
matched session and the runner-up, kept so that an operator and a disputing driver can see why
a car was charged. ``billing_sessions.entry_hypotheses``: the plate keys an unsure entry read
could be, which the exit matches against so the session joins up.

Revision ID: b1_0004
Revises: b1_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1_0004"
down_revision: str | Sequence[str] | None = "b1_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable columns: a plain ADD COLUMN on PostgreSQL and SQLite alike, no table rebuild
    op.add_column("billing_passages", sa.Column("match_evidence", sa.JSON(), nullable=True))
    op.add_column("billing_sessions", sa.Column("entry_hypotheses", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("billing_sessions") as batch:
        batch.drop_column("entry_hypotheses")
    with op.batch_alter_table("billing_passages") as batch:
        batch.drop_column("match_evidence")
