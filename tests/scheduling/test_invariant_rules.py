"""The meeting invariants as pure rules (scheduling.rules.meeting_problems), without an app or a database."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.accounts import rules as eligibility
from app.accounts.rules import Training
from app.scheduling import rules
from app.scheduling.rules import LeaderFacts, Problem

DAY = date(2031, 3, 5)
QUALIFIED = (Training("leader", date(2020, 1, 1)),)
TRAINEE = (Training("leader_in_training", date(2020, 1, 1)),)


def leader(user_id=1, role="lead", records=QUALIFIED, **facts):
    values = {"active": True, "holds_leader_role": True, "member_of_group": False, "overlapping": False, **facts}
    return LeaderFacts(user_id=user_id, role=role, records=tuple(records), **values)


def codes(problems):
    return [(p.code, p.role, p.user_id) for p in problems]


def test_a_scheduled_meeting_with_an_eligible_lead_breaks_nothing():
    assert rules.meeting_problems("scheduled", DAY, [leader()]) == []


def test_a_scheduled_meeting_without_a_lead_is_flagged_but_not_blocked():
    problems = rules.meeting_problems("scheduled", DAY, [])
    assert problems == [Problem(rules.NO_LEAD)]
    assert rules.blocking("scheduled", problems) == []


def test_a_held_meeting_without_a_lead_breaks_the_one_lead_rule():
    problems = rules.meeting_problems("held", DAY, [])
    assert problems == [Problem(rules.HELD_WITHOUT_LEAD)]
    assert rules.blocking("held", problems) == problems


def test_a_cancelled_meeting_is_bound_by_no_invariant():
    assert rules.meeting_problems("cancelled", DAY, [leader(active=False, member_of_group=True)]) == []


def test_a_lead_whose_training_expired_before_the_date_is_not_eligible_that_day():
    expired = (Training("leader", date(2020, 1, 1), valid_until=date(2031, 3, 4)),)
    assert codes(rules.meeting_problems("scheduled", DAY, [leader(records=expired)])) == [
        (eligibility.TRAINING_EXPIRED, "lead", 1)]
    assert rules.meeting_problems("scheduled", date(2031, 3, 4), [leader(records=expired)]) == []


def test_a_trainee_co_leads_only_beside_a_lead_qualified_on_that_date():
    expiring_lead = (Training("leader", date(2020, 1, 1), valid_until=date(2031, 3, 4)),)
    fine = rules.meeting_problems("scheduled", DAY, [leader(), leader(2, "co_lead", TRAINEE)])
    assert fine == []
    beside_lapsed = rules.meeting_problems("scheduled", DAY, [leader(records=expiring_lead),
                                                             leader(2, "co_lead", TRAINEE)])
    assert (eligibility.TRAINEE_NEEDS_QUALIFIED_LEAD, "co_lead", 2) in codes(beside_lapsed)
    assert (eligibility.TRAINING_EXPIRED, "lead", 1) in codes(beside_lapsed)


def test_a_trainee_may_not_lead_and_a_qualified_co_lead_needs_no_particular_lead():
    assert codes(rules.meeting_problems("held", DAY, [leader(records=TRAINEE)])) == [
        (eligibility.LEVEL_TOO_LOW, "lead", 1)]
    assert rules.meeting_problems("scheduled", DAY, [leader(), leader(2, "co_lead")]) == []


def test_two_leads_two_co_leads_and_one_person_in_both_roles_are_named():
    found = {p.code for p in rules.meeting_problems(
        "scheduled", DAY, [leader(1), leader(2), leader(3, "co_lead"), leader(3, "co_lead")])}
    assert {rules.TOO_MANY_LEADS, rules.TOO_MANY_CO_LEADS, rules.SAME_PERSON_TWICE} <= found


@pytest.mark.parametrize(("facts", "code"), [
    ({"active": False}, eligibility.INACTIVE),
    ({"member_of_group": True}, eligibility.MEMBER_OF_GROUP),
    ({"overlapping": True}, eligibility.OVERLAPPING_MEETING),
    ({"holds_leader_role": False}, rules.NO_LEADER_ROLE),
    ({"records": ()}, eligibility.NO_VERIFIED_TRAINING),
    ({"records": (Training("leader", date(2020, 1, 1), verified=False),)}, eligibility.NO_VERIFIED_TRAINING),
    ({"records": (Training("leader", date(2031, 3, 6)),)}, eligibility.TRAINING_NOT_YET_COMPLETED),
])
def test_each_leader_fact_breaks_its_own_rule_for_that_leader(facts, code):
    assert codes(rules.meeting_problems("scheduled", DAY, [leader(7, "lead", **facts)])) == [(code, "lead", 7)]


@given(
    status=st.sampled_from(["scheduled", "held"]),
    leaders=st.lists(st.builds(
        leader, user_id=st.integers(1, 4), role=st.sampled_from(["lead", "co_lead"]),
        records=st.sampled_from([QUALIFIED, TRAINEE, ()]), active=st.booleans(), member_of_group=st.booleans(),
        overlapping=st.booleans(), holds_leader_role=st.booleans(),
    ), max_size=3),
)
def test_nothing_is_blocking_exactly_when_every_invariant_holds(status, leaders):
    problems = rules.blocking(status, rules.meeting_problems(status, DAY, leaders))
    leads = [x for x in leaders if x.role == "lead"]
    co_leads = [x for x in leaders if x.role == "co_lead"]
    lead_level = eligibility.best_level_on(leads[0].records, DAY) if leads else None
    holds = (
        (leads or status == "scheduled") and len(leads) <= 1 and len(co_leads) <= 1
        and len({x.user_id for x in leaders}) == len(leaders)
        and all(x.active and x.holds_leader_role and not x.member_of_group and not x.overlapping
                and eligibility.best_level_on(x.records, DAY) in eligibility.levels_for(x.role) for x in leaders)
        and all(eligibility.best_level_on(x.records, DAY) != "leader_in_training"
                or lead_level in eligibility.QUALIFIED_LEVELS for x in co_leads)
    )
    assert (problems == []) == bool(holds)


def test_a_membership_covers_its_first_and_last_day():
    assert rules.membership_covers(date(2031, 1, 1), date(2031, 3, 5), DAY)
    assert rules.membership_covers(DAY, None, DAY)
    assert not rules.membership_covers(date(2031, 3, 6), None, DAY)
    assert not rules.membership_covers(date(2031, 1, 1), date(2031, 3, 4), DAY)
