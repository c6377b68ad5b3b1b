"""A round never stays without a questionnaire: one that opened while none was active gets one as soon as a
questionnaire is activated, and the coordinator is warned before the fifth meeting is recorded."""

from __future__ import annotations

import sqlalchemy as sa

from app.feedback import queries
from app.feedback.models import FeedbackRound, Instrument
from app.feedback.services import instruments, responses
from app.meetings import services as meetings
from app.timeutil import utcnow


def record(meeting, people):
    meetings.record_meeting(None, meeting, status="held", now=utcnow(),
                            attendance={p.id: "present" for p in people})


def test_a_round_opened_without_a_questionnaire_gets_one_when_one_is_activated(
        db, group, crew, past_meetings, coordinator):
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Instrument)) == 0
    for meeting in past_meetings[:4]:
        record(meeting, crew)
    warning = queries.missing_questionnaire()
    assert warning is not None and [g.id for g in warning.groups_due] == [group.id] and warning.waiting == []

    record(past_meetings[4], crew)
    the_round = db.session.scalars(sa.select(FeedbackRound)).one()
    assert the_round.instrument_id is None and queries.missing_questionnaire().waiting == [the_round]

    shipped = instruments.ensure_shipped_instrument()  # loads and activates: the waiting round takes it
    db.session.commit()
    assert the_round.instrument_id == shipped.id and shipped.locked
    assert queries.missing_questionnaire() is None
    definition = responses.round_definition(the_round)
    answers = {i.code: str(i.values[0]) for i in definition.items if i.is_numeric}
    responses.submit_response(crew[0], the_round, answers, utcnow())  # the members can answer now


def test_a_scoped_coordinator_is_warned_only_about_their_organisation(
        db, group, crew, past_meetings, other_org):
    for meeting in past_meetings[:4]:
        record(meeting, crew)
    assert [g.id for g in queries.missing_questionnaire(group.organisation_id).groups_due] == [group.id]
    assert queries.missing_questionnaire(other_org.id).groups_due == []


def test_no_warning_while_a_questionnaire_is_active(db, group, crew, past_meetings):
    instruments.ensure_shipped_instrument()
    for meeting in past_meetings[:4]:
        record(meeting, crew)
    assert queries.missing_questionnaire() is None


def test_the_coordinators_home_says_so_before_the_fifth_meeting_is_recorded(
        client, auth, db, group, crew, past_meetings, coordinator):
    for meeting in past_meetings[:4]:
        record(meeting, crew)
    db.session.commit()
    auth.login(coordinator)
    page = client.get("/").get_data(as_text=True)
    assert 'id="no-questionnaire"' in page and group.name in page.split('id="no-questionnaire"', 1)[1]
    instruments.ensure_shipped_instrument()
    db.session.commit()
    assert 'id="no-questionnaire"' not in client.get("/").get_data(as_text=True)
