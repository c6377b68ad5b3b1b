"""Scores stored once: every response's subscale scores are stored when its answers are written (a questionnaire
submitted, an interview recorded, any other writer), equal to what app.feedback.scoring computes from the
answers; aggregates read them; `flask feedback verify-scores` recomputes and compares."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.feedback import queries, scoring
from app.feedback.models import Answer, Response, ResponseScore
from app.feedback.services import interviews
from app.feedback.services.responses import submit_response
from app.meetings.models import Attendance
from app.timeutil import utcnow
from tests.factories import (
    YES_NO,
    choice,
    free_text,
    likert,
    make_group,
    make_instrument,
    make_user,
    open_round,
    questionnaire,
    scale,
    subscale,
    t,
)

# Four items in A (two may be left out and it still scores; three may not), three in B (one may be left out),
# reverse-scored items in both, on two different scales.
STORED = questionnaire(
    "stored-test", t("Stored scores"),
    items=[likert("a1", t("a1")), likert("a2", t("a2"), reverse=True, required=False),
           likert("a3", t("a3"), required=False), likert("a4", t("a4"), reverse=True, required=False),
           scale("b1", t("b1"), reverse=True, required=False), scale("b2", t("b2"), required=False),
           scale("b3", t("b3"), required=False), choice("c1", t("c1"), YES_NO, required=False),
           free_text("t1", t("t1"))],
    subscales=[subscale("A", t("A"), "a1", "a2", "a3", "a4"), subscale("B", t("B"), "b1", "b2", "b3")],
)
DEF = scoring.definition_from_dict(STORED)
KEYS = {sub.code: f"stored-test/{sub.code}" for sub in DEF.subscales}


def stored(db, response_id: str) -> dict[str, tuple]:
    """The stored rows of one response: {subscale key: (score, answered, missing)}."""
    s = ResponseScore.__table__.c
    return {key: (score, answered, missing) for key, score, answered, missing in db.session.execute(
        sa.select(s.subscale, s.score, s.answered, s.missing).where(s.response_id == response_id))}


def response_ids(db) -> set[str]:
    return set(db.session.scalars(sa.select(Response.id)))


@pytest.fixture
def rounds(db, org, group, leader):
    """An open questionnaire round of the persona group and an open interview round of a second group the persona
    leader leads, both asking STORED, with no one present yet."""
    instrument = make_instrument(STORED, active=True)
    asked = open_round(group, present=[], instrument=instrument)
    interviewed = open_round(make_group(org, "Interview group", leader=leader), present=[], instrument=instrument)
    interviewed.mode = "interview"
    db.session.commit()
    return asked, interviewed


@pytest.fixture
def attendee(db, rounds):
    """Makes a new person present at both rounds' meetings (one more eligible respondent each time)."""
    numbers = itertools.count()

    def make():
        person = make_user(f"respondent{next(numbers)}@example.org")
        for the_round in rounds:
            db.session.add(Attendance(meeting_id=the_round.meeting_ids[0], user_id=person.id, status="present"))
        db.session.flush()
        return person

    return make


def submit(db, rounds, leader, attendee, answers: dict, source: str) -> str:
    """Submit the answers as a questionnaire or record them as an interview; returns the new response's id."""
    before = response_ids(db)
    person = attendee()
    if source == "questionnaire":
        submit_response(person, rounds[0], answers, utcnow())
    else:
        interviews.record_interview(leader, rounds[1], answers, "Notes.", utcnow())
    db.session.commit()
    (new,) = response_ids(db) - before
    return new


def rating(low: int, high: int, required: bool):
    value = st.one_of(st.integers(low, high), st.integers(low, high).map(lambda v: f" {v} "))
    return value if required else st.one_of(st.none(), value)


answer_sets = st.fixed_dictionaries({
    "a1": rating(1, 5, True), "a2": rating(1, 5, False), "a3": rating(1, 5, False), "a4": rating(1, 5, False),
    "b1": rating(0, 10, False), "b2": rating(0, 10, False), "b3": rating(0, 10, False),
    "c1": st.sampled_from([None, "yes", "no"]), "t1": st.sampled_from([None, "A hard week."]),
}).map(lambda given: {code: value for code, value in given.items() if value is not None})


# --- stored when written -----------------------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=answer_sets, source=st.sampled_from(["questionnaire", "interview"]))
def test_a_submitted_or_interviewed_response_stores_the_scores_scoring_computes(db, rounds, leader, attendee,
                                                                               answers, source):
    response_id = submit(db, rounds, leader, attendee, answers, source)

    rows = stored(db, response_id)
    expected = scoring.subscale_scores(DEF, answers)
    assert set(rows) == set(KEYS.values())
    for sub in DEF.subscales:
        score, answered, missing = rows[KEYS[sub.code]]
        given_items = [code for code in sub.items if code in answers]
        assert (answered, missing) == (len(given_items), len(sub.items) - len(given_items))
        assert score == expected[sub.code]
        # The more-than-half-missing rule, counted here independently of the scoring code.
        assert (score is None) == (missing * 2 > len(sub.items))


def test_reverse_items_and_the_half_rule_give_the_scores_worked_by_hand(db, rounds, leader, attendee):
    # A: a1 = 5, a2 = 5 reversed -> 1, a3 and a4 left out (half of four: still scored) -> (5 + 1) / 2 = 3.
    # B: b1 = 10 reversed -> 0, b2 and b3 left out (two of three: more than half) -> no score.
    for source in ("questionnaire", "interview"):
        response_id = submit(db, rounds, leader, attendee, {"a1": 5, "a2": 5, "b1": 10}, source)
        assert stored(db, response_id) == {"stored-test/A": (3.0, 2, 2), "stored-test/B": (None, 1, 2)}
    # Every item: A = (2 + (6 - 4) + 3 + (6 - 1)) / 4 = 3; B = ((10 - 2) + 5 + 8) / 3 = 7.
    response_id = submit(db, rounds, leader, attendee,
                         {"a1": 2, "a2": 4, "a3": 3, "a4": 1, "b1": 2, "b2": 5, "b3": 8}, "questionnaire")
    assert stored(db, response_id) == {"stored-test/A": (3.0, 4, 0), "stored-test/B": (7.0, 3, 0)}


def test_answers_written_straight_changed_or_deleted_are_scored_again_in_the_same_flush(db, rounds):
    the_round = rounds[0]
    response = Response(round_id=the_round.id, instrument_id=the_round.instrument_id, source="questionnaire")
    db.session.add(response)
    db.session.flush()
    assert stored(db, response.id) == {"stored-test/A": (None, 0, 4), "stored-test/B": (None, 0, 3)}

    db.session.add_all([Answer(response_id=response.id, item_code=code, value=value)
                        for code, value in {"a1": 4, "a2": 2, "b1": 6}.items()])
    db.session.flush()
    assert stored(db, response.id) == {"stored-test/A": (4.0, 2, 2), "stored-test/B": (None, 1, 2)}

    a2 = db.session.get(Answer, (response.id, "a2"))
    a2.value = 5  # reversed: 1
    db.session.add(Answer(response_id=response.id, item_code="b2", value=3))  # B: (10 - 6 + 3) / 2
    db.session.flush()
    assert stored(db, response.id) == {"stored-test/A": (2.5, 2, 2), "stored-test/B": (3.5, 2, 1)}

    db.session.delete(a2)
    db.session.flush()
    assert stored(db, response.id) == {"stored-test/A": (None, 1, 3), "stored-test/B": (3.5, 2, 1)}

    db.session.delete(response)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ResponseScore)) == 0


def test_a_review_of_free_text_leaves_the_stored_scores_alone(db, rounds, leader, attendee):
    response_id = submit(db, rounds, leader, attendee, {"a1": 3, "t1": "A hard week."}, "questionnaire")
    s = ResponseScore.__table__
    db.session.execute(sa.update(s).where(s.c.response_id == response_id).values(score=1.25))
    db.session.get(Answer, (response_id, "t1")).review = "released"
    db.session.commit()
    assert {score for score, _a, _m in stored(db, response_id).values()} == {1.25}


def test_stored_scores_carry_no_more_than_the_answers_do(db):
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("response_scores")}
    assert columns == {"response_id", "subscale", "score", "answered", "missing"}
    foreign = sa.inspect(db.engine).get_foreign_keys("response_scores")
    assert [(f["referred_table"], f["constrained_columns"]) for f in foreign] == [("responses", ["response_id"])]


# --- aggregates read them ----------------------------------------------------------------------

def test_round_results_sum_the_stored_scores_not_the_answers(db, rounds, leader, attendee):
    the_round = rounds[0]
    for a1 in (1, 2, 3, 4):
        submit(db, rounds, leader, attendee, {"a1": a1, "a3": a1, "b1": 5, "b2": 5}, "questionnaire")
    the_round.close(utcnow())
    db.session.commit()
    before = {s.code: s.mean for s in queries.round_results(the_round, k=3, now=utcnow()).subscales}
    assert before == {"A": pytest.approx(2.5), "B": pytest.approx(5.0)}

    s = ResponseScore.__table__
    db.session.execute(sa.update(s).where(s.c.subscale == "stored-test/A").values(score=s.c.score + 1))
    db.session.commit()
    after = {s.code: s.mean for s in queries.round_results(the_round, k=3, now=utcnow()).subscales}
    assert after == {"A": pytest.approx(3.5), "B": pytest.approx(5.0)}


# --- flask feedback verify-scores --------------------------------------------------------------

def verify(app, *args: str):
    return app.test_cli_runner().invoke(args=["feedback", "verify-scores", *args])


@pytest.fixture
def answered(db, rounds, leader, attendee) -> list[str]:
    """Five responses: three questionnaires and two interviews."""
    sets = [{"a1": 4, "a2": 2, "b1": 3}, {"a1": 1, "b2": 9, "b3": 8}, {"a1": 5, "a2": 5, "a3": 5, "a4": 5},
            {"a1": 2, "b1": 0, "b2": 1}, {"a1": 3}]
    return [submit(db, rounds, leader, attendee, given, "questionnaire" if i < 3 else "interview")
            for i, given in enumerate(sets)]


def test_verify_scores_passes_on_a_sound_database(app, db, answered):
    result = verify(app)
    assert result.exit_code == 0, result.output
    assert "Checked 5 responses (10 stored scores): 0 differences in 0 responses." in result.output


def test_verify_scores_fails_on_a_tampered_missing_or_extra_score_and_names_them(app, db, answered):
    s = ResponseScore.__table__
    db.session.execute(sa.update(s).where(s.c.response_id == answered[0], s.c.subscale == "stored-test/A")
                       .values(score=s.c.score + 1e-6))
    db.session.execute(sa.delete(s).where(s.c.response_id == answered[1], s.c.subscale == "stored-test/B"))
    db.session.execute(sa.insert(s).values(response_id=answered[2], subscale="stored-test/C", score=2.0,
                                           answered=1, missing=0))
    db.session.commit()

    result = verify(app)

    assert result.exit_code == 1, result.output
    assert "Checked 5 responses (10 stored scores): 3 differences in 3 responses." in result.output
    assert f"different: response {answered[0]} stored-test/A" in result.output
    assert f"missing: response {answered[1]} stored-test/B" in result.output
    assert f"extra: response {answered[2]} stored-test/C" in result.output


def test_verify_scores_tolerates_floating_point_noise_only(app, db, answered):
    s = ResponseScore.__table__
    db.session.execute(sa.update(s).where(s.c.response_id == answered[0], s.c.subscale == "stored-test/A")
                       .values(score=s.c.score + 1e-12))
    db.session.commit()
    assert verify(app).exit_code == 0
    db.session.execute(sa.update(s).where(s.c.response_id == answered[1]).values(answered=s.c.answered + 1))
    db.session.commit()
    assert verify(app).exit_code == 1


def test_verify_scores_fix_stores_the_recomputed_scores_and_then_verifies(app, db, answered):
    s = ResponseScore.__table__
    good = {response_id: stored(db, response_id) for response_id in answered}
    db.session.execute(sa.update(s).where(s.c.response_id == answered[3]).values(score=0.5))
    db.session.execute(sa.delete(s).where(s.c.response_id == answered[4]))
    db.session.commit()

    fixed = verify(app, "--fix")

    assert fixed.exit_code == 0, fixed.output
    assert "in 2 responses" in fixed.output and "Stored the recomputed scores of 2 responses." in fixed.output
    # The coordinator's home keeps means per group (app.trends.signals): every group's are stored again.
    groups, signals = (db.session.scalar(sa.text(f"SELECT COUNT(*) FROM {table}")) for table in ("groups",
                                                                                                   "group_signals"))
    assert signals == groups > 0
    db.session.expire_all()
    assert {response_id: stored(db, response_id) for response_id in answered} == good
    again = verify(app)
    assert again.exit_code == 0 and "0 differences" in again.output


def test_verify_scores_shows_only_the_first_differences_it_is_asked_for(app, db, answered):
    s = ResponseScore.__table__
    db.session.execute(sa.update(s).values(answered=s.c.answered + 1))
    db.session.commit()

    result = verify(app, "--show", "3")

    assert result.exit_code == 1
    assert result.output.count("different: response") == 3
    assert "... and 7 more." in result.output
