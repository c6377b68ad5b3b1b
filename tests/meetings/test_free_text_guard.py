"""The one identifier guard (meetings.services.check_deidentified) on every free text other people read that is
written outside the record form: interview notes, theme names, group names and descriptions, training notes."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.accounts import services as accounts
from app.errors import DomainError
from app.feedback.models import Response
from app.feedback.services import interviews
from app.meetings import services
from app.programme import services as programme
from app.timeutil import utcnow
from tests.factories import GUARD, make_group, round_of_five

IDENTIFIERS = "患者住院号123456 电话13812345678"


@pytest.fixture
def interview_round(db, group, crew, past_meetings):
    the_round = round_of_five(group, past_meetings[:5], crew, GUARD)
    the_round.mode = "interview"
    db.session.flush()
    return the_round


@pytest.mark.parametrize("notes", [IDENTIFIERS, "12床患儿 出生日期：2019-05-01"])
def test_interview_notes_holding_patient_identifiers_are_refused(db, interview_round, leader, notes):
    with pytest.raises(DomainError) as refused:
        interviews.record_interview(leader, interview_round, {"a1": 4}, notes, utcnow())
    assert refused.value.field == "notes" and "Records hold no patient identifiers" in refused.value.message
    assert db.session.scalars(sa.select(Response)).all() == []
    interviews.record_interview(leader, interview_round, {"a1": 4}, "She felt heard for the first time.", utcnow())


def test_theme_names_holding_patient_identifiers_are_refused(db, coordinator):
    with pytest.raises(DomainError) as refused:
        services.add_theme(coordinator, code="bed", name_en="The child in bed 12", name_zh="床边")
    assert refused.value.field == "name_en"
    services.add_theme(coordinator, code="night_shift", name_en="Night shifts", name_zh="夜班")


def test_group_names_and_descriptions_holding_patient_identifiers_are_refused(db, org, group):
    with pytest.raises(DomainError) as refused:
        programme.create_group(None, organisation_id=org.id, name="Ward 5", description=f"Started after {IDENTIFIERS}")
    assert refused.value.field == "description"
    with pytest.raises(DomainError) as refused:
        programme.update_group(None, group, name="病历号12345 group")
    assert refused.value.field == "name"
    make_group(org, "Neonatal Balint group", description="Nurses of the neonatal unit meet twice a month for an hour.")


def test_training_notes_holding_patient_identifiers_are_refused(db, coordinator, leader):
    with pytest.raises(DomainError) as refused:
        accounts.add_training_record(coordinator, leader, kind="Balint", level="leader", issuer="Society",
                                     completed_on=date(2020, 1, 1), note=f"Case: {IDENTIFIERS}")
    assert refused.value.field == "note"
    record = leader.training_records[0]
    with pytest.raises(DomainError):
        accounts.update_training_record(coordinator, record, note="DOB 2019-05-01")
    accounts.update_training_record(coordinator, record, note="Supervised by Dr Wang, 12 sessions in 2 years.",
                                    valid_until=date.today() + timedelta(days=365))
