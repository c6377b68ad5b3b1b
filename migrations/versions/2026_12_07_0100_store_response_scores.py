"""store response scores: each response's subscale scores in a table of their own, filled for the responses
already stored, so aggregates sum stored scores instead of scoring every answer again on every request

Revision ID: c10f22402150
Revises: b7f3c2d41e08
Create Date: 2026-12-07 01:00:00.000000

One row per response and subscale of the instrument version it answered: the score (NULL when more than half
the subscale's items are unanswered), how many of its items were answered and how many not. The rows are
computed with the app's own pure scoring functions (app.feedback.scoring: no database) from each instrument
version's stored definition and the response's answers, read with plain tables of the columns that exist at
this revision, a page of responses at a time (memory stays flat on a large database).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c10f22402150'
down_revision = 'b7f3c2d41e08'
branch_labels = None
depends_on = None

PAGE = 1000  # responses per read and insert

instruments = sa.table("instruments", sa.column("id", sa.Integer), sa.column("definition", sa.JSON))
responses = sa.table("responses", sa.column("id", sa.String), sa.column("instrument_id", sa.Integer))
answers = sa.table("answers", sa.column("response_id", sa.String), sa.column("item_code", sa.String),
                   sa.column("value", sa.Integer))
response_scores = sa.table(
    "response_scores", sa.column("response_id", sa.String), sa.column("subscale", sa.String),
    sa.column("score", sa.Float), sa.column("answered", sa.Integer), sa.column("missing", sa.Integer),
)


def upgrade():
    op.create_table('response_scores',
    sa.Column('response_id', sa.String(length=32), nullable=False),
    sa.Column('subscale', sa.String(length=121), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('missing', sa.Integer(), nullable=False),
    sa.CheckConstraint('answered >= 0 AND missing >= 0', name=op.f('ck_response_scores_counts')),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'],
                            name=op.f('fk_response_scores_response_id_responses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('response_id', 'subscale', name=op.f('pk_response_scores')),
    sqlite_with_rowid=False
    )
    _fill(op.get_bind())


def _fill(bind):
    """Score every stored response from its answers and store the rows."""
    from app.feedback.scoring import definition_from_dict, subscale_results

    definitions = {instrument_id: definition_from_dict(data)
                   for instrument_id, data in bind.execute(sa.select(instruments.c.id, instruments.c.definition))}
    last = ""
    while True:
        page = bind.execute(
            sa.select(responses.c.id, responses.c.instrument_id)
            .where(responses.c.id > last).order_by(responses.c.id).limit(PAGE)
        ).all()
        if not page:
            return
        ids = [response_id for response_id, _instrument_id in page]
        given = {response_id: {} for response_id in ids}
        for response_id, code, value in bind.execute(
            sa.select(answers.c.response_id, answers.c.item_code, answers.c.value)
            .where(answers.c.response_id.in_(ids), answers.c.value.is_not(None))
        ):
            given[response_id][code] = value
        rows = [
            {"response_id": response_id, "subscale": r.subscale, "score": r.score, "answered": r.answered,
             "missing": r.missing}
            for response_id, instrument_id in page
            for r in subscale_results(definitions[instrument_id], given[response_id])
        ]
        if rows:
            bind.execute(response_scores.insert(), rows)
        last = ids[-1]


def downgrade():
    op.drop_table('response_scores')
