"""round aggregates: the sums of each closed round stored once (responses per atom, subscale n, sum, sum of
squares and partial count), filled for the rounds already closed, so pages need not sum history on each request

Revision ID: d4a7e1c93b20
Revises: c10f22402150
Create Date: 2026-12-07 02:00:00.000000

One row per closed round, atom and measure, as app.disclosure.queries defines them: the atom is the whole round
(source and profession "*") or one source × profession of it ("unknown" for no profession); the measure is
"responses" or a subscale key. Every aggregated round has its whole-round "responses" row, with n = 0 when
nobody answered. The fill runs the same sums as the app's live readers over plain tables of the columns that
exist at this revision, a page of rounds at a time.
"""
from collections import defaultdict

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4a7e1c93b20'
down_revision = 'c10f22402150'
branch_labels = None
depends_on = None

PAGE = 500  # rounds per read and insert
ANY, UNKNOWN, RESPONSES = "*", "unknown", "responses"

rounds = sa.table("feedback_rounds", sa.column("id", sa.Integer), sa.column("status", sa.String))
responses = sa.table("responses", sa.column("id", sa.String), sa.column("round_id", sa.Integer),
                     sa.column("source", sa.String), sa.column("profession", sa.String))
scores = sa.table("response_scores", sa.column("response_id", sa.String), sa.column("subscale", sa.String),
                  sa.column("score", sa.Float), sa.column("answered", sa.Integer), sa.column("missing", sa.Integer))
aggregates = sa.table(
    "round_aggregates", sa.column("round_id", sa.Integer), sa.column("source", sa.String),
    sa.column("profession", sa.String), sa.column("measure", sa.String), sa.column("n", sa.Integer),
    sa.column("total", sa.Float), sa.column("total_sq", sa.Float), sa.column("partial", sa.Integer),
)


def upgrade():
    op.create_table('round_aggregates',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=15), nullable=False),
    sa.Column('profession', sa.String(length=20), nullable=False),
    sa.Column('measure', sa.String(length=121), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('total_sq', sa.Float(), nullable=False),
    sa.Column('partial', sa.Integer(), nullable=False),
    sa.CheckConstraint('n >= 0 AND partial >= 0', name=op.f('ck_round_aggregates_counts')),
    sa.ForeignKeyConstraint(['round_id'], ['feedback_rounds.id'],
                            name=op.f('fk_round_aggregates_round_id_feedback_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'source', 'profession', 'measure', name=op.f('pk_round_aggregates'))
    )
    _fill(op.get_bind())


def _atoms(split):
    if not split:
        return [sa.literal(ANY), sa.literal(ANY)], []
    return [responses.c.source, responses.c.profession], [responses.c.source, responses.c.profession]


def _rows(bind, ids):
    rows = {(rid, ANY, ANY, RESPONSES): [0, 0.0, 0.0, 0] for rid in ids}
    for split in (False, True):
        columns, group = _atoms(split)
        for rid, source, profession, n in bind.execute(
            sa.select(responses.c.round_id, *columns, sa.func.count())
            .where(responses.c.round_id.in_(ids)).group_by(responses.c.round_id, *group)
        ):
            rows.setdefault((rid, source, profession or UNKNOWN, RESPONSES), [0, 0.0, 0.0, 0])
            rows[(rid, source, profession or UNKNOWN, RESPONSES)][0] += int(n)
        merged = defaultdict(lambda: [0, 0.0, 0.0, 0])
        for rid, source, profession, key, n, total, total_sq, partial in bind.execute(
            sa.select(responses.c.round_id, *columns, scores.c.subscale, sa.func.count(scores.c.score),
                      sa.func.sum(scores.c.score), sa.func.sum(scores.c.score * scores.c.score),
                      sa.func.sum(sa.case((scores.c.missing > 0, 1), else_=0)))
            .join(scores, scores.c.response_id == responses.c.id)
            .where(responses.c.round_id.in_(ids), scores.c.answered > 0)
            .group_by(responses.c.round_id, *group, scores.c.subscale)
        ):
            cell = merged[(rid, source, profession or UNKNOWN, key)]
            cell[0] += int(n or 0)
            cell[1] += float(total or 0.0)
            cell[2] += float(total_sq or 0.0)
            cell[3] += int(partial or 0)
        rows.update(merged)
    return [{"round_id": rid, "source": source, "profession": profession, "measure": measure, "n": n,
             "total": total, "total_sq": total_sq, "partial": partial}
            for (rid, source, profession, measure), (n, total, total_sq, partial) in sorted(rows.items())]


def _fill(bind):
    """Aggregate every closed round, a page of rounds at a time."""
    last = 0
    while True:
        ids = list(bind.execute(
            sa.select(rounds.c.id).where(rounds.c.status == "closed", rounds.c.id > last)
            .order_by(rounds.c.id).limit(PAGE)
        ).scalars())
        if not ids:
            return
        bind.execute(aggregates.insert(), _rows(bind, ids))
        last = ids[-1]


def downgrade():
    op.drop_table('round_aggregates')
