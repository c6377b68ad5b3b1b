"""`flask trends ...`: storing the per-group signals of the coordinator's home (app.trends.signals)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.extensions import db
from app.sqlite import write_intent
from app.timeutil import utcnow


@click.group("trends")
def trends_cli():
    """Trends: the stored per-group signals of the coordinator's home."""


@trends_cli.command("refresh-signals")
@click.option("--due-only", is_flag=True, help="Only the groups whose signals are missing, stale or over an hour old "
                                               "(what `flask notify send-due` does on each run).")
@with_appcontext
def refresh_signals(due_only):
    """Compute and store every group's signals (early warnings, flagged meetings) now, in one transaction.

    Fills the table for a database that has none yet (after `flask db upgrade`); safe to run at any time.
    """
    from app.trends import signals

    with write_intent():
        count = signals.refresh(utcnow(), current_app.config["MIN_RESPONSES"], everything=not due_only)
        db.session.commit()
    click.echo(f"Stored the signals of {count} group(s).")
