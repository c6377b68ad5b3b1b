"""Operator commands: flask instruments load FILE | list; flask feedback verify-scores [--fix]."""

from contextlib import nullcontext
from pathlib import Path

import click
from flask.cli import with_appcontext

from app.errors import DomainError
from app.extensions import db
from app.feedback.instrument_files import InstrumentError
from app.feedback.services import instruments as service
from app.feedback.services import scores
from app.sqlite import write_intent


@click.group("instruments")
def instruments_cli():
    """Load and list questionnaire definitions."""


@instruments_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--activate", is_flag=True, help="Activate it at once (refused while a required permission is missing).")
@with_appcontext
def load(file: Path, activate: bool):
    """Check FILE (YAML or JSON) and store it as a new questionnaire version."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException(f"{file} is not UTF-8 text.") from None
    with write_intent():
        try:
            instrument = service.import_instrument(None, text, file.name)
            if activate:
                service.activate(None, instrument)
        except InstrumentError as exc:
            db.session.rollback()
            raise click.ClickException(f"{file} was refused:\n  " + "\n  ".join(exc.messages)) from None
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
        db.session.commit()
    state = "active" if instrument.active else "inactive"
    click.echo(f"Loaded {instrument.code} version {instrument.version} ({state}).")


@instruments_cli.command("list")
@with_appcontext
def list_instruments():
    """List every questionnaire version with its state and the rounds that used it."""
    for instrument, used in service.list_instruments():
        state = "active" if instrument.active else "inactive"
        locked = "locked" if instrument.locked else "open"
        click.echo(f"{instrument.code}\tv{instrument.version}\t{state}\t{locked}\t{used} rounds\t{instrument.title_en}")


@click.group("feedback")
def feedback_cli():
    """Check what the feedback rounds store."""


@feedback_cli.command("verify-scores")
@click.option("--fix", is_flag=True,
              help="Store the recomputed scores of every response that differs (after a fix to the scoring code).")
@click.option("--show", default=10, show_default=True, metavar="N", help="How many differences to print.")
@with_appcontext
def verify_scores(fix: bool, show: int):
    """Recompute every response's subscale scores from its answers and compare them with the stored ones.

    Then recomputes the sums of every closed round whose sums are stored (round_aggregates) from the stored
    scores and compares them too. Exits 1 when any stored score or round sum is missing, extra or different
    (beyond 1e-9); with --fix, stores the recomputed scores and sums instead and exits 0.
    """
    with write_intent() if fix else nullcontext():
        try:
            result = scores.verify_scores(fix=fix, keep=max(show, 0))
            sums = scores.verify_round_aggregates(fix=fix, keep=max(show, 0))
        except BaseException:
            db.session.rollback()
            raise
        if fix and (result.fixed or sums.fixed):
            # Changed scores change the means the coordinator's home stores per group: store them all again
            # (app.trends.signals; the stored scores are written outside the session's change tracking).
            from flask import current_app

            from app.timeutil import utcnow
            from app.trends.signals import refresh as refresh_signals

            refresh_signals(utcnow(), current_app.config["MIN_RESPONSES"], everything=True)
        if fix:
            db.session.commit()
        else:
            db.session.rollback()  # a check writes nothing
    click.echo(f"Checked {result.responses} responses ({result.rows} stored scores): "
               f"{result.differences} differences in {result.responses_differing} responses.")
    for difference in result.first:
        click.echo(f"  {difference.describe()}")
    if result.differences > len(result.first):
        click.echo(f"  ... and {result.differences - len(result.first)} more.")
    click.echo(f"Checked the stored sums of {sums.rounds} closed rounds ({sums.rows} rows): "
               f"{sums.differences} differences in {sums.rounds_differing} rounds; "
               f"{sums.not_aggregated} closed rounds not aggregated yet (read live until send-due stores them).")
    for difference in sums.first:
        click.echo(f"  {difference.describe()}")
    if sums.differences > len(sums.first):
        click.echo(f"  ... and {sums.differences - len(sums.first)} more.")
    if fix and result.fixed:
        click.echo(f"Stored the recomputed scores of {result.fixed} responses.")
    if fix and sums.fixed:
        click.echo(f"Stored the sums of {sums.fixed} closed rounds again.")
    if not fix and not (result.ok and sums.ok):
        raise SystemExit(1)
