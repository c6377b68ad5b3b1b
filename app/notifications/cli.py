"""`flask notify ...`: sending what is due, run by a systemd timer or cron every few minutes."""

import click


@click.group("notify")
def notify_cli():
    """Send due notifications (reminders)."""
