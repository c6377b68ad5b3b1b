"""Stored per-group signals (app.trends.signals): equal to the live computation on a generated programme, stale
after any change and refreshed by send-due, never outside the coordinator's scope, and a home page whose statement
count does not grow with the groups."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.feedback.models import FeedbackRound
from app.main.queries import home_summary
from app.scheduling import queries as scheduling
from app.scheduling.models import Meeting, MeetingLeader
from app.timeutil import utcnow
from app.trends import signals, warnings
from app.trends.board_queries import programme_board
from app.trends.models import STALE, GroupSignal
from app.trends.rules import Thresholds
from tests.factories import (
    PULSE,
    give_training,
    make_group,
    make_instrument,
    make_leader,
    make_meeting,
    make_members,
    make_org,
    make_scoped_coordinator,
    make_user,
    open_round,
    pulse_round,
)
from tests.querylog import recorded_statements, work

K = 3
BOARD = Thresholds()
SLIDE = [[4, 4, 5, 4, 4, 4], [4, 4, 4, 4, 3, 4], [4, 3, 4, 4, 3, 4], [3, 4, 3, 4, 3, 3],
         [3, 3, 3, 4, 3, 3], [3, 3, 3, 3, 2, 3], [3, 2, 3, 3, 2, 3], [2, 3, 2, 3, 2, 3]]
EAGER = {"decline_rounds": 3, "decline_g_amber": -0.01, "decline_g_red": -0.02, "concern_amber": 0.01,
         "concern_red": 0.02, "participation_amber": 1.0, "participation_red": 0.99, "days_amber": 1, "days_red": 2}


def _warn(now, scope=None, stored=True):
    return [(w.group.id, w.kind, tuple(sorted((k, str(v)) for k, v in w.detail.items())))
            for w in warnings.early_warnings(now, scope, drop=0.1, participation=0.9, days=10, k=K, stored=stored)]


def _highlights(now, scope=None, stored=True):
    among = signals.flagged_ids(signals.current(scope, now, K)[1], now) if stored else None
    found = scheduling.coordinator_highlights(scope, now, among=among)
    return [m.id for m in found.without_lead], [(f.meeting.id, tuple(f.messages)) for f in found.flagged]


def _rows() -> dict[int, GroupSignal]:
    _db.session.expire_all()
    return {row.group_id: row for row in _db.session.scalars(sa.select(GroupSignal))}


def test_stored_signals_equal_the_live_computation_on_a_generated_programme(app, db, monkeypatch):
    from bench.generate import generate

    # Board thresholds that raise most rules, so the stored findings are many (the rows keep the configured ones).
    for name, value in EAGER.items():
        monkeypatch.setitem(app.config, f"BOARD_{name.upper()}", value)
    generate(None, "hospital", factor=0.04, seed=11, app=app, log=lambda message: None)
    now = utcnow()
    instrument = make_instrument(PULSE)
    sliding = make_group(make_org("Sliding hospital"), "Sliding group")  # a subscale falling round after round
    for number, scores in enumerate(SLIDE, start=1):
        pulse_round(sliding, number, instrument, scores, opens_at=now - timedelta(days=400 - 30 * number))
    # A lead whose training expired yesterday: the meetings they lead from today on break the eligibility rule.
    lead_id = _db.session.scalar(
        sa.select(MeetingLeader.user_id).join(Meeting, Meeting.id == MeetingLeader.meeting_id)
        .where(Meeting.status == "scheduled", Meeting.starts_at > now, MeetingLeader.role == "lead")
        .order_by(Meeting.starts_at))
    from app.accounts.models import TrainingRecord

    for record in _db.session.scalars(sa.select(TrainingRecord).where(TrainingRecord.user_id == lead_id)):
        record.valid_until = (now - timedelta(days=1)).date()
    _db.session.commit()
    group_ids = list(_db.session.scalars(sa.select(sa.text("id")).select_from(sa.text("groups"))))

    assert signals.refresh(now, K, everything=True) == len(group_ids)
    _db.session.commit()

    rows = _rows()
    assert set(rows) == set(group_ids) and all(row.valid_until > now for row in rows.values())
    live = signals.compute(group_ids, now, K)
    _groups, stored = signals.current(None, now, K)
    assert stored == live  # every fact, read back from the rows
    assert any(s.flagged for s in live.values()) and any(s.pairs for s in live.values())
    assert any(s.eligible for s in live.values())
    assert _warn(now) == _warn(now, stored=False) != []
    assert _highlights(now) == _highlights(now, stored=False)
    assert _highlights(now)[1] != []

    # The programme board drawn from the rows is the live one, in both languages, now and later the same day (the
    # clock's two rules, days without a meeting and meetings ahead without an eligible lead, applied when read).
    with app.test_request_context("/"):
        for moment in (now, now + timedelta(hours=20)):
            for locale in ("en", "zh_CN"):
                stored_board = signals.board(None, moment, K, Thresholds(**EAGER), locale)
                assert stored_board == programme_board(None, moment, K, Thresholds(**EAGER), locale=locale)
    assert signals.due_group_ids(now, K) == []  # every row was used
    rules_seen = {f.rule for row in stored_board.rows for f in row.findings}
    assert {"decline_slope", "decline_change", "no_eligible_lead", "participation", "no_meeting"} <= rules_seen
    organisation = stored_board.rows[0].organisation_id
    assert signals.board(None, now, K, Thresholds(**EAGER), "en", organisation_id=organisation) == programme_board(
        None, now, K, Thresholds(**EAGER), organisation)


def test_other_board_thresholds_make_every_row_due_and_unused_until_stored_again(app, db):
    org = make_org()
    idle = make_group(org, "Idle group")
    idle.created_at = utcnow() - timedelta(days=50)
    _db.session.commit()
    now = utcnow()
    signals.refresh(now, K, everything=True)
    _db.session.commit()
    assert signals.due_group_ids(now, K, BOARD) == []
    assert [r.status for r in signals.board(None, now, K, BOARD, "en").rows] == ["amber"]  # 50 days >= 45

    stricter = Thresholds(days_amber=20, days_red=40)
    assert signals.due_group_ids(now, K, stricter) == [idle.id]
    assert signals.board(None, now, K, stricter, "en") == programme_board(None, now, K, stricter)
    assert [r.status for r in signals.board(None, now, K, stricter, "en").rows] == ["red"]
    app.config.update(BOARD_DAYS_AMBER=20, BOARD_DAYS_RED=40)
    try:
        assert signals.refresh(now, K) == 1
        assert _rows()[idle.id].board_key == signals.board_key(stricter)
    finally:
        app.config.update(BOARD_DAYS_AMBER=45, BOARD_DAYS_RED=90)


def test_a_round_closing_makes_the_row_stale_and_send_due_stores_it_again(app, db):
    org = make_org()
    group = make_group(org, "Closing group")
    people = make_members(group, 4)
    feedback_round = open_round(group, people, closes_in=timedelta(hours=12))
    _db.session.commit()
    now = utcnow()
    signals.refresh(now, K, everything=True)
    _db.session.commit()
    row = _rows()[group.id]
    assert row.round_number is None and row.valid_until == feedback_round.closes_at

    later = feedback_round.closes_at + timedelta(minutes=5)
    assert group.id in signals.due_group_ids(later, K)
    _groups, seen = signals.current(None, later, K)
    assert seen[group.id].round_number == 1 and seen[group.id].eligible == 4  # read live: the row is past its time

    result = app.test_cli_runner().invoke(args=["notify", "send-due", "--now", later.isoformat() + "+00:00"])
    assert result.exit_code == 0, result.output
    row = _rows()[group.id]
    assert (row.round_number, row.eligible, row.responses, row.computed_at) == (1, 4, 0, later)
    assert _db.session.get(FeedbackRound, feedback_round.id).status == "closed"
    assert signals.due_group_ids(later, K) == []


def test_any_change_to_a_groups_meetings_or_leaders_marks_its_row_stale_in_the_same_flush(app, db):
    org = make_org()
    group, other = make_group(org, "Changed group"), make_group(org, "Untouched group")
    leader = make_leader()
    meeting = make_meeting(group, leader, days_ahead=5)
    _db.session.commit()
    signals.refresh(utcnow(), K, everything=True)
    _db.session.commit()
    before = {gid: (row.valid_until, row.version) for gid, row in _rows().items()}
    assert before[group.id][0] > utcnow()

    give_training(leader, "leader")  # a leader's training record: the groups of the meetings they lead
    rows = _rows()
    assert (rows[group.id].valid_until, rows[group.id].version) == (STALE, before[group.id][1] + 1)
    assert (rows[other.id].valid_until, rows[other.id].version) == before[other.id]
    _db.session.rollback()

    # Set to the values it had (a record saved again unchanged): nothing stored changed, the row stays valid.
    same = _db.session.get(Meeting, meeting.id)
    same.status, same.starts_at = same.status, same.starts_at
    _db.session.flush()
    assert (_rows()[group.id].valid_until, _rows()[group.id].version) == before[group.id]
    _db.session.rollback()

    _db.session.get(Meeting, meeting.id).status = "cancelled"
    _db.session.flush()
    assert _rows()[group.id].valid_until == STALE
    _db.session.rollback()

    # A refresh computed before a change never overwrites it: the row's version moved on.
    signals.mark_stale([group.id])
    stale_version = _rows()[group.id].version
    _db.session.execute(sa.update(GroupSignal).where(GroupSignal.group_id == group.id)
                        .values(version=GroupSignal.version + 1))
    t = GroupSignal.__table__
    _db.session.execute(
        sa.update(t).where(t.c.group_id == sa.bindparam("b_group_id"), t.c.version == sa.bindparam("b_version")),
        [{"b_group_id": group.id, "b_version": stale_version, "valid_until": utcnow() + timedelta(days=1)}])
    assert _rows()[group.id].valid_until == STALE


def test_a_coordinator_never_sees_a_signal_of_a_group_outside_their_scope(app, db):
    own_org, other_org = make_org("Own hospital"), make_org("Other hospital")
    own, foreign = make_group(own_org, "Own idle"), make_group(other_org, "Foreign idle")
    for group in (own, foreign):
        group.created_at = utcnow() - timedelta(days=100)
    _db.session.commit()
    now = utcnow()
    signals.refresh(now, K, everything=True)
    _db.session.commit()

    groups, seen = signals.current(own_org.id, now, K)
    assert [g.id for g in groups] == [own.id] and set(seen) == {own.id}
    assert {gid for gid, _kind, _d in _warn(now, scope=own_org.id)} == {own.id}
    # The organisation is the group's own, read with the rows: a group moved away leaves the scope at once.
    foreign.organisation_id, own.organisation_id = own_org.id, other_org.id
    _db.session.commit()
    assert {gid for gid, _kind, _d in _warn(now, scope=own_org.id)} == {foreign.id}
    coordinator = make_scoped_coordinator(other_org)
    with app.test_request_context("/"):
        names = {w.group.name for w in home_summary(coordinator).warnings}
    assert names == {"Own idle"}


def _add_groups(org, leader, first: int, count: int) -> None:
    for g in range(first, first + count):
        group = make_group(org, f"Counted group {g:02d}")
        group.created_at = utcnow() - timedelta(days=100)
        make_meeting(group, leader, days_ahead=3 + g)
    _db.session.commit()
    signals.refresh(utcnow(), K, everything=True)
    _db.session.commit()


def test_the_home_page_runs_as_many_statements_for_twenty_groups_as_for_two(app, db, client, auth, coordinator):
    org = make_org("Counting hospital")
    leader = make_leader()
    _add_groups(org, leader, 0, 2)
    auth.login(coordinator)
    client.get("/")
    with recorded_statements(_db.engine) as few:
        assert client.get("/").status_code == 200
    _add_groups(org, leader, 2, 18)
    client.get("/")
    with recorded_statements(_db.engine) as many:
        html = client.get("/").get_data(as_text=True)
    assert "Counted group 19" in html  # its warning (no meeting held for 100 days) is there
    assert len(work(few)) == len(work(many))


@pytest.mark.parametrize("everything", [True, False])
def test_refresh_signals_command_fills_the_table(app, db, everything):
    org = make_org()
    make_group(org, "One"), make_group(org, "Two")
    make_user("someone@example.org")
    _db.session.commit()
    args = ["trends", "refresh-signals"] + ([] if everything else ["--due-only"])
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0 and "Stored the signals of 2 group(s)." in result.output
    assert len(_rows()) == 2
    again = app.test_cli_runner().invoke(args=args)
    assert ("2 group(s)" if everything else "0 group(s)") in again.output


def test_answers_to_an_open_round_leave_the_row_valid_and_those_of_a_closed_round_do_not(app, db):
    from app.feedback.models import Answer, Response

    org = make_org()
    group = make_group(org, "Answering group")
    people = make_members(group, 3)
    feedback_round = open_round(group, people, closes_in=timedelta(hours=12))
    _db.session.commit()
    signals.refresh(utcnow(), K, everything=True)
    _db.session.commit()
    version = _rows()[group.id].version

    def answer():
        _db.session.add(Response(round_id=feedback_round.id, instrument_id=feedback_round.instrument_id,
                                 answers=[Answer(item_code="coping", value=3)]))
        _db.session.flush()

    answer()  # a submission while the round is open: nothing stored changes
    assert (_rows()[group.id].version, _rows()[group.id].valid_until > utcnow()) == (version, True)
    _db.session.commit()
    feedback_round = _db.session.get(FeedbackRound, feedback_round.id)
    feedback_round.status, feedback_round.closed_at = "closed", utcnow()
    _db.session.commit()
    signals.refresh(utcnow(), K, everything=True)
    _db.session.commit()
    answer()  # a repair by hand of a closed round: its participation changes
    assert _rows()[group.id].valid_until == STALE


def test_a_stored_flag_is_judged_again_so_a_meeting_fixed_since_is_not_shown(app, db):
    from app.accounts.models import TrainingRecord

    org = make_org()
    group = make_group(org, "Flagged group")
    leader = make_leader()
    meeting = make_meeting(group, leader, days_ahead=5)
    record = _db.session.scalars(sa.select(TrainingRecord).where(TrainingRecord.user_id == leader.id)).one()
    record.valid_until = (utcnow() + timedelta(days=2)).date()  # expires before the meeting
    _db.session.commit()
    now = utcnow()
    signals.refresh(now, K, everything=True)
    _db.session.commit()
    assert _rows()[group.id].flagged == [meeting.id]
    assert [m for m, _messages in _highlights(now)[1]] == [meeting.id]

    # Fixed behind the session's back (nothing marks the row): the stored flag is only a candidate.
    _db.session.execute(sa.update(TrainingRecord.__table__).where(TrainingRecord.__table__.c.id == record.id)
                        .values(valid_until=None))
    _db.session.commit()
    assert _rows()[group.id].flagged == [meeting.id]
    assert _highlights(now) == _highlights(now, stored=False) == ([], [])


def test_the_stored_candidates_are_judged_a_batch_at_a_time_until_the_list_is_full(app, db, monkeypatch):
    from app.accounts.models import TrainingRecord

    monkeypatch.setattr(scheduling, "HIGHLIGHT_LIMIT", 2)  # batches of 4 candidates
    org = make_org()
    group = make_group(org, "Many flags group")
    leader, other = make_leader(), make_leader("other@example.org", name="Leader Wang")
    meetings = [make_meeting(group, leader, days_ahead=5 + i) for i in range(7)]
    record = _db.session.scalars(sa.select(TrainingRecord).where(TrainingRecord.user_id == leader.id)).one()
    record.valid_until = (utcnow() + timedelta(days=2)).date()
    _db.session.commit()
    now = utcnow()
    signals.refresh(now, K, everything=True)
    _db.session.commit()
    assert _rows()[group.id].flagged == [m.id for m in meetings]
    # The three soonest get a qualified lead behind the session's back: still candidates, no longer flagged.
    ml = MeetingLeader.__table__
    _db.session.execute(sa.update(ml).where(ml.c.meeting_id.in_([m.id for m in meetings[:3]]))
                        .values(user_id=other.id))
    _db.session.commit()

    shown = _highlights(now)
    assert [mid for mid, _messages in shown[1]] == [meetings[3].id, meetings[4].id]
    assert shown == _highlights(now, stored=False)
