"""Scheduling fixtures: a group with a twice-monthly rule."""

from datetime import time

import pytest

from app.scheduling import services


@pytest.fixture
def scheduled_group(db, group):
    """The persona group meeting on the 1st and 3rd Wednesday at 14:00 Beijing time."""
    services.save_schedule(None, group, kind="nth_weekday", weekday=2, weeks=[1, 3], start_time=time(14, 0))
    return group
