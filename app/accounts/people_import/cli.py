"""`flask people import FILE [--dry-run]`: the people import of the coordinators' page, from the command line.

Exit status: 0 when every row is new, updated or unchanged; 3 when some rows were refused (the others are
imported, unless --dry-run); 1 when the file itself cannot be imported (nothing is done); 2 for a usage error.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import force_locale

from app.accounts import services as accounts
from app.accounts.people_import import rules as import_rules
from app.accounts.people_import import services as imports
from app.errors import DomainError
from app.extensions import db
from app.sqlite import write_intent

ROWS_REFUSED = 3


@click.group("people")
def people_cli():
    """Bring people in from HR spreadsheets."""


def _read(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(import_rules.MAX_FILE_BYTES + 1)


def _echo_result(result: imports.ImportResult) -> None:
    click.echo("row\toutcome\te-mail\tname\torganisation\tdetails")
    for row in result.rows:
        click.echo(f"{row.line}\t{row.outcome}\t{row.email}\t{row.name}\t{row.organisation}\t"
                   + "; ".join(row.details))
    counts = result.counts
    click.echo(
        f"{'Dry run: ' if result.dry_run else ''}{counts['new']} new, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['refused']} refused; {result.memberships} memberships, "
        f"{result.invitations} invitations" + ("; nothing changed." if result.dry_run else ".")
    )


@people_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print what would happen to every row; change nothing.")
@click.option("--as", "as_email", metavar="EMAIL", default=None,
              help="Import as this coordinator (their organisation only, if they coordinate one; they are named "
                   "in the audit log and the invitations). Default: the system, for the whole programme.")
@click.option("--lang", type=click.Choice(["en", "zh_CN"]), default=None,
              help="Language of the reasons printed (default: the app's default language).")
@with_appcontext
def import_command(file: Path, dry_run: bool, as_email: str | None, lang: str | None):
    """Import people and their group memberships from FILE (XLSX or CSV: UTF-8, UTF-8 with BOM or GB18030).

    Prints every row's outcome (new, updated, unchanged, refused with the reason). Importing the same file
    again changes nothing. New people are sent an invitation by `flask notify send-due`.
    """
    from flask import current_app

    with force_locale(lang or current_app.config["BABEL_DEFAULT_LOCALE"]), write_intent():
        actor = None
        if as_email:
            actor = accounts.find_user_by_email(as_email)
            if actor is None or not actor.has_role("coordinator"):
                raise click.ClickException(f"No coordinator with e-mail {as_email!r}.")
        content = _read(file)
        try:
            parsed = imports.parse_file(content)
            result = imports.import_people(actor, parsed.rows, dry_run=dry_run, source={
                "via": "cli", "filename": file.name, "sha256": parsed.digest})
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
        if dry_run:
            db.session.rollback()  # belt and braces: a dry run writes nothing
        else:
            db.session.commit()
        _echo_result(result)
    if result.refused:
        click.get_current_context().exit(ROWS_REFUSED)
