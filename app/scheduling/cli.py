"""`flask schedule extend`: generate every group's meetings further ahead from its rule."""

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from app.errors import DomainError
from app.extensions import db
from app.programme.models import Group
from app.scheduling import services
from app.scheduling.models import Schedule
from app.timeutil import local_today


@click.group("schedule")
def schedule_cli():
    """Meeting series."""


@schedule_cli.command("extend")
@click.option("--months", default=6, show_default=True, type=click.IntRange(1, 24),
              help="How many months past the last generated date (or today).")
@click.option("--group", "group_id", type=int, default=None, help="Only this group (id).")
@with_appcontext
def extend(months, group_id):
    """Extend the series of every active group with a rule; edited, recorded or cancelled meetings stay as they are."""
    query = sa.select(Group).join(Schedule).where(Group.status == "active").order_by(Group.id)
    if group_id is not None:
        query = query.where(Group.id == group_id)
    today = local_today()
    for group in db.session.scalars(query).all():
        try:
            result = services.extend_schedule(None, group, months, today)
        except DomainError as exc:
            db.session.rollback()
            click.echo(f"{group.name}: {exc.message}", err=True)
            continue
        db.session.commit()
        note = f" (no official holiday schedule yet for {', '.join(map(str, result.years_without_schedule))})" \
            if result.years_without_schedule else ""
        click.echo(f"{group.name}: {len(result.created)} new meetings until "
                   f"{group.schedule.generated_until.isoformat()}{note}")
