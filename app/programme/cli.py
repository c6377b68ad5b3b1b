"""Operator commands: flask organisations create | list."""

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from app.errors import DomainError
from app.extensions import db
from app.programme import services
from app.programme.models import ORG_KINDS, Organisation


@click.group("organisations")
def organisations_cli():
    """Create and list the programme's organisations."""


@organisations_cli.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(ORG_KINDS), default="hospital", show_default=True)
@with_appcontext
def create(name, kind):
    """Create an organisation (e.g. a hospital of the union programme)."""
    try:
        organisation = services.create_organisation(None, name=name, kind=kind)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"Created organisation {organisation.id}: {organisation.name} ({organisation.kind}).")


@organisations_cli.command("list")
@with_appcontext
def list_organisations():
    """Every organisation: id, name, kind and whether it is active (tab-separated)."""
    for org in db.session.scalars(sa.select(Organisation).order_by(Organisation.name)):
        click.echo(f"{org.id}\t{org.name}\t{org.kind}\t{'active' if org.active else 'inactive'}")
