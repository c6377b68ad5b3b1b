"""API: a person's message channels (/people/<id>/channels): read, set, refused with 422, limited to coordinators."""

from __future__ import annotations

import pytest

from app.extensions import db as _db


@pytest.fixture
def chat_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", "email,wecom,dingtalk")


def test_a_coordinator_sets_and_reads_a_persons_channels(api, coordinator, member, chat_on):
    path = f"/api/v1/people/{member.id}/channels"
    assert api.as_(coordinator).get(path).get_json() == {
        "wecom_userid": None, "dingtalk_userid": None, "channels": None, "effective": ["email"]}
    answer = api.as_(coordinator).put(path, json={"wecom_userid": "wx-member", "channels": ["wecom", "email"]})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"wecom_userid": "wx-member", "dingtalk_userid": None,
                                 "channels": ["email", "wecom"], "effective": ["email", "wecom"]}
    _db.session.expire_all()
    assert member.channels == "email,wecom"


def test_a_chat_channel_without_an_id_or_an_unknown_channel_is_refused_with_422(api, coordinator, member, chat_on):
    path = f"/api/v1/people/{member.id}/channels"
    refused = api.as_(coordinator).put(path, json={"channels": ["dingtalk"]})
    assert refused.status_code == 422 and refused.get_json()["errors"]
    assert api.as_(coordinator).put(path, json={"channels": ["sms"]}).status_code == 422
    assert api.as_(coordinator).put(path, json={"wecom_userid": "x" * 65}).status_code == 422


def test_members_and_leaders_may_not_read_or_set_channels(api, leader, member):
    path = f"/api/v1/people/{member.id}/channels"
    assert api.as_(member).get(path).status_code == 403
    assert api.as_(leader).put(path, json={"channels": None}).status_code == 403
