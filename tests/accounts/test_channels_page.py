"""The person's page: where their messages go (WeCom and DingTalk ids, chosen channels), set by a coordinator."""

from __future__ import annotations

import pytest

from app.extensions import db as _db


@pytest.fixture
def chat_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", "email,wecom")


def test_a_coordinator_chooses_wecom_for_a_member_on_their_page(client, auth, coordinator, member, chat_on):
    _db.session.commit()
    auth.login(coordinator)
    page = client.get(f"/people/{member.id}")
    assert f"/people/{member.id}/channels" in page.get_data(as_text=True)
    form = client.get(f"/people/{member.id}/channels").get_data(as_text=True)
    assert 'value="wecom"' in form and 'value="dingtalk"' not in form  # DingTalk is off in this programme
    answer = client.post(f"/people/{member.id}/channels", data={"wecom_userid": "wx-member", "channels": ["wecom"]})
    assert answer.status_code == 302
    _db.session.expire_all()
    assert (member.wecom_userid, member.channels) == ("wx-member", "wecom")
    assert "wx-member" in client.get(f"/people/{member.id}").get_data(as_text=True)


def test_choosing_wecom_without_an_id_is_refused_beside_the_field(client, auth, coordinator, member, chat_on):
    _db.session.commit()
    auth.login(coordinator)
    answer = client.post(f"/people/{member.id}/channels", data={"channels": ["wecom"]})
    assert answer.status_code == 422
    assert "WeCom user id" in answer.get_data(as_text=True)
    _db.session.expire_all()
    assert member.channels is None


def test_following_the_default_clears_the_choice(client, auth, coordinator, member, chat_on):
    member.channels = "email"
    _db.session.commit()
    auth.login(coordinator)
    assert client.post(f"/people/{member.id}/channels", data={"follow_default": "y"}).status_code == 302
    _db.session.expire_all()
    assert member.channels is None


def test_a_member_may_not_open_the_page(client, auth, member):
    _db.session.commit()
    auth.login(member)
    assert client.get(f"/people/{member.id}/channels").status_code == 403
