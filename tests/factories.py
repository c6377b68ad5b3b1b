"""What the tests build again and again: people, groups with members, questionnaires, meetings, feedback rounds,
API tokens and organisation coordinators.

Plain functions that write through the services (or straight to the tables where a test needs a state no service
makes) and flush; the caller commits when a request must see the data (the few that commit say so). They run
inside the app context the `db` fixture pushes. "Today" is the deployment's local date at the moment of the call,
as the `today` fixture gives it to a test; pass a date where a test must pin it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import date, time, timedelta

import sqlalchemy as sa

from app.accounts import services as accounts
from app.extensions import db
from app.programme import services as programme
from app.timeutil import local_today, utcnow

PASSWORD = "correct horse battery"


# --- people, organisations and groups ------------------------------------------------------------

def make_org(name="Test Hospital", **kw):
    return programme.create_organisation(None, name=name, **kw)


def make_user(email, roles=("member",), name=None, password=PASSWORD, **kw):
    return accounts.create_user(
        None, email=email, name=name or email.split("@")[0].title(), roles=list(roles), password=password, **kw
    )


def make_group(org, name="Group A", leader=None, **kw):
    """A group of the organisation, with `leader` as its standing leader when one is given."""
    group = programme.create_group(None, organisation_id=org.id, name=name, **kw)
    if leader is not None:
        programme.add_group_leader(None, group, leader)
    return group


def make_members(group, count: int, email: str = "m{i}@example.org", joined_on: date | None = None, **user_kw):
    """`count` new people (e-mail from the pattern, numbered from 0), members of the group since `joined_on`
    (default: thirty days ago). Returns them in order."""
    joined_on = joined_on or local_today() - timedelta(days=30)
    people = [make_user(email.format(i=i), **user_kw) for i in range(count)]
    for person in people:
        programme.add_member(None, group, person, joined_on=joined_on)
    return people


def give_training(user, level="leader", completed_on=None, valid_until=None, verified=True, verifier=None):
    """A training record added straight to the database (verified unless told otherwise)."""
    from app.accounts.models import TrainingRecord

    record = TrainingRecord(
        user=user, kind="Balint leader training", level=level, issuer="Balint Society",
        completed_on=completed_on or local_today() - timedelta(days=365), valid_until=valid_until,
        verified_by=verifier, verified_at=utcnow() if verified else None,
    )
    db.session.add(record)
    db.session.flush()
    return record


def make_leader(email="leader@example.org", name="Leader Li", level="leader", completed_on=None, **kw):
    """A person with the leader role and a verified training record of `level` (completed a year ago unless told)."""
    user = make_user(email, roles=["leader"], name=name, **kw)
    give_training(user, level, completed_on=completed_on)
    return user


def make_scoped_coordinator(organisation, email="scoped@example.org", name="Scoped Coordinator", commit=True):
    """A coordinator for one organisation only (committed unless told otherwise, ready to log in)."""
    user = accounts.create_user(
        None, email=email, name=name, roles=["coordinator"], password=PASSWORD,
        organisation_id=organisation.id, coordinator_org_id=organisation.id,
    )
    if commit:
        db.session.commit()
    return user


def make_token(user, name: str = "test") -> str:
    """A fresh API token for the user (committed, so the request sees it)."""
    from app.api.services import create_token

    token, _row = create_token(None, user, name)
    db.session.commit()
    return token


def bearer_headers(user) -> dict:
    """`Authorization: Bearer …` headers with a fresh token of the user."""
    return {"Authorization": f"Bearer {make_token(user)}"}


# --- meetings --------------------------------------------------------------------------------------

def make_meeting(group, leader=None, days_ahead=10, at=time(14, 0), **kw):
    """A one-off meeting of `group` `days_ahead` days from today (negative: in the past) at `at` local time,
    led by `leader`. Its location is "Room 5, Building 2" unless given (None: the group's)."""
    from app.scheduling import services as scheduling

    kw.setdefault("location", "Room 5, Building 2")
    meeting = scheduling.add_extra_meeting(None, group, day=local_today() + timedelta(days=days_ahead), at=at, **kw)
    if leader is not None:
        scheduling.assign_leaders(None, meeting, leader)
    return meeting


def make_past_meetings(group, leader, on: date | None = None, count: int = 12):
    """`count` meetings of the group on its 1st and 3rd Wednesdays at 14:00 from the first of the month a year
    before `on` (default today), led by `leader` (given leader training long before)."""
    from app.scheduling import services as scheduling
    from app.scheduling.models import Meeting

    on = on or local_today()
    give_training(leader, "leader", completed_on=on - timedelta(days=3000))
    scheduling.save_schedule(None, group, kind="nth_weekday", weekday=2, weeks=[1, 3], start_time=time(14, 0))
    start = date(on.year - 1, on.month, 1)
    scheduling.generate_meetings(None, group, start, start + timedelta(days=200))
    meetings = db.session.scalars(
        sa.select(Meeting).where(Meeting.group_id == group.id).order_by(Meeting.starts_at)
    ).all()[:count]
    for meeting in meetings:
        scheduling.assign_leaders(None, meeting, leader)
    db.session.flush()
    return meetings


def record_held(meeting, people, present=None, now=None):
    """Record the meeting as held: `present` (default: all the people) present, the other people absent."""
    from app.meetings import services as meetings

    present = people if present is None else present
    attendance = {p.id: ("present" if p in present else "absent") for p in people}
    return meetings.record_meeting(None, meeting, status="held", now=now or utcnow(), attendance=attendance)


# --- questionnaires --------------------------------------------------------------------------------

def t(en: str, zh: str | None = None) -> dict[str, str]:
    """A text in both languages (the English twice where the test needs no Chinese)."""
    return {"en": en, "zh_CN": zh or en}


def likert(code: str, text: dict, **more) -> dict:
    return {"code": code, "type": "likert", "min": 1, "max": 5, "text": text, **more}


def scale(code: str, text: dict, **more) -> dict:
    return {"code": code, "type": "scale", "min": 0, "max": 10, "text": text, **more}


def choice(code: str, text: dict, choices: Sequence[tuple[str, dict]], **more) -> dict:
    return {"code": code, "type": "choice", "text": text,
            "choices": [{"value": value, "label": label} for value, label in choices], **more}


def free_text(code: str, text: dict) -> dict:
    return {"code": code, "type": "text", "required": False, "text": text}


def subscale(code: str, title: dict, *items: str, **more) -> dict:
    return {"code": code, "title": title, "items": list(items), **more}


def questionnaire(code: str, title: dict, items: list[dict], subscales: list[dict], version: int = 1,
                  licence: str = "CC0", source: str = "tests") -> dict:
    """An instrument definition as a coordinator's file holds it."""
    return {"code": code, "version": version, "title": title, "licence": licence, "source": source,
            "items": items, "subscales": subscales}


YES_NO = [("yes", t("Yes")), ("no", t("No"))]
AGREE = {str(v): t(label) for v, label in
         [(1, "Strongly disagree"), (2, "Disagree"), (3, "Neither"), (4, "Agree"), (5, "Strongly agree")]}

# The questionnaire a member answers in the answering, API, backup, burst and browser tests.
PULSE = questionnaire(
    "pulse", t("Pulse check", "状态小测"), licence="test", source="test",
    items=[
        likert("recovery", t("I recover after a hard day.", "我能在辛苦的一天后恢复。"), anchors=AGREE),
        likert("coping", t("I cope with the emotional demands.", "我能应对情绪压力。"), anchors=AGREE),
        scale("calm", t("How calm do you feel?", "你感觉有多平静？"),
              anchors={"0": t("Not at all", "完全没有"), "10": t("Completely", "完全")}),
        choice("format", t("Which format suits you?", "哪种形式适合你？"),
               [("onsite", t("On site", "现场")), ("online", t("Online", "线上"))]),
        free_text("comment", t("Anything else?", "还有什么？")),
    ],
    subscales=[subscale("wellbeing", t("Wellbeing", "身心状态"), "recovery", "coping",
                        bands=[{"max": 2.0, "concern": True, "label": t("Low wellbeing", "身心状态欠佳")}])],
)
GOOD = {"recovery": "4", "coping": "5", "calm": "7", "format": "online", "comment": "Helpful group."}
LOW = {"recovery": "1", "coping": "2", "calm": "3", "format": "onsite", "comment": ""}


def _a_and_b(label: str, *, a4: bool = False, b1: dict | None = None) -> list[dict]:
    """Subscale A's likert items a1..a3 (a2 reversed, a2 and a3 optional; a4 optional too when asked) and b1."""
    reversed_label = f"{label}a2 reversed" if label else "a2"
    items = [likert("a1", t(f"{label}a1")),
             likert("a2", t(reversed_label), reverse=True, required=False),
             likert("a3", t(f"{label}a3"), required=False)]
    if a4:
        items.append(likert("a4", t(f"{label}a4"), required=False))
    return [*items, scale("b1", t(f"{label}b1"), **(b1 or {}))]


# Round results (tests/feedback/test_results.py).
RESULTS = questionnaire(
    "test-feedback", t("Test feedback"),
    items=[*_a_and_b("Item "), choice("c1", t("Item c1"), YES_NO, required=False),
           free_text("t1", t("Anything else?"))],
    subscales=[subscale("A", t("Subscale A"), "a1", "a2", "a3"), subscale("B", t("Subscale B"), "b1")],
)

# The disclosure attacks (tests/disclosure/world.py) and the local quarters.
ATTACK = questionnaire(
    "attack", t("Attack test"),
    items=[*_a_and_b("", b1={"required": False}), choice("c1", t("c1"), YES_NO, required=False),
           free_text("t1", t("t1"))],
    subscales=[subscale("A", t("A"), "a1", "a2", "a3"), subscale("B", t("B"), "b1")],
)
# The same with the standard attendance question, whose bands split a round like sources and professions.
ATTACK_ATTENDANCE = {**ATTACK, "items": [
    *ATTACK["items"], scale("m1", t("Meetings attended"), min=1, max=5, standard="attendance", required=False)]}

# Programme trends (tests/trends/test_programme.py).
PROGRAMME_TREND = questionnaire(
    "trend-test", t("Trend test"),
    items=[*_a_and_b("", a4=True), free_text("t1", t("Anything else?"))],
    subscales=[subscale("A", t("Subscale A"), "a1", "a2", "a3", "a4"), subscale("B", t("Subscale B"), "b1")],
)


def group_trend(version: int) -> dict:
    """A group's trends (tests/trends/test_group.py): the same items in every version."""
    return questionnaire("trend-test", t("Trend test"), version=version, items=_a_and_b("Item "),
                         subscales=[subscale("A", t("Subscale A"), "a1", "a2", "a3"),
                                    subscale("B", t("Subscale B"), "b1")])


# Everyone gives the same score (tests/trends/test_no_variation.py).
SAME_SCORE = questionnaire(
    "same-score", t("Same score"), items=[likert(f"i{n}", t(f"Item {n}")) for n in (1, 2, 3)],
    subscales=[subscale("S", t("Strain"), "i1", "i2", "i3")],
)

# Exports (tests/trends/test_exports.py), in both languages.
EXPORT = questionnaire(
    "export-feedback", t("Export feedback"), version=2,
    items=[likert("a1", t("I felt heard", "我感到被倾听")),
           likert("a2", t("I felt tense", "我感到紧张"), reverse=True),
           free_text("t1", t("Anything else?", "还有什么？"))],
    subscales=[subscale("A", t("Being heard", "被倾听"), "a1", "a2")],
)


# One item, for interviews whose notes the identifier guard reads (tests/meetings/test_free_text_guard.py).
GUARD = questionnaire("guard-test", t("Guard"), items=[likert("a1", t("Item"))],
                      subscales=[subscale("A", t("A"), "a1")])


def make_instrument(definition: dict = PULSE, title_en: str | None = None, title_zh: str | None = None,
                    active: bool = False, locked: bool = True):
    """The instrument row of a definition (titles from it unless given), flushed."""
    from app.feedback.models import Instrument

    instrument = Instrument(
        code=definition["code"], version=definition["version"], definition=definition, source_text="{}",
        title_en=title_en or definition["title"]["en"], title_zh=title_zh or definition["title"]["zh_CN"],
        licence=definition["licence"], source=definition["source"], active=active, locked=locked,
    )
    db.session.add(instrument)
    db.session.flush()
    return instrument


def pulse_instrument():
    """The active, locked Pulse check instrument (made the first time it is asked for)."""
    from app.feedback.models import Instrument

    found = db.session.scalar(sa.select(Instrument).where(Instrument.code == "pulse"))
    return found or make_instrument(PULSE, active=True)


# --- feedback rounds -------------------------------------------------------------------------------

def open_round(group, present, absent=(), closes_in=timedelta(days=13), at=time(14, 0), instrument=None):
    """An open round (number 1, Pulse check unless told) over one meeting of the group held two days ago at `at`,
    which the `present` members attended and the `absent` ones missed."""
    from app.feedback.models import FeedbackRound, RoundMeeting
    from app.meetings.models import Attendance

    meeting = make_meeting(group, days_ahead=-2, at=at, location=None)
    meeting.status = "held"
    now = utcnow()
    feedback_round = FeedbackRound(
        group_id=group.id, number=1, opens_at=now - timedelta(days=1), closes_at=now + closes_in,
        instrument_id=(instrument or pulse_instrument()).id, round_meetings=[RoundMeeting(meeting_id=meeting.id)],
    )
    db.session.add(feedback_round)
    for person in present:
        db.session.add(Attendance(meeting_id=meeting.id, user_id=person.id, status="present"))
    for person in absent:
        db.session.add(Attendance(meeting_id=meeting.id, user_id=person.id, status="absent"))
    db.session.flush()
    return feedback_round


def round_of_five(group, meetings, people, definition: dict | None = None, **instrument_columns):
    """The round the group's five held `meetings` open (all `people` present), asking the instrument of
    `definition` when one is given (made after the meetings, so the round opens without one)."""
    from app.feedback.models import FeedbackRound

    for meeting in meetings:
        record_held(meeting, people)
    instrument = make_instrument(definition, **instrument_columns) if definition is not None else None
    the_round = db.session.scalars(sa.select(FeedbackRound).where(FeedbackRound.group_id == group.id)).one()
    if instrument is not None:
        the_round.instrument = instrument
    return the_round


# Self-generated codes (tests/trends/test_paired.py, tests/browser/test_paired_codes.py): two subscales, a2 reversed.
CODED = {**questionnaire(
    "coded", t("Coded check", "编码测评"),
    items=[likert("a1", t("a1")), likert("a2", t("a2"), reverse=True), likert("a3", t("a3")),
           likert("b1", t("b1")), likert("b2", t("b2"))],
    subscales=[subscale("A", t("Subscale A", "分量表A"), "a1", "a2", "a3"), subscale("B", t("Subscale B"), "b1", "b2")],
), "self_generated_code": True}


def code_of(*facts: str, key: str) -> str:
    """The code the answer page builds from these (normalised) facts with the programme key."""
    return hmac.new(key.encode(), "\x1f".join(facts).encode(), hashlib.sha256).hexdigest()


def consecutive_rounds(group, people, instrument):
    """Rounds 1 and 2 of the group, both open for ten more days, each over one held meeting every person attended."""
    from app.feedback.models import FeedbackRound, RoundMeeting
    from app.meetings.models import Attendance

    now = utcnow()
    rounds = []
    for number, days in ((1, 60), (2, 20)):
        meeting = make_meeting(group, days_ahead=-days, location=None)
        meeting.status = "held"
        r = FeedbackRound(group_id=group.id, number=number, opens_at=now - timedelta(days=days - 1),
                          closes_at=now + timedelta(days=10), instrument_id=instrument.id,
                          round_meetings=[RoundMeeting(meeting_id=meeting.id)])
        db.session.add(r)
        for person in people:
            db.session.add(Attendance(meeting_id=meeting.id, user_id=person.id, status="present"))
        rounds.append(r)
    db.session.flush()
    return rounds


def answer_round(feedback_round, people: Iterable, answers: Iterable[dict], close: bool = False):
    """Each person submits the answers beside them (zip, shortest wins); then the round closes when asked."""
    from app.feedback.services.responses import submit_response

    for person, given in zip(people, answers, strict=False):
        submit_response(person, feedback_round, given, utcnow())
    if close:
        feedback_round.close(utcnow())
    return feedback_round


def groups_with_open_rounds(organisation: str, groups: int, per_group: int, email: str) -> list[tuple[str, int]]:
    """A new organisation of `groups` groups of `per_group` members (e-mail from the pattern, with the group's number
    `g` and the member's `i`; members for sixty days); each group held a meeting all its members attended, and its
    round (Pulse check) is open. Returns (member e-mail, round id) for every member, group by group."""
    org = programme.create_organisation(None, name=organisation)
    instrument = pulse_instrument()
    joined_on = local_today() - timedelta(days=60)
    people: list[tuple[str, int]] = []
    for g in range(groups):
        group = make_group(org, f"Group {g:02d}")
        members = [make_user(email.format(g=g, i=i), organisation_id=org.id) for i in range(per_group)]
        for person in members:
            programme.add_member(None, group, person, joined_on=joined_on)
        feedback_round = open_round(group, present=members, instrument=instrument)
        people += [(person.email, feedback_round.id) for person in members]
    return people


def alpha_questionnaire(code: str, title: str) -> dict:
    """A questionnaire whose subscales test Cronbach's alpha: A of three questions (a2 reverse-scored), U of two,
    S of one (no alpha)."""
    return questionnaire(
        code, t(title),
        items=[likert("a1", t("A one")), likert("a2", t("A two"), reverse=True), likert("a3", t("A three")),
               likert("u1", t("U one")), likert("u2", t("U two")), likert("s1", t("Single"))],
        subscales=[subscale("A", t("Together"), "a1", "a2", "a3"), subscale("U", t("Apart"), "u1", "u2"),
                   subscale("S", t("Alone"), "s1")],
    )


def pulse_round(group, number: int, instrument, scores: Iterable, opens_at, closed: bool = True):
    """A round of the group on the PULSE questionnaire, written straight to the tables: one response per score
    (both wellbeing questions answered with it; a pair (a, b) answers them apart). Closed rounds closed at the end
    of their 14-day window."""
    from app.feedback.models import Answer, FeedbackRound, Response

    closes_at = opens_at + timedelta(days=14)
    the_round = FeedbackRound(group_id=group.id, number=number, opens_at=opens_at, closes_at=closes_at,
                              status="closed" if closed else "open", closed_at=closes_at if closed else None,
                              instrument_id=instrument.id)
    db.session.add(the_round)
    db.session.flush()
    for score in scores:
        first, second = score if isinstance(score, tuple) else (score, score)
        db.session.add(Response(round_id=the_round.id, instrument_id=instrument.id, answers=[
            Answer(item_code="recovery", value=first), Answer(item_code="coping", value=second)]))
    db.session.flush()
    return the_round
