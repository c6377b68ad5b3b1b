"""Operator commands: flask api-token create | list | revoke."""

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from app.accounts.services import find_user_by_email
from app.api import services
from app.api.models import ApiToken
from app.errors import DomainError
from app.extensions import db
from app.sqlite import write_intent


@click.group("api-token")
def api_token_cli():
    """Create, list and revoke tokens for the JSON API (/api/v1)."""


def _user(email: str):
    user = find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with e-mail {email!r}.")
    return user


@api_token_cli.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for, to tell it apart later.")
@with_appcontext
def create(email, name):
    """Create a token for the user with this e-mail and print it (it is shown this once only)."""
    with write_intent():
        try:
            token, row = services.create_token(None, _user(email), name)
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
        db.session.commit()
    click.echo(token)
    click.echo(f"Token {row.id} ({row.prefix}…) for {email}. Store it now: it cannot be shown again.", err=True)


@api_token_cli.command("list")
@click.argument("email", required=False)
@with_appcontext
def list_tokens(email):
    """List tokens (of one user when EMAIL is given): id, prefix, user, name, created, last used, state."""
    query = sa.select(ApiToken).order_by(ApiToken.id)
    if email:
        query = query.where(ApiToken.user_id == _user(email).id)
    for row in db.session.scalars(query):
        state = "revoked" if row.revoked_at else "active"
        used = row.last_used_at.isoformat(timespec="minutes") if row.last_used_at else "never"
        click.echo(
            f"{row.id}\t{row.prefix}\t{row.user.email}\t{row.name}\t"
            f"{row.created_at.isoformat(timespec='minutes')}\t{used}\t{state}"
        )


@api_token_cli.command("revoke")
@click.argument("id_or_prefix")
@with_appcontext
def revoke(id_or_prefix):
    """Revoke the token with this id or prefix (refused when the prefix is ambiguous)."""
    with write_intent():
        found = services.find_tokens(id_or_prefix)
        if not found:
            raise click.ClickException(f"No token matches {id_or_prefix!r}.")
        if len(found) > 1:
            raise click.ClickException(
                f"{len(found)} tokens match {id_or_prefix!r}; give the id: {', '.join(str(t.id) for t in found)}."
            )
        try:
            services.revoke_token(None, found[0])
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
        db.session.commit()
    click.echo(f"Revoked token {found[0].id} ({found[0].prefix}…).")
