"""Operator commands: flask users create | list | set-role | deactivate."""

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from app.accounts import services
from app.accounts.models import ROLES, User
from app.errors import DomainError
from app.extensions import db
from app.programme.models import Organisation


@click.group("users")
def users_cli():
    """Create and manage user accounts."""


def _org_id(name: str | None) -> int | None:
    if not name:
        return None
    org = db.session.scalar(sa.select(Organisation).where(Organisation.name == name))
    if org is None:
        raise click.ClickException(f"No organisation named {name!r}.")
    return org.id


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES))
@click.option("--password", default=None, help="Set a password now (else use an invitation or reset link).")
@click.option("--organisation", default=None, help="Limit a coordinator to this organisation (by name).")
@with_appcontext
def create(email, name, roles, password, organisation):
    """Create a user; the first coordinator of a production install is made this way."""
    org_id = _org_id(organisation)
    try:
        user = services.create_user(
            None, email=email, name=name, roles=list(roles), password=password,
            organisation_id=org_id, coordinator_org_id=org_id,
        )
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"Created {user.email} with roles {', '.join(sorted(user.roles))}.")
    if not password:
        click.echo("No password set: send a reset link from the log-in page, or run with --password.")


@users_cli.command("list")
@with_appcontext
def list_users():
    """List every user with roles and state."""
    for user in db.session.scalars(sa.select(User).order_by(User.email)):
        state = "active" if user.active else "inactive"
        click.echo(f"{user.email}\t{user.name}\t{','.join(sorted(user.roles))}\t{state}")


def _echo_flagged(user: User) -> None:
    """Say how many of the user's upcoming meetings the change left breaking a rule (they stay, flagged)."""
    from app.scheduling.services import flagged_meetings_of  # scheduling builds on accounts
    from app.timeutil import utcnow

    flagged = flagged_meetings_of(user.id, utcnow())
    if flagged:
        click.echo(f"{len(flagged)} upcoming meeting(s) of {user.email} now have a leader who is not eligible on "
                   "their date; they are flagged on the coordinators' home page and the groups' schedules.")


def _user(email: str) -> User:
    user = services.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with e-mail {email!r}.")
    return user


@users_cli.command("set-role")
@click.argument("email")
@click.argument("roles", nargs=-1, required=True, type=click.Choice(ROLES))
@click.option("--organisation", default=None, help="Limit a coordinator to this organisation (by name).")
@with_appcontext
def set_role(email, roles, organisation):
    """Make the user's roles exactly ROLES."""
    user = _user(email)
    try:
        services.set_roles(None, user, list(roles), coordinator_org_id=_org_id(organisation))
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"{user.email} now has roles {', '.join(sorted(user.roles))}.")
    _echo_flagged(user)


@users_cli.command("deactivate")
@click.argument("email")
@with_appcontext
def deactivate(email):
    """Deactivate a user: they are signed out and cannot log in."""
    user = _user(email)
    services.set_active(None, user, False)
    db.session.commit()
    click.echo(f"{user.email} is deactivated.")
    _echo_flagged(user)
