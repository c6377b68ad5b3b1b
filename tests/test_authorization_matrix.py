"""Every route against every role, generated from app.url_map so that no new route escapes the check."""

from __future__ import annotations

import re

import pytest

from app import create_app
from app.permissions import PUBLIC, SIGNED_IN

PERSONAS = ("anonymous", "member", "leader", "coordinator")
SKIP_ENDPOINTS = {"static", "bootstrap.static"}
# The JSON API authenticates by bearer token, not by session: tests/api covers its permissions per role.
API_ENDPOINT_PREFIX = "api."


def _rules():
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS or rule.endpoint.startswith(API_ENDPOINT_PREFIX):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, rule.endpoint, method))
    return app, sorted(found)


_APP, RULES = _rules()


def test_every_route_declares_who_may_open_it():
    undeclared = [
        endpoint for _rule, endpoint, _m in RULES
        if not getattr(_APP.view_functions[endpoint], "access", None)
    ]
    assert not undeclared, f"routes without an access decorator: {sorted(set(undeclared))}"


@pytest.fixture
def world(db, org, coordinator, leader, member, group):
    """One of everything a URL can name, related to the personas as the matrix expects."""
    from datetime import date, time

    from app.accounts.models import TrainingRecord
    from app.scheduling import services as scheduling

    record = db.session.query(TrainingRecord).filter_by(user_id=leader.id).first()
    from app.feedback.models import FeedbackRound
    from app.meetings.models import Theme

    meeting = scheduling.add_extra_meeting(None, group, day=date(2031, 1, 8), at=time(14, 0))
    theme = Theme(code="matrix", name_en="Matrix", name_zh="矩阵")
    from app.feedback.models import RoundMeeting
    from app.meetings.models import Attendance

    past = scheduling.add_extra_meeting(None, group, day=date(2026, 1, 7), at=time(14, 0))
    past.status = "held"
    past.attendances.append(Attendance(user_id=member.id, status="present"))
    feedback_round = FeedbackRound(  # open until 2032, and the member attended its meeting
        group_id=group.id, number=1, opens_at=past.starts_at, closes_at=meeting.ends_at.replace(year=2032),
        round_meetings=[RoundMeeting(meeting_id=past.id)],
    )
    from app.feedback.services.instruments import ensure_shipped_instrument

    instrument = ensure_shipped_instrument()
    feedback_round.instrument_id = instrument.id
    db.session.add_all([theme, feedback_round])
    db.session.flush()
    values = {
        "group_id": group.id,
        "org_id": org.id,
        "organisation_id": org.id,
        "user_id": member.id,
        "membership_id": group.memberships[0].id,
        "leader_id": group.leaders[0].id,
        "record_id": record.id,
        "token": "not-a-real-token",
        "meeting_id": meeting.id,
        "round_id": feedback_round.id,
        "theme_id": theme.id,
        "instrument_id": instrument.id,
        "token_id": _api_token_of(member),
        "identity_id": _identity_of(member),
        "filename": "not-an-asset.css",
    }
    db.session.commit()
    return {"values": values, "member": member, "leader": leader, "coordinator": coordinator}


def _identity_of(user) -> int:
    from app.accounts.providers.services import link_identity

    return link_identity(None, user, "oidc", "matrix-subject").id


def _api_token_of(user) -> int:
    from app.api.services import create_token

    _token, row = create_token(None, user, "matrix")
    return row.id


def _url(rule: str, values: dict) -> str:
    def fill(match):
        name = match.group(1).split(":")[-1]
        if name not in values:
            pytest.fail(f"the matrix does not know how to fill <{name}> in {rule}")
        return str(values[name])

    return re.sub(r"<([^>]+)>", fill, rule)


def _sign_in(client, user) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


def _assert_security_headers(response, what: str) -> None:
    """Every answer carries the security headers; scripts come only from this server."""
    policy = response.headers.get("Content-Security-Policy", "")
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if " " in part.strip())
    assert directives.get("script-src") == "'self'", what
    assert directives.get("frame-ancestors") == "'none'", what
    assert response.headers.get("X-Content-Type-Options") == "nosniff", what
    assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), what


def _allowed(access: frozenset, persona: str) -> bool:
    if PUBLIC in access:
        return True
    if persona == "anonymous":
        return False
    return SIGNED_IN in access or persona in access


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("rule", "endpoint", "method"), RULES, ids=[f"{m} {r}" for r, _e, m in RULES])
def test_route_answers_each_role_as_declared(app, client, world, rule, endpoint, method, persona):
    access = app.view_functions[endpoint].access
    if persona != "anonymous":
        _sign_in(client, world[persona])
    url = _url(rule, world["values"])
    response = client.open(url, method=method, data={})

    assert response.status_code < 500, f"{method} {url} as {persona}: {response.status_code}"
    _assert_security_headers(response, f"{method} {url}")
    if _allowed(access, persona):
        assert response.status_code not in (401, 403), f"{method} {url} refused {persona}"
        if persona != "anonymous" and SIGNED_IN not in access and PUBLIC not in access:
            assert "/login" not in response.headers.get("Location", "")
    elif persona == "anonymous":
        assert response.status_code in (302, 401), f"{method} {url} let anonymous in"
        if response.status_code == 302:
            assert "/login" in response.headers["Location"]
    else:
        assert response.status_code == 403, f"{method} {url} let {persona} in ({response.status_code})"


@pytest.mark.parametrize(
    ("rule", "endpoint", "method"),
    [r for r in RULES if "<int:group_id>" in r[0]],
    ids=[f"{m} {r}" for r, _e, m in RULES if "<int:group_id>" in r[0]],
)
def test_a_member_of_no_group_and_a_leader_of_another_group_are_refused_each_group_page(
    app, client, world, db, org, rule, endpoint, method
):
    """Object-level permission: the group in the URL is not theirs."""
    from tests.factories import give_training, make_user

    outsider = make_user("stranger@example.org", roles=["member", "leader"])
    give_training(outsider, "leader")
    db.session.commit()
    _sign_in(client, outsider)
    response = client.open(_url(rule, world["values"]), method=method, data={})
    assert response.status_code == 403
