"""Support for tests/test_fuzz_forms.py: a world to post into, the forms its pages show, hostile values, and a
fingerprint of the whole database.

The fuzz test posts hypothesis-generated values to every HTML form of the app. This module keeps the pieces
that are not assertions: who may use each form and where it is shown (`TARGETS`), building a realistic world
(`build_world`), reading the forms of a page (`forms_on`), the strategies for field values, and
`fingerprint`, which says whether anything in the database changed.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import sqlalchemy as sa
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app.extensions import db

# --- who may use each form, and where it is shown --------------------------------------------

ANONYMOUS = "anonymous"
SIGNED_IN = ("member", "leader", "coordinator")
LEADS = ("leader", "coordinator")


@dataclass(frozen=True)
class Target:
    """How to fuzz one POST endpoint.

    personas: who posts (each may use the form). urls: URL parameters taken from other world values than
    the same-named one (a tuple: hypothesis picks one). pages: paths whose forms are read to find the
    fields (the POST URL itself is read too when it answers GET). fallback: fields of a form that the
    world's pages do not show in their current state (e.g. "activate" of an active questionnaire).
    json: the endpoint takes JSON from a script, not a form; form_of: the page of the form whose fields
    such an endpoint saves. ok_200: a success answers 200 (a page, not a redirect). kept_on_refusal: tables
    a refusal changes by design (documented per case). multipart: the form uploads a file.
    """

    personas: tuple[str, ...]
    pages: tuple[str, ...] = ()
    urls: dict = field(default_factory=dict)
    fallback: tuple[tuple[str, str], ...] = ()
    json: bool = False
    ok_200: bool = False
    kept_on_refusal: frozenset = frozenset()
    multipart: bool = False
    form_of: str | None = None


GROUP = "/groups/{group_id}"
SCHEDULE = "/groups/{group_id}/schedule"
MEETING = "/meetings/{meeting_id}"
PERSON = "/people/{user_id}"
INSTRUMENT = "/instruments/{instrument_id}"

TARGETS: dict[str, Target] = {
    # accounts: public pages
    "accounts.login": Target((ANONYMOUS,)),
    "accounts.logout": Target((ANONYMOUS, *SIGNED_IN), pages=("/",), fallback=(("submit", "text"),)),
    "accounts.request_reset": Target((ANONYMOUS,)),
    # the directory's form shows only with LDAP_URL set (off here: a clear 404, nothing saved)
    "accounts.login_directory": Target((ANONYMOUS,), fallback=(("username", "text"), ("password", "text"))),
    "accounts.reset": Target((ANONYMOUS,), urls={"token": "reset_token"}),
    "accounts.accept_invite": Target((ANONYMOUS,), urls={"token": "invite_token"}),
    "main.set_language": Target((ANONYMOUS, *SIGNED_IN), pages=("/login", "/")),
    # accounts: one's own profile
    "accounts.profile": Target(SIGNED_IN),
    "accounts.change_password": Target(SIGNED_IN, pages=("/profile",)),
    "accounts.revoke_api_token": Target(("member",), pages=("/profile",)),
    "scheduling.renew_personal_feed": Target(SIGNED_IN, pages=("/profile",)),
    # accounts: coordinators' pages for people
    "accounts.invite": Target(("coordinator",)),
    "accounts.edit_user": Target(("coordinator",)),
    "accounts.edit_channels": Target(("coordinator",)),
    "accounts.set_user_active": Target(("coordinator",), pages=(PERSON,), fallback=(("active", "select:0,1"),)),
    "accounts.resend_invite": Target(("coordinator",), pages=(PERSON,), urls={"user_id": "invited_id"}),
    "accounts.link_identity": Target(("coordinator",), pages=(PERSON,)),
    "accounts.unlink_identity": Target(("coordinator",), pages=(PERSON,)),
    "accounts.new_training": Target(("coordinator",), urls={"user_id": "leader_user_id"}),
    "accounts.edit_training": Target(
        ("coordinator",), urls={"user_id": "leader_user_id", "record_id": ("record_id", "unverified_record_id")}),
    "accounts.verify_training": Target(
        ("coordinator",), pages=(PERSON,), urls={"user_id": "leader_user_id", "record_id": "unverified_record_id"}),
    "accounts.delete_training": Target(
        ("coordinator",), pages=(PERSON,),
        urls={"user_id": "leader_user_id", "record_id": ("record_id", "unverified_record_id")}),
    # accounts: importing people from a spreadsheet (the preview answers 200 and saves nothing; the confirmation
    # form appears only after a preview, so its one field is described here)
    "accounts.import_people": Target(("coordinator",), multipart=True, ok_200=True),
    "accounts.confirm_import": Target(("coordinator",), ok_200=True, fallback=(("token", "text"),)),
    # programme
    "programme.new_organisation": Target(("coordinator",)),
    "programme.edit_organisation": Target(("coordinator",)),
    "programme.set_organisation_active": Target(("coordinator",), pages=("/organisations",)),
    "programme.new_group": Target(("coordinator",)),
    "programme.edit_group": Target(("coordinator",)),
    "programme.group_robot": Target(("coordinator",)),
    "programme.remove_group_robot": Target(("coordinator",), pages=(GROUP,), fallback=(("submit", "text"),)),
    "programme.add_member": Target(("coordinator",), pages=(GROUP,)),
    "programme.end_membership": Target(("coordinator",), pages=(GROUP,)),
    "programme.add_leader": Target(("coordinator",), pages=(GROUP,)),
    "programme.remove_leader": Target(("coordinator",), pages=(GROUP,)),
    # scheduling
    "scheduling.save_schedule": Target(LEADS, pages=(SCHEDULE,)),
    "scheduling.generate": Target(LEADS, pages=(SCHEDULE,)),
    "scheduling.extend": Target(LEADS, pages=(SCHEDULE,)),
    "scheduling.add_meeting": Target(LEADS),
    "scheduling.assign_series": Target(LEADS, ok_200=True),
    "scheduling.assign_leaders": Target(LEADS, pages=(MEETING,)),
    "scheduling.reschedule": Target(LEADS, pages=(MEETING,)),
    "scheduling.cancel": Target(LEADS, pages=(MEETING,)),
    "scheduling.holidays": Target(("coordinator",)),
    "scheduling.delete_holiday": Target(("coordinator",), pages=("/holidays",)),
    "scheduling.confirm_year": Target(("coordinator",), pages=("/holidays",)),
    "scheduling.create_group_feed": Target(SIGNED_IN, pages=("/groups/{group_id}/calendar",),
                                           fallback=(("submit", "text"),)),
    "scheduling.renew_group_feed": Target(LEADS, pages=("/groups/{group_id}/calendar",),
                                          fallback=(("submit", "text"),)),
    # meetings
    "meetings.record": Target(LEADS, urls={"meeting_id": ("past_meeting_id", "held_meeting_id")}),
    "meetings.notes": Target(("leader",), urls={"meeting_id": "held_meeting_id"}),
    "meetings.save_live": Target(LEADS, json=True, ok_200=True,
                                 urls={"meeting_id": ("meeting_id", "past_meeting_id")}),
    "meetings.phases": Target(LEADS),
    "meetings.add_supervision": Target(LEADS, pages=("/leaders/{user_id}/portfolio",),
                                       urls={"user_id": "leader_user_id"}),
    "meetings.themes": Target(("coordinator",)),
    "meetings.set_theme_active": Target(("coordinator",), pages=("/themes",)),
    # feedback
    # A refused submission is kept as the member's draft so that nothing typed is lost (app/feedback/answer.py).
    "feedback.answer": Target(("member",), ok_200=True, kept_on_refusal=frozenset({"drafts"})),
    "feedback.save_draft": Target(("member",), json=True, ok_200=True, form_of="/rounds/{round_id}/answer"),
    "feedback.extend_round": Target(("coordinator",), pages=("/groups/{group_id}/rounds",)),
    "feedback.record_interview": Target(LEADS, urls={"round_id": "interview_round_id"}),
    "feedback.review_text": Target(
        ("coordinator",), pages=("/rounds/{round_id}/results",), urls={"round_id": "interview_round_id"},
        fallback=(("action", "select:release,withhold,release_all"), ("ref", "text"))),
    "feedback.group_feedback": Target(("coordinator",)),
    "feedback.upload_instrument": Target(("coordinator",), multipart=True),
    "feedback.activate_instrument": Target(("coordinator",), pages=(INSTRUMENT,), fallback=(("submit", "text"),)),
    "feedback.deactivate_instrument": Target(("coordinator",), pages=(INSTRUMENT,), fallback=(("submit", "text"),)),
    "feedback.record_instrument_permission": Target(("coordinator",), pages=(INSTRUMENT,),
                                                    fallback=(("note", "textarea"),)),
}


# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    """Plain ids of one of everything a form can name (no ORM objects: they outlive the session)."""

    values: dict[str, object]
    login_ids: dict[str, str]  # persona -> the session's _user_id


def build_world() -> World:
    """Wipe the database and create a programme to post into: personas, a group with its leader and two
    members, a schedule with generated meetings, a meeting to come, one past and unrecorded, one held and in
    a questionnaire round, one held and in an interview round with an interview recorded, a theme, the
    shipped questionnaire, an API token, a holiday exception, training records, invitation and reset links."""
    from app.accounts import services as accounts
    from app.accounts.providers.services import link_identity
    from app.api.services import create_token
    from app.extensions import limiter
    from app.feedback.models import FeedbackRound, RoundMeeting
    from app.feedback.services import interviews
    from app.feedback.services.instruments import ensure_shipped_instrument
    from app.meetings import services as meetings
    from app.meetings.models import Theme
    from app.programme import services as programme
    from app.scheduling import services as scheduling
    from app.scheduling.services import feeds as calendars
    from app.timeutil import local_today, utcnow
    from tests.conftest import _wipe
    from tests.factories import give_training, make_group, make_org, make_user

    db.session.rollback()
    db.session.remove()
    _wipe(db.engine)
    limiter.reset()
    today = local_today()

    org = make_org()
    make_org("Other Hospital")
    coordinator = make_user("coordinator@example.org", roles=["coordinator"], name="Coordinator Chen")
    leader = make_user("leader@example.org", roles=["leader"], name="Leader Li", organisation_id=org.id)
    record = give_training(leader, "leader")
    unverified = give_training(leader, "training_leader", verified=False)
    co_leader = make_user("colead@example.org", roles=["leader"], name="Co Lead Cao", organisation_id=org.id)
    give_training(co_leader, "leader")
    member = make_user("member@example.org", roles=["member"], name="Member Ma", organisation_id=org.id)
    second = make_user("second@example.org", roles=["member"], name="Second Song", organisation_id=org.id)
    make_user("candidate@example.org", roles=["member"], name="Candidate Cui", organisation_id=org.id)
    invited = accounts.create_user(None, email="invited@example.org", name="Invited Yu", roles=["member"],
                                   organisation_id=org.id)

    group = make_group(org, "Paediatrics Balint group", location="Room 3")
    programme.add_group_leader(None, group, leader)
    for person in (member, second):
        programme.add_member(None, group, person, joined_on=today - timedelta(days=60))
    db.session.flush()

    scheduling.save_schedule(None, group, kind="nth_weekday", weekday=2, weeks=[1, 3], start_on=None,
                             start_time=time(14, 0), holiday_policy="move")
    scheduling.generate_meetings(None, group, today + timedelta(days=1), today + timedelta(days=45))
    upcoming = scheduling.add_extra_meeting(None, group, day=today + timedelta(days=10), at=time(9, 0))
    scheduling.assign_leaders(None, upcoming, leader, co_leader)
    past = scheduling.add_extra_meeting(None, group, day=today - timedelta(days=3), at=time(9, 0))
    scheduling.assign_leaders(None, past, leader)  # so that it can be recorded as held
    held = scheduling.add_extra_meeting(None, group, day=today - timedelta(days=10), at=time(9, 0))
    interviewed = scheduling.add_extra_meeting(None, group, day=today - timedelta(days=17), at=time(9, 0))
    for meeting in (held, interviewed):
        scheduling.assign_leaders(None, meeting, leader)  # a meeting is recorded as held only with an eligible lead
        meetings.record_meeting(None, meeting, status="held", now=utcnow(),
                                attendance={member.id: "present", second.id: "present"})
    db.session.add(Theme(code="night_shifts", name_en="Night shifts", name_zh="夜班"))
    meetings.ensure_default_themes()

    instrument = ensure_shipped_instrument()
    closes = utcnow() + timedelta(days=30)
    questionnaire = FeedbackRound(group_id=group.id, number=1, opens_at=utcnow() - timedelta(days=1),
                                  closes_at=closes, instrument_id=instrument.id,
                                  round_meetings=[RoundMeeting(meeting_id=held.id)])
    interview = FeedbackRound(group_id=group.id, number=2, opens_at=utcnow() - timedelta(days=1), closes_at=closes,
                              instrument_id=instrument.id, mode="interview",
                              round_meetings=[RoundMeeting(meeting_id=interviewed.id)])
    db.session.add_all([questionnaire, interview])
    db.session.flush()
    interviews.record_interview(leader, interview, _valid_answers(instrument), "She felt heard.", utcnow())

    _token, api_token = create_token(None, member, "fuzz")
    for person in (coordinator, leader, member):
        calendars.personal_feed(person)  # made on the first visit of the profile page, even by a refused post
    scheduling.add_exception(None, day=date(today.year, 12, 28), kind="workday", name="Make-up day")
    calendars.group_feed(group, leader)
    values = {
        "group_id": group.id, "org_id": org.id, "organisation_id": org.id,
        "user_id": member.id, "member_id": member.id, "second_id": second.id, "leader_user_id": leader.id,
        "coordinator_id": coordinator.id, "invited_id": invited.id,
        "membership_id": group.memberships[0].id, "leader_id": group.leaders[0].id,
        "record_id": record.id, "unverified_record_id": unverified.id,
        "meeting_id": upcoming.id, "past_meeting_id": past.id, "held_meeting_id": held.id,
        "round_id": questionnaire.id, "interview_round_id": interview.id,
        "theme_id": db.session.scalar(sa.select(Theme.id).where(Theme.code == "night_shifts")),
        "instrument_id": instrument.id, "token_id": api_token.id,
        "identity_id": link_identity(None, member, "oidc", "fuzz-subject").id,
        "invite_token": accounts.make_link_token(invited, accounts.INVITE),
        "reset_token": accounts.make_link_token(member, accounts.RESET),
    }
    logins = {"member": member.get_id(), "leader": leader.get_id(), "coordinator": coordinator.get_id()}
    db.session.commit()
    db.session.remove()
    return World(values=values, login_ids=logins)


def _valid_answers(instrument) -> dict:
    """One valid answer to every item of a questionnaire (the middle of a scale, the first choice)."""
    from app.feedback import scoring as rules

    answers = {}
    for item in rules.definition_from_dict(instrument.definition).items:
        if item.is_numeric:
            answers[item.code] = item.values[len(item.values) // 2]
        elif item.type == "choice":
            answers[item.code] = item.choices[0].value
        else:
            answers[item.code] = "Calmer."
    return answers


def sign_in(client, login_id: str | None, lang: str | None = None) -> None:
    """Sign a test client in as a persona (None: anonymous), in a language, without the log-in form."""
    with client.session_transaction() as session:
        if login_id is not None:
            session["_user_id"] = login_id
            session["_fresh"] = True
        if lang is not None:
            session["lang"] = lang


def fill(template: str, values: dict) -> str:
    """A path template ("/groups/{group_id}") filled from the world's values."""
    return template.format(**values)


# --- the forms on a page ---------------------------------------------------------------------


@dataclass
class Field:
    """One named control of a form: its kind (text, date, number, select, checkbox, textarea, hidden, file, ...),
    the values offered (options, radio and checkbox values, button values) and its current value."""

    name: str
    kind: str
    options: list[str] = field(default_factory=list)
    value: str = ""
    multiple: bool = False


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: dict[str, Field] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.select: Field | None = None
        self.option_value: str | None = None
        self.option_text: list[str] | None = None

    def _field(self, name: str, kind: str) -> Field:
        return self.form.fields.setdefault(name, Field(name, kind))

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.form = Form(action=a.get("action") or self.page_url, method=(a.get("method") or "get").lower(),
                             enctype=a.get("enctype") or "application/x-www-form-urlencoded")
            return
        if self.form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "image", "reset"):
                return
            f = self._field(name, kind)
            if kind in ("radio", "checkbox"):
                if f.options and kind == "checkbox":
                    f.multiple = True
                f.options.append(a.get("value", "on"))
            else:
                f.value = a.get("value", "")
        elif tag == "button" and name:
            self._field(name, "button").options.append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._field(name, "textarea")
        elif tag == "select" and name:
            self.select = self._field(name, "select")
            self.select.multiple = "multiple" in a
        elif tag == "option" and self.select is not None:
            self.option_value = a.get("value")
            self.option_text = []

    def handle_data(self, data):
        if self.option_text is not None:
            self.option_text.append(data)

    def handle_endtag(self, tag):
        if tag == "option" and self.select is not None and self.option_text is not None:
            value = self.option_value if self.option_value is not None else "".join(self.option_text).strip()
            self.select.options.append(value)
            self.option_text = None
        elif tag == "select":
            self.select = None
        elif tag == "form" and self.form is not None:
            self.forms.append(self.form)
            self.form = None


def forms_on(html: str, page_url: str) -> list[Form]:
    """The forms of a page, with their fields."""
    parser = _FormParser(page_url)
    parser.feed(html)
    parser.close()
    return parser.forms


def form_for(client, url: str, pages: list[str]) -> Form | None:
    """The form that posts to `url` on the first of `pages` that shows one (None when none does)."""
    path = urlsplit(url).path
    for page in pages:
        response = client.get(page)
        if response.status_code != 200 or not response.mimetype.startswith("text/html"):
            continue
        for form in forms_on(response.get_data(as_text=True), page):
            if form.method == "post" and urlsplit(form.action).path == path:
                return form
    return None


def fallback_form(url: str, fields: tuple[tuple[str, str], ...]) -> Form:
    """A form described by a Target's fallback: (name, kind) with kind "text", "textarea" or "select:a,b"."""
    form = Form(action=url, method="post", enctype="application/x-www-form-urlencoded")
    for name, kind in fields:
        if kind.startswith("select:"):
            form.fields[name] = Field(name, "select", options=kind.split(":", 1)[1].split(","))
        else:
            form.fields[name] = Field(name, kind)
    return form


# --- hostile values ---------------------------------------------------------------------------

# Right-to-left and bidi controls, zero-width characters, combining marks, emoji (with joiners and
# skin tones), CJK, full-width and other-script digits, odd spaces, line separators, and noncharacters.
ODD_CHARACTERS = (
    "\u200f\u200e\u202e\u202d\u2066\u2067\u2069\u061c"  # bidi
    "\u200b\u200c\u200d\u2060\ufeff\u00ad"  # zero width, soft hyphen
    "\u0301\u0336\u20dd\u0489"  # combining
    "😀👩‍⚕️🏥🇨🇳👍🏽"  # emoji
    "中文汉字測試𠀀龘"  # CJK, one outside the BMP
    "１２３０٣۴߂"  # full-width, Arabic-Indic, NKo digits
    "\u00a0\u3000\u2028\u2029\t\r\n"  # odd spaces and line breaks
    "\x01\x1b\x7f\x85"  # control characters
    "\ufffd\uffff\ufdd0"  # replacement and noncharacters
    "<>&\"'`\\%/;"  # markup and quoting
)
WRONG_TYPES = (
    "", " ", "abc", "-1", "0", "1.5", "1,5", "99999999999999999999", "-99999999999999999999", "2147483648",
    "9223372036854775808", "1e309", "NaN", "inf", "0x1F", "１２", "٣", "+5", "007",
    "0000-00-00", "9999-12-31", "0001-01-01", "2024-02-30", "2024-13-01", "31/12/2024", "2024-1-1", "20240101",
    "-2024-01-01", "25:61", "24:00", "23:59:60", "-00:01", "14:00:00.5", "14h", "true", "false", "null",
    "None", "[]", "{}", "on", "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "%00", "${7*7}",
    "{{7*7}}", "\u202e1202-10-10", "+-5", "--5", "-0", "0" * 40 + "1", "1" * 5000,
    "//[", "http://[::1", "http://a\u2100b/", "//evil.example/", "javascript:alert(1)", "/\\evil.example",
)
QUERY_NAMES = ("next", "year", "page", "show", "q", "lang", "source", "organisation", "status", "on", "action")


def query_string():
    """Extra query parameters, as a link or a tampered address may carry: the views read some on a POST."""
    return st.lists(st.tuples(st.sampled_from(QUERY_NAMES), st.one_of(st.sampled_from(WRONG_TYPES), odd_text(12))),
                    max_size=2).map(lambda pairs: urlencode(pairs))


def odd_text(max_size: int = 40):
    """Surrogate-free text heavy in the awkward characters above."""
    return st.text(
        alphabet=st.one_of(st.sampled_from(ODD_CHARACTERS), st.characters(exclude_categories=("Cs",))),
        max_size=max_size,
    )


def huge_text():
    """100 KB and more of one character or a short odd run."""
    return st.builds(lambda unit, n: (unit * (n // len(unit) + 1))[:n],
                     st.sampled_from(["x", "中", "😀", "a\u0301", "<b>", "\u200f", "1", "x "]),
                     st.integers(min_value=100_000, max_value=130_000))


def with_nul():
    return st.builds(lambda a, b: a + "\x00" + b, odd_text(8), odd_text(8))


def invalid_utf8():
    """Bytes that are not UTF-8 (posted percent-encoded)."""
    return st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"abc\x80def", b"\xf4\x90\x80\x80"])


def plausible(f: Field):
    """A value a person could have typed or chosen for the field (mostly what the page shows, left as it is)."""
    if f.kind == "checkbox" and f.multiple:
        return st.lists(st.sampled_from(f.options), unique=True, max_size=len(f.options))
    if f.kind == "checkbox":
        return st.sampled_from([*f.options, None])
    if f.kind in ("select", "radio", "button") and f.options:
        return st.sampled_from(f.options)
    if f.kind == "hidden" and f.value:
        return st.just(f.value)
    if f.value and f.kind not in ("password", "file"):
        return st.one_of(st.just(f.value), st.just(f.value), _typed(f))
    return _typed(f)


def _typed(f: Field):
    today = date.today()
    if f.kind == "date" or f.name.endswith(("_on", "since", "until", "day")):
        return st.dates(today - timedelta(days=800), today + timedelta(days=800)).map(date.isoformat)
    if f.kind == "time" or f.name.endswith(("_at", "_time")) or f.name == "at":
        return st.times().map(lambda t: t.strftime("%H:%M"))
    if f.kind == "number" or f.name in ("months", "year", "capacity", "minutes") or f.name.endswith("_minutes"):
        return st.one_of(st.integers(1, 60), st.integers(-5, 600)).map(str)
    if f.kind == "email" or "email" in f.name:
        return st.sampled_from(["someone@example.org", "Member@Example.org", "x@y", "中文@例子.中国", "a@b.c"])
    if f.kind == "password" or "password" in f.name or f.name == "confirm":
        return st.sampled_from(["correct horse battery", "short", "new password 12345"])
    if "link" in f.name:
        return st.sampled_from(["https://meet.example.org/balint", "", "meet.example.org"])
    if f.name == "source":
        return st.sampled_from([MINIMAL_INSTRUMENT, MINIMAL_INSTRUMENT.replace("version: 1", "version: 2"), "Hello"])
    return st.sampled_from(["Hello", "测试", "Ward 5, 2nd floor", "https://meet.example.org/balint", f.value or "1"])


MINIMAL_INSTRUMENT = """\
code: fuzz
version: 1
title: {en: Fuzz, zh_CN: 模糊}
licence: CC0
source: tests
items:
  - code: q1
    type: scale
    min: 0
    max: 10
    text: {en: How much?, zh_CN: 多少？}
subscales:
  - code: s
    title: {en: Only, zh_CN: 唯一}
    items: [q1]
"""


def value_for(f: Field):
    """One field's value: usually plausible, else odd, wrong-typed, huge, with a NUL, not UTF-8, several
    values where one is expected, or missing (None)."""
    return st.one_of(
        plausible(f), plausible(f), plausible(f),
        odd_text(), st.sampled_from(WRONG_TYPES), huge_text(), with_nul(), invalid_utf8(),
        st.lists(st.one_of(st.sampled_from(f.options or [f.value or "1"]), st.sampled_from(WRONG_TYPES)),
                 min_size=2, max_size=4),
        st.none(),
    )


@st.composite
def form_data(draw, fields: list[Field]):
    """(name, value) pairs for a form, in one of two moods: mostly what a person would send with one or two
    fields hostile (to get past the first check into the services), or every field anything at all; then
    extra fields, and sometimes shuffled."""
    by_name = {f.name: f for f in fields}
    if by_name and draw(st.sampled_from(["few", "few", "any"]), label="mood") == "few":
        values = {f.name: draw(plausible(f), label=f.name) for f in fields}
        for name in draw(st.lists(st.sampled_from(sorted(by_name)), max_size=2, unique=True), label="hostile"):
            values[name] = draw(value_for(by_name[name]), label=name)
    else:
        values = {f.name: draw(value_for(f), label=f.name) for f in fields}
    pairs = []
    for name, value in values.items():
        if value is not None:
            pairs += [(name, one) for one in (value if isinstance(value, list) else [value])]
    pairs += draw(extra_fields(), label="extra fields")
    return draw(st.permutations(pairs), label="order") if draw(st.booleans(), label="shuffle") else pairs


EXTRA_NAMES = ("csrf_token", "id", "user_id", "group_id", "attendance-999999", "a-unknown", "is_admin", "roles",
               "status", "__proto__", "submit", "")


def extra_fields():
    return st.lists(st.tuples(st.one_of(st.sampled_from(EXTRA_NAMES), odd_text(12)),
                              st.one_of(st.sampled_from(WRONG_TYPES), odd_text())), max_size=3)


def json_values():
    """JSON documents of any shape: huge and negative numbers, odd strings, lone surrogates, deep nesting."""
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False), odd_text(), st.sampled_from(WRONG_TYPES),
        st.sampled_from(["\ud800", "a\udfffb"]),  # lone surrogates: JSON may spell them, UTF-8 cannot store them
    )
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(odd_text(10), inner, max_size=4)),
                        max_leaves=12)


def encode_form(pairs: list[tuple[str, object]]) -> bytes:
    """An application/x-www-form-urlencoded body; values may be str or bytes (not UTF-8)."""
    return urlencode(pairs, encoding="utf-8").encode("ascii")


def encode_multipart_form(pairs: list[tuple[str, object]], files: dict[str, tuple[bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body built in memory (the test client spools a large one to a temporary file
    that it never closes) and its content type."""
    data = MultiDict()
    for name, value in pairs:
        data.add(name, value.decode("latin-1") if isinstance(value, bytes) else value)
    for name, (content, filename) in files.items():
        data.add(name, FileStorage(io.BytesIO(content), filename=filename, content_type="application/octet-stream"))
    boundary, body = encode_multipart(data)
    return body, f"multipart/form-data; boundary={boundary}"


# --- the database: a snapshot of the world, and its fingerprint --------------------------------


@dataclass
class Snapshot:
    """Every row of every table right after `build_world`, to put back quickly after a post saved something;
    with its fingerprint, and the forms found on the world's pages (the same after each restore)."""

    rows: dict[str, list[dict]]
    world: World
    fingerprint: dict
    forms: dict = field(default_factory=dict)


def take_snapshot(world: World) -> Snapshot:
    with db.engine.connect() as conn:
        rows = {t.name: [dict(r._mapping) for r in conn.execute(t.select())] for t in db.metadata.sorted_tables}
    return Snapshot(rows=rows, world=world, fingerprint=fingerprint())


def restore(snapshot: Snapshot) -> None:
    """Empty every table and insert the snapshot's rows again (ids included; PostgreSQL's sequences follow).

    DELETE rather than the suite's TRUNCATE: on these few rows it is ten times faster on PostgreSQL."""
    from app.extensions import limiter

    db.session.rollback()
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
        for table in db.metadata.sorted_tables:
            if snapshot.rows[table.name]:
                conn.execute(table.insert(), snapshot.rows[table.name])
        if conn.dialect.name == "postgresql":
            for table in db.metadata.sorted_tables:
                for column in table.primary_key.columns:
                    if isinstance(column.type, sa.Integer):
                        conn.execute(sa.text(
                            f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', '{column.name}'), "
                            f"COALESCE((SELECT MAX(\"{column.name}\") FROM \"{table.name}\"), 0) + 1, false)"
                        ))
    limiter.reset()


def fingerprint() -> dict[str, tuple[int, str]]:
    """Per table: its row count and a hash of all its rows, read through a connection of its own."""
    found = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            rows = sorted(repr(tuple(row)) for row in conn.execute(table.select()))
            digest = hashlib.sha256("\n".join(rows).encode("utf-8", "backslashreplace")).hexdigest()[:16]
            found[table.name] = (len(rows), digest)
    return found


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


def stored_text_problems() -> list[str]:
    """Columns holding text no database keeps faithfully (a NUL, a lone surrogate): checked after a success."""
    problems = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                for column, value in zip(table.columns, row, strict=True):
                    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
                    if isinstance(text, str) and ("\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text)):
                        problems.append(f"{table.name}.{column.name}")
    return problems
