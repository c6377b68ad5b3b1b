"""The recurrence engine and the holiday policy, without an app (hypothesis over rules, periods and years)."""

from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.scheduling import rules
from app.scheduling.holidays import ChinaCalendar, library_knows_year
from app.scheduling.rules import BIWEEKLY, KEEP, MOVE, NTH_WEEKDAY, SKIP, Rule

CAL = ChinaCalendar()


def test_first_and_third_wednesday_of_december_2026():
    rule = Rule(NTH_WEEKDAY, weekday=2, weeks=(1, 3))
    assert rules.nominal_dates(rule, date(2026, 12, 1), date(2026, 12, 31)) == [date(2026, 12, 2), date(2026, 12, 16)]


def test_the_last_friday_of_a_month():
    assert rules.nth_weekday(2026, 7, 4, rules.LAST_WEEK) == date(2026, 7, 31)


def test_biweekly_counts_from_its_first_date_even_when_the_period_starts_later():
    rule = Rule(BIWEEKLY, weekday=1, start=date(2026, 1, 6))
    assert rules.nominal_dates(rule, date(2026, 1, 10), date(2026, 2, 10)) == [
        date(2026, 1, 20), date(2026, 2, 3)
    ]


def test_biweekly_start_on_another_weekday_begins_on_the_next_such_weekday():
    rule = Rule(BIWEEKLY, weekday=4, start=date(2026, 3, 2))  # a Monday; meetings on Fridays
    assert rules.nominal_dates(rule, date(2026, 3, 1), date(2026, 3, 31)) == [date(2026, 3, 6), date(2026, 3, 20)]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (Rule("monthly", 1, (1,)), "kind"),
        (Rule(NTH_WEEKDAY, 7, (1,)), "weekday"),
        (Rule(NTH_WEEKDAY, 1, ()), "weeks"),
        (Rule(NTH_WEEKDAY, 1, (5,)), "weeks"),
        (Rule(NTH_WEEKDAY, 1, (1, 1)), "weeks"),
        (Rule(BIWEEKLY, 1), "start"),
    ],
)
def test_unusable_rules_are_named(rule, problem):
    assert problem in rules.rule_problems(rule)
    with pytest.raises(ValueError):
        rules.nominal_dates(rule, date(2026, 1, 1), date(2026, 2, 1))


def test_national_day_2026_moves_the_first_thursday_to_the_next_working_day():
    rule = Rule(NTH_WEEKDAY, weekday=3, weeks=(1, 3))  # 1 October 2026 is a Thursday
    plan = rules.plan(rule, date(2026, 10, 1), date(2026, 10, 31), MOVE, CAL)
    first = plan.dates[0]
    assert first.nominal == date(2026, 10, 1) and first.moved and first.holiday == "National Day"
    assert first.actual == date(2026, 10, 8)
    assert CAL.is_working_day(first.actual)


def test_skip_and_keep_policies_on_national_day():
    rule = Rule(NTH_WEEKDAY, weekday=3, weeks=(1,))
    skipped = rules.plan(rule, date(2026, 10, 1), date(2026, 10, 31), SKIP, CAL).dates[0]
    kept = rules.plan(rule, date(2026, 10, 1), date(2026, 10, 31), KEEP, CAL).dates[0]
    assert skipped.skipped and skipped.holiday == "National Day"
    assert kept.actual == date(2026, 10, 1) and not kept.moved


def test_a_make_up_working_day_counts_as_working():
    assert CAL.is_working_day(date(2026, 2, 14))  # a Saturday worked for the Spring Festival
    assert not CAL.is_working_day(date(2026, 2, 17))


def test_exception_days_override_the_library():
    cal = ChinaCalendar({date(2026, 12, 9): ("holiday", "Hospital anniversary"), date(2026, 10, 1): ("workday", "x")})
    assert cal.holiday_name(date(2026, 12, 9)) == "Hospital anniversary"
    assert not cal.is_working_day(date(2026, 12, 9))
    assert cal.holiday_name(date(2026, 10, 1)) is None and cal.is_working_day(date(2026, 10, 1))


def test_a_year_the_library_only_estimates_is_reported():
    assert library_knows_year(2026)
    far = 2099
    assert not library_knows_year(far)
    assert ChinaCalendar().years_without_schedule(date(2026, 6, 1), date(far, 1, 1))[-1] == far
    assert ChinaCalendar(confirmed_years={far}).has_official_schedule(far)


def test_touching_meetings_do_not_overlap():
    a = datetime(2026, 1, 1, 9)
    assert not rules.overlaps(a, a + timedelta(hours=1), a + timedelta(hours=1), a + timedelta(hours=2))
    assert rules.overlaps(a, a + timedelta(hours=1), a + timedelta(minutes=59), a + timedelta(hours=2))


months = st.tuples(st.integers(2025, 2027), st.integers(1, 12))
weekdays = st.integers(0, 4)
week_pairs = st.lists(st.sampled_from([1, 2, 3, 4, rules.LAST_WEEK]), min_size=2, max_size=2, unique=True).filter(
    lambda w: not ({4, rules.LAST_WEEK} <= set(w))  # the 4th and the last can be the same day
)


@settings(max_examples=300, deadline=None)
@given(start=months, length=st.integers(1, 24), weekday=weekdays, weeks=week_pairs)
def test_move_policy_gives_exactly_two_meetings_a_month_none_on_a_holiday(start, length, weekday, weeks):
    first = date(start[0], start[1], 1)
    end_month = date(first.year + (first.month - 1 + length) // 12, (first.month - 1 + length) % 12 + 1, 1)
    last = end_month - timedelta(days=1)
    plan = rules.plan(Rule(NTH_WEEKDAY, weekday, tuple(weeks)), first, last, MOVE, CAL)

    per_month = Counter((d.year, d.month) for d in plan.meeting_dates)
    assert set(per_month.values()) == {2}
    assert len(per_month) == length
    assert len(set(plan.meeting_dates)) == len(plan.meeting_dates)
    for planned in plan.dates:
        assert CAL.holiday_name(planned.actual) is None
        if planned.moved:
            assert CAL.is_working_day(planned.actual)
            assert planned.actual.month == planned.nominal.month


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from([NTH_WEEKDAY, BIWEEKLY]),
    weekday=st.integers(0, 6),
    weeks=week_pairs,
    anchor=st.dates(date(2025, 1, 1), date(2027, 12, 31)),
    span=st.integers(0, 500),
    policy=st.sampled_from([MOVE, SKIP, KEEP]),
)
def test_every_policy_places_each_nominal_date_once_within_its_month(kind, weekday, weeks, anchor, span, policy):
    rule = Rule(kind, weekday, tuple(weeks) if kind == NTH_WEEKDAY else (), anchor if kind == BIWEEKLY else None)
    plan = rules.plan(rule, anchor, anchor + timedelta(days=span), policy, CAL)
    assert [p.nominal for p in plan.dates] == sorted({p.nominal for p in plan.dates})
    assert len(set(plan.meeting_dates)) == len(plan.meeting_dates)
    for planned in plan.dates:
        if planned.actual is not None:
            assert planned.actual.month == planned.nominal.month
        if policy == KEEP:
            assert planned.actual == planned.nominal
        if policy in (MOVE, SKIP) and planned.actual is not None:
            assert CAL.holiday_name(planned.actual) is None


def test_a_meeting_is_held_only_from_its_start():
    start = datetime(2026, 12, 2, 6, 0)
    assert not rules.may_record_as_held(start, datetime(2026, 12, 2, 5, 59))
    assert rules.may_record_as_held(start, start)
