"""Messages on WeCom and DingTalk beside e-mail: each person's channels, their language, tokens, retries, refusals,
exactly once per channel — against the loopback platforms of tests/chatplatforms.py."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from app.extensions import db as _db
from app.feedback.services import rounds
from app.notifications import chat, dingtalk, rules, services, wecom
from app.notifications.invitations import queue_invitation
from app.notifications.models import Notification, PlatformToken
from tests.chatplatforms import platform_config, serve_platforms
from tests.factories import make_group, make_leader, make_meeting, make_org, make_user, open_round

HOUR = timedelta(hours=1)
WECOM_SEND = "/cgi-bin/message/send"
DING_SEND = "/topapi/message/corpconversation/asyncsend_v2"


def rows(db):
    db.session.expire_all()
    return db.session.scalars(sa.select(Notification).order_by(Notification.id)).all()


def remind(meeting, now=None):
    now = now or meeting.starts_at - HOUR
    services.queue_due_reminders(now)
    return services.send_pending(now)


# --- the rule --------------------------------------------------------------------------------

channel_sets = st.sets(st.sampled_from(rules.CHANNELS)).map(lambda s: tuple(c for c in rules.CHANNELS if c in s))


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["meeting_reminder", "round_opened", "invitation"]),
       chosen=st.none() | channel_sets, enabled=channel_sets, default=channel_sets,
       wecom=st.sampled_from([None, "", "wx"]), ding=st.sampled_from([None, "", "dd"]))
def test_a_message_goes_only_to_enabled_channels_the_person_can_be_reached_on_and_never_nowhere(
        kind, chosen, enabled, default, wecom, ding):
    found = rules.channels_for(kind, chosen, enabled, default, wecom, ding)
    assert found and len(set(found)) == len(found)
    assert set(found) <= {"email"} | set(enabled)
    assert set(found) <= set(chosen if chosen is not None else default) | {"email"}
    assert ("wecom" not in found or wecom) and ("dingtalk" not in found or ding)
    if kind == "invitation":
        assert found == ("email",)


def test_parse_channels_keeps_known_names_in_order_once():
    assert rules.parse_channels(" WeCom, email,bogus,wecom ") == ("email", "wecom")
    assert rules.parse_channels(None) == ()


def test_retries_back_off_and_robot_posts_are_spaced_three_seconds_apart(clock):
    assert [rules.retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 10)] == [60, 120, 240, 480, 3600]
    assert rules.gives_up(1, retryable=False) and not rules.gives_up(4, True) and rules.gives_up(5, True)
    now = clock.now()
    slot, after = rules.robot_slot(None, now)
    assert slot == now and after == now + timedelta(seconds=3)
    assert rules.robot_slot(now + timedelta(seconds=2), now) == (now + timedelta(seconds=2), now + timedelta(seconds=5))


# --- who gets what where ---------------------------------------------------------------------

def test_a_member_who_chose_wecom_gets_the_reminder_and_the_round_opening_on_wecom_in_chinese_and_no_email(
        app, db, meeting, member, leader, outbox, platforms):
    member.wecom_userid, member.channels, member.locale = "wx-member", "wecom", "zh_CN"
    db.session.commit()
    result = remind(meeting)
    assert result.sent == 2 and result.failed == 0
    assert [m.to for m in outbox] == [[leader.email]]  # the leader kept e-mail (the programme's default)
    sent = platforms.messages(WECOM_SEND)
    assert len(sent) == 1 and sent[0].body["touser"] == "wx-member" and sent[0].body["msgtype"] == "markdown"
    content = sent[0].body["markdown"]["content"]
    assert "提醒" in content and meeting.group.name in content
    assert "(http://localhost/" in content  # links open the app's pages (BASE_URL)
    assert "e-mail" not in content and "邮件" not in content

    outbox.clear()
    feedback_round = open_round(meeting.group, present=[member])
    rounds.tell_eligible_members(feedback_round, services_now := meeting.starts_at - HOUR)
    db.session.commit()
    services.send_pending(services_now)
    assert outbox == []
    opened = platforms.messages(WECOM_SEND)[-1].body["markdown"]["content"]
    assert "反馈" in opened and f"(http://localhost/rounds/{feedback_round.id}/answer)" in opened


def test_a_member_who_chose_both_gets_both_and_each_channel_row_is_its_own(app, db, meeting, member, outbox, platforms):
    member.wecom_userid, member.channels = "wx-member", "email,wecom"
    db.session.commit()
    remind(meeting)
    mine = [n for n in rows(db) if n.user_id == member.id]
    assert sorted(n.channel for n in mine) == ["email", "wecom"] and len({n.key for n in mine}) == 1
    assert {n.status for n in mine} == {"sent"}
    assert member.email in [m.to[0] for m in outbox]
    assert len(platforms.messages(WECOM_SEND)) == 1
    # A second run sends nothing again, on either channel.
    assert remind(meeting).sent == 0 and len(platforms.messages(WECOM_SEND)) == 1


def test_dingtalk_work_notifications_carry_a_markdown_title_and_text_in_english(
        app, db, meeting, member, outbox, platforms):
    member.dingtalk_userid, member.channels, member.locale = "dd-member", "dingtalk", "en"
    db.session.commit()
    remind(meeting)
    sent = platforms.messages(DING_SEND)
    assert len(sent) == 1 and sent[0].body["userid_list"] == "dd-member"
    markdown = sent[0].body["msg"]["markdown"]
    assert markdown["title"].startswith("Reminder: ") and "Your meetings:" in markdown["text"]


def test_a_chat_channel_the_programme_has_off_or_without_an_id_falls_back_to_email(
        app, db, meeting, member, outbox, platforms, monkeypatch):
    member.channels = "wecom"  # but no WeCom id
    db.session.commit()
    remind(meeting)
    assert {(n.user_id, n.channel) for n in rows(db)} >= {(member.id, "email")}
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", "email")
    member.wecom_userid = "wx-member"
    assert services.channels_of(member, "meeting_reminder") == ("email",)


def test_invitations_go_by_email_only_whatever_the_person_chose(app, db, platforms, outbox):
    person = make_user("new@example.org", password=None)
    services.set_channels(None, person, "wx-member", None, ["wecom"])
    queue_invitation(person, None, services_now := person.created_at)
    db.session.commit()
    assert [n.channel for n in rows(db)] == ["email"]
    services.send_pending(services_now)
    assert [m.to for m in outbox] == [["new@example.org"]] and platforms.received == []


# --- tokens ----------------------------------------------------------------------------------

def test_the_token_is_fetched_once_shared_through_the_database_and_refreshed_before_it_expires(
        app, db, meeting, member, leader, platforms):
    for person, userid in ((member, "wx-member"), (leader, "wx-leader")):
        person.wecom_userid, person.channels = userid, "wecom"
    db.session.commit()
    now = meeting.starts_at - HOUR
    remind(meeting, now)
    assert platforms.token_fetches == 1 and len(platforms.messages(WECOM_SEND)) == 2
    cached = db.session.get(PlatformToken, "wecom")
    assert cached.expires_at == now + timedelta(seconds=7200)
    # Still fresh a little later: no new fetch. Within five minutes of its end: a new one first.
    assert chat.cached_token("wecom", lambda: ("never", 1), now + HOUR) == cached.token
    refreshed = chat.cached_token("wecom", lambda: ("fresh", 7200), now + timedelta(seconds=7200 - 299))
    assert refreshed == "fresh"


def test_an_expired_token_is_fetched_again_and_the_message_still_goes(app, db, meeting, member, platforms):
    member.wecom_userid, member.dingtalk_userid, member.channels = "wx-member", "dd-member", "wecom,dingtalk"
    db.session.commit()
    now = meeting.starts_at - HOUR
    services.queue_due_reminders(now)
    db.session.commit()
    chat.cached_token("wecom", wecom.fetch_token, now)
    chat.cached_token("dingtalk", dingtalk.fetch_token, now)
    db.session.commit()
    platforms.expire_tokens()  # the platform dropped them before our cache thinks they end
    result = services.send_pending(now)
    assert result.failed == 0 and result.retrying == 0
    assert len(platforms.messages(WECOM_SEND)) == 1 and len(platforms.messages(DING_SEND)) == 1
    refused = [r.errcode for r in platforms.received if r.path in (WECOM_SEND, DING_SEND) and r.errcode != 0]
    assert refused == [42001, 88]  # WeCom's code, and DingTalk's 88 with sub_code 42001
    assert platforms.token_fetches == 4


# --- retries and refusals --------------------------------------------------------------------

def test_rate_limits_and_server_errors_are_retried_with_backoff_then_sent(app, db, meeting, member, platforms):
    member.wecom_userid, member.channels = "wx-member", "wecom"
    db.session.commit()
    now = meeting.starts_at - 3 * HOUR
    services.queue_due_reminders(meeting.starts_at - 23 * HOUR)
    db.session.commit()
    platforms.fail_next(WECOM_SEND, (200, {"errcode": 45009, "errmsg": "api freq out of limit"}),
                        (502, {"errcode": -1, "errmsg": "bad gateway"}))
    first = services.send_pending(now)
    assert first.retrying == 1
    row = next(n for n in rows(db) if n.channel == "wecom")
    assert row.status == "pending" and row.error_code == "45009" and "api freq out of limit" in row.error
    assert row.due_at == now + timedelta(minutes=1)
    assert services.send_pending(now + timedelta(seconds=59)).retrying == 0  # not due again yet
    assert services.send_pending(now + timedelta(minutes=1)).retrying == 1
    row = next(n for n in rows(db) if n.channel == "wecom")
    assert row.error_code == "http-502" and row.due_at == now + timedelta(minutes=3)
    assert services.send_pending(now + timedelta(minutes=3)).sent >= 1
    row = next(n for n in rows(db) if n.channel == "wecom")
    assert row.status == "sent" and row.attempts == 3 and row.error is None


def test_a_message_that_keeps_failing_is_failed_with_the_platforms_code_and_text(app, db, meeting, member, platforms):
    member.wecom_userid, member.channels = "wx-member", "wecom"
    db.session.commit()
    now = meeting.starts_at - 10 * HOUR
    services.queue_due_reminders(meeting.starts_at - 23 * HOUR)
    db.session.commit()
    platforms.fail_next(WECOM_SEND, *[(200, {"errcode": -1, "errmsg": "system busy"})] * rules.CHAT_MAX_ATTEMPTS)
    at = now
    for _ in range(rules.CHAT_MAX_ATTEMPTS):
        services.send_pending(at)
        at += HOUR
    row = next(n for n in rows(db) if n.channel == "wecom")
    assert row.status == "failed" and row.attempts == rules.CHAT_MAX_ATTEMPTS
    assert row.error_code == "-1" and row.error == "-1: system busy"


def test_a_refusal_a_retry_cannot_mend_fails_at_once(app, db, meeting, member, platforms):
    member.wecom_userid, member.channels = "wx-nobody", "wecom"
    db.session.commit()
    result = remind(meeting)
    assert result.failed == 1 and result.retrying == 0
    row = next(n for n in rows(db) if n.channel == "wecom")
    assert row.status == "failed" and row.attempts == 1 and row.error_code == "81013"


def test_an_unreachable_platform_is_retried_not_lost(app, db, meeting, member, platforms, monkeypatch):
    from tests.loopback import free_port

    member.dingtalk_userid, member.channels = "dd-member", "dingtalk"
    db.session.commit()
    monkeypatch.setitem(app.config, "DINGTALK_API_BASE", f"http://127.0.0.1:{free_port()}")
    result = remind(meeting)
    assert result.retrying == 1
    row = next(n for n in rows(db) if n.channel == "dingtalk")
    assert row.status == "pending" and row.error_code == "network"


# --- exactly once under two runs on PostgreSQL -----------------------------------------------

def test_two_runs_at_once_send_each_message_once_per_channel_on_postgresql(pg_app, clock, monkeypatch):
    with serve_platforms(clock) as platforms:
        for key, value in platform_config(platforms.base).items():
            monkeypatch.setitem(pg_app.config, key, value)
        platforms.wecom_users |= {f"wx{i}" for i in range(6)}
        platforms.ding_users |= {f"dd{i}" for i in range(6)}
        with pg_app.app_context():
            leader = make_leader()
            group = make_group(make_org(), leader=leader)
            from app.programme import services as programme
            from app.timeutil import local_today
            for i in range(6):
                person = make_user(f"p{i}@example.org")
                services.set_channels(None, person, f"wx{i}", f"dd{i}", ["email", "wecom", "dingtalk"])
                programme.add_member(None, group, person, joined_on=local_today() - timedelta(days=10))
            meeting = make_meeting(group, leader)
            _db.session.commit()
            now = meeting.starts_at - HOUR
            services.queue_due_reminders(now)
            _db.session.commit()
            expected = _db.session.scalar(sa.select(sa.func.count(Notification.id)))
            _db.session.remove()
        assert expected == 6 * 3 + 1

        barrier = threading.Barrier(2, timeout=30)
        listed = services.due_ids

        def list_then_wait(at):
            found = listed(at)
            barrier.wait()
            return found

        monkeypatch.setattr(services, "due_ids", list_then_wait)
        results, errors = [], []

        def worker():
            try:
                with pg_app.app_context():
                    results.append(services.send_pending(now, commit=_db.session.commit))
                    _db.session.remove()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        assert sum(r.sent for r in results) == expected and sum(r.taken_elsewhere for r in results) == expected
        wecom = [r.body["touser"] for r in platforms.messages(WECOM_SEND)]
        ding = [r.body["userid_list"] for r in platforms.messages(DING_SEND)]
        assert sorted(wecom) == [f"wx{i}" for i in range(6)] and sorted(ding) == [f"dd{i}" for i in range(6)]
        assert len(pg_app.extensions["mailman"].outbox) == 7


# --- setting a person's channels -------------------------------------------------------------

def test_setting_channels_checks_ids_and_the_programmes_channels(app, db, member, coordinator, platforms, monkeypatch):
    import pytest

    from app.errors import DomainError

    with pytest.raises(DomainError) as refused:
        services.set_channels(coordinator, member, None, None, ["wecom"])
    assert refused.value.field == "wecom_userid"
    with pytest.raises(DomainError) as refused:
        services.set_channels(coordinator, member, "has space", None, None)
    assert refused.value.field == "wecom_userid"
    with pytest.raises(DomainError):
        services.set_channels(coordinator, member, None, None, [])
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", "email,wecom")
    with pytest.raises(DomainError):
        services.set_channels(coordinator, member, None, "dd-member", ["dingtalk"])
    services.set_channels(coordinator, member, " wx-member ", None, ["wecom", "email"])
    assert (member.wecom_userid, member.channels) == ("wx-member", "email,wecom")
    services.set_channels(coordinator, member, "wx-member", None, None)
    assert member.channels is None


def test_a_platform_user_id_belongs_to_one_person(app, db, member, leader, coordinator):
    """Messages to an id reach whoever holds it on the platform: a second person never gets the same id."""
    import pytest

    from app.errors import DomainError

    services.set_channels(coordinator, member, "wx-shared", "dd-shared", None)
    for wx_id, dd_id, field in (("wx-shared", None, "wecom_userid"), (None, "dd-shared", "dingtalk_userid")):
        with pytest.raises(DomainError) as refused:
            services.set_channels(coordinator, leader, wx_id, dd_id, None)
        assert refused.value.field == field and member.name in refused.value.message
        with pytest.raises(DomainError):
            services.set_platform_ids(coordinator, leader, wx_id, dd_id)
    services.set_channels(coordinator, member, "wx-shared", "dd-shared", ["email"])  # keeping one's own id is fine
    assert services.set_platform_ids(coordinator, leader, "wx-leader", "") == {"wecom_userid": "wx-leader"}
    assert (leader.wecom_userid, leader.dingtalk_userid, leader.channels) == ("wx-leader", None, None)
    with pytest.raises(DomainError):  # past the check (two requests at once) the unique index refuses it
        services._save_channel_fields(coordinator, leader, {"wecom_userid": "wx-shared"})
    assert (leader.wecom_userid, member.wecom_userid) == ("wx-leader", "wx-shared")


# --- flask notify test -----------------------------------------------------------------------

def test_notify_test_sends_one_wecom_message_and_prints_the_platforms_answer(app, db, member, platforms):
    services.set_channels(None, member, "wx-member", None, None)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["notify", "test", "--channel", "wecom", "--to", "MEMBER@example.org"])
    assert result.exit_code == 0, result.output
    assert '"errcode": 0' in result.output and '"msgid"' in result.output
    sent = platforms.messages(WECOM_SEND)
    assert len(sent) == 1 and "test message" in sent[0].body["markdown"]["content"]


def test_notify_test_prints_the_refusal_and_fails(app, db, member, platforms, monkeypatch):
    services.set_channels(None, member, None, "dd-member", None)
    db.session.commit()
    monkeypatch.setitem(app.config, "DINGTALK_APP_SECRET", "wrong")
    result = app.test_cli_runner().invoke(args=["notify", "test", "--channel", "dingtalk", "--to", member.email])
    assert result.exit_code == 1 and "errcode 40089" in result.output
    missing = app.test_cli_runner().invoke(args=["notify", "test", "--channel", "wecom", "--to", member.email])
    assert missing.exit_code == 2 and "no WeCom user id" in missing.output


def test_flask_check_names_a_chat_channel_that_is_on_without_its_credentials(app, db, monkeypatch):
    from app.checks import Context, check_chat_channels
    from app.timeutil import utcnow

    context = Context(app=app, now=utcnow(), timeout=3, production=True)
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", "email,dingtalk")
    monkeypatch.setitem(app.config, "CHANNEL_SECRET_KEY", "not-a-key")
    found = check_chat_channels(context)
    assert [r.status for r in found] == ["FAIL", "FAIL"]
    assert "DINGTALK_APP_KEY" in found[0].fix and "Fernet" in found[1].message
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", "email")
    monkeypatch.setitem(app.config, "CHANNEL_SECRET_KEY", None)
    assert [r.status for r in check_chat_channels(context)] == ["OK"]
