"""Meeting fixtures: a group with eight members and a past series to record."""

from datetime import date, time, timedelta

import pytest

from app.programme import services as programme
from app.scheduling import services as scheduling
from tests.conftest import TODAY, make_user


@pytest.fixture
def crew(db, group, member):
    """The persona group's members: the persona member and seven more, all since a year ago."""
    people = [member]
    for i in range(7):
        person = make_user(f"m{i}@example.org", roles=["member"], name=f"Member {i}")
        programme.add_member(None, group, person, joined_on=TODAY - timedelta(days=400))
        people.append(person)
    for ms in group.memberships:
        ms.joined_on = TODAY - timedelta(days=400)
    db.session.flush()
    return people


@pytest.fixture
def past_meetings(db, group, crew, leader):
    """Twelve past meetings of the group (1st and 3rd Wednesday), led by the persona leader."""
    from tests.conftest import give_training

    give_training(leader, "leader", completed_on=TODAY - timedelta(days=3000))
    scheduling.save_schedule(None, group, kind="nth_weekday", weekday=2, weeks=[1, 3], start_time=time(14, 0))
    start = date(TODAY.year - 1, TODAY.month, 1)
    scheduling.generate_meetings(None, group, start, start + timedelta(days=200))
    import sqlalchemy as sa

    from app.scheduling.models import Meeting

    meetings = db.session.scalars(
        sa.select(Meeting).where(Meeting.group_id == group.id).order_by(Meeting.starts_at)
    ).all()[:12]
    for m in meetings:
        scheduling.assign_leaders(None, m, leader)
    db.session.flush()
    return meetings
