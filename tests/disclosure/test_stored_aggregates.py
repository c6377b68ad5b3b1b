"""Stored round aggregates: each closed round's sums stored once (when it closes, or by send-due), read instead of
summing its responses again — and publishing exactly what the live sums publish, through the same rules."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings

from app import disclosure
from app.disclosure import queries
from app.disclosure.services import refresh_round_aggregates, rounds_without_aggregates, store_round_aggregates
from app.extensions import db as _db
from app.feedback.models import Answer, FeedbackRound, Response, RoundAggregate
from app.feedback.services import rounds as round_services
from tests.disclosure.world import K, make_world, programmes, read_everything
from tests.querylog import recorded_statements, work

EXAMPLES = int(os.environ.get("STORED_AGGREGATE_EXAMPLES", "40"))


def published(seen: list[disclosure.Published]) -> list[tuple]:
    """What was published, comparable: stats as (n, mean, sd, ci) rounded far below what any view prints."""
    out = []
    for item in seen:
        value = item.value
        if item.kind == "stat":
            value = (value.n, *(None if v is None else round(v, 9) for v in
                                (value.mean, value.sd, value.ci_low, value.ci_high)))
        elif item.kind == "distribution":
            value = tuple(sorted(value.items()))
        out.append((item.kind, item.measure, item.parts, value))
    return out


def stored_rows(round_id: int) -> dict[tuple, tuple]:
    a = RoundAggregate.__table__.c
    return {(source, profession, measure): (n, total, total_sq, partial)
            for source, profession, measure, n, total, total_sq, partial in _db.session.execute(
                sa.select(a.source, a.profession, a.measure, a.n, a.total, a.total_sq, a.partial)
                .where(a.round_id == round_id))}


def reads_of(statements: list[str], table: str) -> int:
    return sum(1 for s in statements if s.lstrip().upper().startswith("SELECT") and f" {table}" in s)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(spec=programmes)
def test_stored_and_live_sums_publish_the_same_cells_everywhere(app, db, spec):
    """Every page, filter, export, report, warning and API call publishes the same cells, shown or hidden, from
    the stored sums as from the live ones — for generated programmes of open and closed rounds."""
    with app.test_request_context():
        try:
            world = make_world(spec)
            live = published(read_everything(world))
            refresh_round_aggregates()
            closed = {r.id for r in world.rounds if r.status == "closed"}
            assert set(rounds_without_aggregates()) == set()
            assert {rid for (rid,) in _db.session.execute(sa.select(RoundAggregate.round_id).distinct())} == closed
            with recorded_statements() as statements:
                stored = published(read_everything(world))
            assert stored == live
            if closed:
                assert reads_of(statements, "round_aggregates") > 0
        finally:
            _db.session.rollback()


def _world(responses=6, closed=True, *more: tuple[int, bool]):
    """One round per group: the first of `responses` responses (closed or open), then each of `more`."""
    spec = {"orgs": [{"groups": [{"rounds": [
        {"closed": shut, "mode": "questionnaire", "month": 2, "responses": [
            {"source": "questionnaire", "profession": p, "answers": {"a1": 1 + i % 5, "a2": 2, "b1": i}}
            for i, p in enumerate((["physician", "nurse", None] * 4)[:count])]},
    ]} for count, shut in ((responses, closed), *more)]}]}
    return make_world(spec)


def test_a_round_stores_whole_round_and_split_rows_and_a_round_nobody_answered_is_marked(app, db):
    world = _world(6)
    empty = FeedbackRound(group_id=world.groups[0].id, number=2, status="closed",
                          opens_at=world.now - timedelta(days=9), closes_at=world.now - timedelta(days=1),
                          closed_at=world.now, instrument_id=world.instrument.id)
    db.session.add(empty)
    db.session.flush()
    assert refresh_round_aggregates() == 2
    rows = stored_rows(world.rounds[0].id)
    assert rows[("*", "*", "responses")][0] == 6
    assert rows[("questionnaire", "physician", "responses")][0] == 2
    assert rows[("questionnaire", "unknown", "responses")][0] == 2
    n, total, _sq, partial = rows[("*", "*", "attack/B")]
    assert (n, partial) == (6, 0) and total == pytest.approx(sum(range(6)))
    assert stored_rows(empty.id) == {("*", "*", "responses"): (0, 0.0, 0.0, 0)}
    # Idempotent: nothing left to do, nothing written again.
    assert refresh_round_aggregates() == 0
    # An open round is never stored, even when asked for by id.
    db.session.add(FeedbackRound(group_id=world.groups[0].id, number=3, opens_at=world.now,
                                 closes_at=world.now + timedelta(days=9), instrument_id=world.instrument.id))
    db.session.flush()
    open_id = db.session.scalar(sa.select(FeedbackRound.id).where(FeedbackRound.number == 3))
    assert store_round_aggregates([open_id]) == 0 and stored_rows(open_id) == {}


def test_refreshing_takes_the_same_statements_for_three_rounds_as_for_thirty(app, db):
    counts = []
    for rounds in (3, 30):
        spec = {"orgs": [{"groups": [{"rounds": [
            {"closed": True, "mode": "questionnaire", "month": 1, "responses": [
                {"source": "questionnaire", "profession": "nurse", "answers": {"a1": 3, "b1": 4}}] * 3}] * rounds}]}]}
        make_world(spec)
        with recorded_statements() as statements:
            assert refresh_round_aggregates() == rounds
        counts.append(len(work(statements)))
        db.session.rollback()
    assert counts[0] == counts[1]


def test_closing_a_round_at_its_deadline_stores_its_sums_in_the_same_transaction(app, db):
    world = _world(4, closed=False)
    the_round = world.rounds[0]
    assert round_services.close_if_due(the_round, world.now) is False and stored_rows(the_round.id) == {}
    assert round_services.close_if_due(the_round, the_round.closes_at) is True
    assert stored_rows(the_round.id)[("*", "*", "responses")][0] == 4


def test_send_due_closes_rounds_past_their_window_and_stores_every_closed_round_lacking_sums(app, db):
    world = _world(4, False, (3, True))
    the_round = world.rounds[0]
    later = world.rounds[1]  # closed without its sums (as a round closed by hand)
    assert round_services.close_due_rounds(the_round.closes_at + timedelta(minutes=1)) == 1
    assert stored_rows(the_round.id)[("*", "*", "responses")][0] == 4
    assert stored_rows(later.id)[("*", "*", "responses")][0] == 3


def test_the_notify_command_stores_the_sums(app, db):
    world = _world(4, closed=False)
    round_id = world.rounds[0].id
    db.session.commit()
    moment = (world.rounds[0].closes_at + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M+00:00")
    result = app.test_cli_runner().invoke(args=["notify", "send-due", "--now", moment])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert stored_rows(round_id)[("*", "*", "responses")][0] == 4


def test_a_changed_answer_of_a_closed_round_drops_its_sums_and_readers_follow_the_change(app, db):
    """Nothing the app offers changes a closed round's answers; anything that writes them anyway (a repair by
    hand through the ORM) drops the round's stored sums in the same flush, so no stale number is published."""
    world = _world(6)
    refresh_round_aggregates()
    release = disclosure.Release(world.rounds, k=K, now=world.now)
    before = release.stat(world.rounds[0].id, disclosure.subscale_measure("attack/A")).mean
    answer = db.session.scalars(sa.select(Answer).where(Answer.item_code == "a1")).first()
    answer.value = 5 if answer.value != 5 else 1
    db.session.flush()
    assert stored_rows(world.rounds[0].id) == {}
    after = disclosure.Release(world.rounds, k=K, now=world.now).stat(
        world.rounds[0].id, disclosure.subscale_measure("attack/A")).mean
    assert after != before
    refresh_round_aggregates()
    assert disclosure.Release(world.rounds, k=K, now=world.now).stat(
        world.rounds[0].id, disclosure.subscale_measure("attack/A")).mean == pytest.approx(after)


def test_a_deleted_or_moved_response_drops_the_sums_of_its_rounds(app, db):
    world = _world(6, True, (3, True))
    other = world.rounds[1]
    refresh_round_aggregates()
    response = db.session.scalars(sa.select(Response).where(Response.round_id == world.rounds[0].id)).first()
    db.session.delete(response)
    db.session.flush()
    assert stored_rows(world.rounds[0].id) == {} and stored_rows(other.id) != {}
    refresh_round_aggregates()
    assert stored_rows(world.rounds[0].id)[("*", "*", "responses")][0] == 5
    response = db.session.scalars(sa.select(Response).where(Response.round_id == world.rounds[0].id)).first()
    response.profession = "psychologist"
    db.session.flush()
    assert stored_rows(world.rounds[0].id) == {}
    refresh_round_aggregates()
    response.round_id = other.id
    db.session.flush()
    assert stored_rows(world.rounds[0].id) == {} and stored_rows(other.id) == {}


def test_a_closed_round_not_yet_aggregated_is_read_live_and_stored_rows_are_what_is_read(app, db):
    """Readers take the stored rows for an aggregated round — tampering with them shows — and the live sums for
    a closed round without them; an open round is always live."""
    world = _world(6)
    the_round = world.rounds[0]
    measure = disclosure.subscale_measure("attack/B")
    live = disclosure.Release([the_round], k=K, now=world.now).stat(the_round.id, measure).mean
    refresh_round_aggregates()
    a = RoundAggregate.__table__.c
    db.session.execute(sa.update(RoundAggregate).where(a.round_id == the_round.id, a.measure == "attack/B",
                                                       a.source == "*").values(total=a.total + 6))
    assert disclosure.Release([the_round], k=K, now=world.now).stat(the_round.id, measure).mean == \
        pytest.approx(live + 1)
    counts, _sums = queries.round_sums([the_round.id], False, closed_ids=[])
    assert counts == {(the_round.id, "*", "*"): 6}


def test_correcting_a_meeting_of_a_closed_round_keeps_its_sums(app, db, leader, coordinator):
    """A correction (held → cancelled) gives the round a notice; it changes no answer, so the sums stay."""
    from app.scheduling.models import Meeting
    from tests.factories import make_meeting

    world = _world(4)
    the_round = world.rounds[0]
    meeting = make_meeting(world.groups[0], days_ahead=-40, location=None)
    meeting.status = "held"
    db.session.flush()
    refresh_round_aggregates()
    before = stored_rows(the_round.id)
    round_services.mark_correction(the_round, db.session.get(Meeting, meeting.id))
    assert the_round.correction_notice and stored_rows(the_round.id) == before


def test_verify_scores_compares_the_stored_sums_and_fix_stores_them_again(app, db):
    world = _world(6)
    refresh_round_aggregates()
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["feedback", "verify-scores"])
    assert result.exit_code == 0, result.output
    assert "Checked the stored sums of 1 closed rounds" in result.output
    assert " 0 differences in 0 rounds" in result.output
    a = RoundAggregate.__table__.c
    db.session.execute(sa.update(RoundAggregate).where(a.round_id == world.rounds[0].id, a.measure == "attack/A",
                                                       a.source == "*").values(n=a.n + 1))
    db.session.execute(sa.delete(RoundAggregate).where(a.round_id == world.rounds[0].id, a.source != "*",
                                                       a.measure == "responses"))
    db.session.commit()
    result = runner.invoke(args=["feedback", "verify-scores"])
    assert result.exit_code == 1, result.output
    assert "different: round" in result.output and "missing: round" in result.output
    result = runner.invoke(args=["feedback", "verify-scores", "--fix"])
    assert result.exit_code == 0 and "Stored the sums of 1 closed rounds again." in result.output
    assert runner.invoke(args=["feedback", "verify-scores"]).exit_code == 0
