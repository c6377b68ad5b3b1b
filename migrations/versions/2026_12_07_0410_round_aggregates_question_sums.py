"""round aggregates: the questions' sums too (measure "item:<code>"), for the reliability (Cronbach's alpha) shown
beside each subscale, filled for the rounds already aggregated

Revision ID: 8b3e51c0a7d2
Revises: b34d73067d32
Create Date: 2026-12-07 04:10:00.000000

No column changes. Every aggregated round (one with its whole-round "responses" row) gets, per atom — the whole
round, and each source × profession ("unknown" for no profession) — one row per question answered: n, sum and sum
of squares of the answers as given, partial 0. The same sums as app.disclosure.queries.item_sums, over plain tables
of the columns that exist at this revision, a page of rounds at a time. Downgrade removes them.
"""
from collections import defaultdict

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8b3e51c0a7d2'
down_revision = 'b34d73067d32'
branch_labels = None
depends_on = None

PAGE = 500  # rounds per read and insert
ANY, UNKNOWN, RESPONSES, ITEM = "*", "unknown", "responses", "item:"

responses = sa.table("responses", sa.column("id", sa.String), sa.column("round_id", sa.Integer),
                     sa.column("source", sa.String), sa.column("profession", sa.String))
answers = sa.table("answers", sa.column("response_id", sa.String), sa.column("item_code", sa.String),
                   sa.column("value", sa.Integer))
aggregates = sa.table(
    "round_aggregates", sa.column("round_id", sa.Integer), sa.column("source", sa.String),
    sa.column("profession", sa.String), sa.column("measure", sa.String), sa.column("n", sa.Integer),
    sa.column("total", sa.Float), sa.column("total_sq", sa.Float), sa.column("partial", sa.Integer),
)


def _rows(conn, round_ids):
    value = answers.c.value
    profession = sa.func.coalesce(responses.c.profession, UNKNOWN)
    sums = (sa.func.count(value), sa.func.sum(value), sa.func.sum(value * value))
    base = (sa.select(responses.c.round_id, responses.c.source, profession, answers.c.item_code, *sums)
            .join(responses, responses.c.id == answers.c.response_id)
            .where(responses.c.round_id.in_(round_ids), value.is_not(None)))
    out = defaultdict(lambda: [0, 0.0, 0.0])
    for rid, source, prof, code, n, total, total_sq in conn.execute(
            base.group_by(responses.c.round_id, responses.c.source, profession, answers.c.item_code)):
        for atom in ((rid, source, prof), (rid, ANY, ANY)):
            cell = out[(*atom, ITEM + code)]
            cell[0] += int(n)
            cell[1] += float(total or 0)
            cell[2] += float(total_sq or 0)
    return [{"round_id": rid, "source": source, "profession": prof, "measure": measure, "n": n, "total": total,
             "total_sq": total_sq, "partial": 0}
            for (rid, source, prof, measure), (n, total, total_sq) in sorted(out.items())]


def upgrade():
    conn = op.get_bind()
    a = aggregates.c
    marked = sa.select(a.round_id).where(a.source == ANY, a.measure == RESPONSES).order_by(a.round_id)
    last = 0
    while True:
        ids = list(conn.scalars(marked.where(a.round_id > last).limit(PAGE)))
        if not ids:
            break
        rows = _rows(conn, ids)
        if rows:
            conn.execute(sa.insert(aggregates), rows)
        last = ids[-1]


def downgrade():
    op.execute(sa.delete(aggregates).where(aggregates.c.measure.like("item:%")))
