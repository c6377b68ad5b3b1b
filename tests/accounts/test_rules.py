"""Leader eligibility (DOMAIN.md), tested without an app or a database."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.accounts import rules
from app.accounts.rules import CO_LEAD, LEAD, Training, eligibility_problems

D = date(2026, 6, 15)


def problems(records, as_role=LEAD, **kw):
    return eligibility_problems(active=kw.pop("active", True), records=records, on=D, as_role=as_role, **kw)


def test_a_verified_leader_in_force_may_lead_and_co_lead():
    records = [Training("leader", D - timedelta(days=10), D + timedelta(days=10))]
    assert problems(records, LEAD) == []
    assert problems(records, CO_LEAD) == []


def test_a_training_leader_may_lead():
    assert problems([Training("training_leader", D)]) == []


def test_unverified_training_does_not_count():
    assert problems([Training("leader", D - timedelta(days=1), verified=False)]) == [rules.NO_VERIFIED_TRAINING]


def test_no_training_at_all():
    assert problems([]) == [rules.NO_VERIFIED_TRAINING]


def test_a_leader_in_training_may_not_lead():
    assert problems([Training("leader_in_training", D - timedelta(days=1))]) == [rules.LEVEL_TOO_LOW]


def test_a_leader_in_training_co_leads_only_beside_a_qualified_lead():
    records = [Training("leader_in_training", D - timedelta(days=1))]
    assert problems(records, CO_LEAD, lead_level="leader") == []
    assert problems(records, CO_LEAD, lead_level="training_leader") == []
    assert problems(records, CO_LEAD, lead_level="leader_in_training") == [rules.TRAINEE_NEEDS_QUALIFIED_LEAD]
    assert problems(records, CO_LEAD, lead_level=None) == [rules.TRAINEE_NEEDS_QUALIFIED_LEAD]


def test_a_qualified_co_lead_needs_no_qualified_lead_beside_them():
    assert problems([Training("leader", D - timedelta(days=1))], CO_LEAD, lead_level=None) == []


def test_completed_on_the_day_counts_and_after_the_day_does_not():
    assert problems([Training("leader", D)]) == []
    assert problems([Training("leader", D + timedelta(days=1))]) == [rules.TRAINING_NOT_YET_COMPLETED]


def test_valid_until_the_day_counts_and_the_day_before_does_not():
    assert problems([Training("leader", D - timedelta(days=100), D)]) == []
    assert problems([Training("leader", D - timedelta(days=100), D - timedelta(days=1))]) == [rules.TRAINING_EXPIRED]


def test_an_inactive_user_is_never_eligible():
    assert rules.INACTIVE in problems([Training("leader", D)], active=False)


def test_member_of_the_group_and_overlap_are_reported_together():
    found = problems([Training("leader", D)], is_member_of_group=True, has_overlapping_meeting=True)
    assert found == [rules.MEMBER_OF_GROUP, rules.OVERLAPPING_MEETING]


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError):
        problems([], as_role="chair")


def test_best_level_ignores_expired_and_unverified_records():
    records = [
        Training("training_leader", D - timedelta(days=500), D - timedelta(days=1)),
        Training("leader", D - timedelta(days=5), verified=False),
        Training("leader_in_training", D - timedelta(days=5)),
    ]
    assert rules.best_level_on(records, D) == "leader_in_training"


levels = st.sampled_from(["leader_in_training", "leader", "training_leader"])
days = st.integers(min_value=-800, max_value=800)


@st.composite
def trainings(draw):
    start = draw(days)
    end = draw(st.one_of(st.none(), st.integers(min_value=start, max_value=900)))
    return Training(
        level=draw(levels),
        completed_on=D + timedelta(days=start),
        valid_until=None if end is None else D + timedelta(days=end),
        verified=draw(st.booleans()),
    )


@given(
    records=st.lists(trainings(), max_size=4),
    active=st.booleans(),
    as_role=st.sampled_from([LEAD, CO_LEAD]),
    member=st.booleans(),
    overlap=st.booleans(),
    lead_level=st.sampled_from([None, "leader_in_training", "leader", "training_leader"]),
)
def test_eligibility_matches_the_written_definition(records, active, as_role, member, overlap, lead_level):
    """The rule, restated literally from DOMAIN.md, agrees with the implementation on every case."""

    def in_force(r, wanted):
        return r.verified and r.level in wanted and r.completed_on <= D and (
            r.valid_until is None or r.valid_until >= D
        )

    qualified = any(in_force(r, {"leader", "training_leader"}) for r in records)
    co_qualified = any(in_force(r, {"leader_in_training", "leader", "training_leader"}) for r in records)
    if as_role == LEAD:
        expected = active and qualified
    else:
        expected = active and co_qualified and (qualified or lead_level in {"leader", "training_leader"})
    expected = expected and not member and not overlap

    found = eligibility_problems(
        active=active, records=records, on=D, as_role=as_role, is_member_of_group=member,
        has_overlapping_meeting=overlap, lead_level=lead_level,
    )
    assert (found == []) == expected
