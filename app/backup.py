"""`flask backup`: a consistent copy of the SQLite database while the app runs (SQLite's online backup)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.extensions import db


def backup_sqlite(database: str, output: Path) -> Path:
    """Copy a live SQLite database page by page into `output` with the online-backup API; returns the path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    target = sqlite3.connect(output)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()
    return output


@click.command("backup")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the copy (default: instance/backups/balint-<UTC time>.db).")
@with_appcontext
def backup_command(output):
    """Write a consistent copy of the SQLite database; for PostgreSQL use pg_dump (see the README)."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        raise click.ClickException(
            "flask backup copies a SQLite database file; back up PostgreSQL with pg_dump (see the README)."
        )
    if output is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        output = Path(current_app.instance_path) / "backups" / f"balint-{stamp}.db"
    path = backup_sqlite(url.database, output)
    click.echo(f"Backup written to {path}")
