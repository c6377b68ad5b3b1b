"""Input fuzzing of every HTML form: hypothesis posts odd unicode, huge strings, wrong types, NULs, missing and
extra fields to each POST route of app.url_map (the JSON API is fuzzed by schemathesis in tests/api).

Each route is posted to by a persona allowed to use it, in English or Chinese. Whatever is sent:
- the answer is never a 5xx;
- a refusal (4xx, or the form sent back with 200) changes nothing in the database (a fingerprint of every
  table is compared) and says why in a message, in Chinese when the page is in Chinese;
- a success leaves data the app can show: the page it redirects to and the form's pages answer without a 5xx,
  and no stored text holds a NUL or a lone surrogate.
A second app with CSRF switched on (as in production) refuses a post without its token, or with a wrong one,
with a 400 and a translated message, and saves nothing.

The world is built once, kept as a snapshot, and put back whenever a post saved something, so that the
examples do not depend on each other.
"""

from __future__ import annotations

import html
import logging
import os
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from app.extensions import limiter
from tests import fuzz_support as fz

SKIP_ENDPOINTS = {"static", "bootstrap.static"}
API_ENDPOINT_PREFIX = "api."
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
CJK = re.compile(r"[\u3400-\u9fff]")
CSRF_MESSAGE = "The form has expired or was sent from elsewhere. Please try again."


def _post_rules():
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS or rule.endpoint.startswith(API_ENDPOINT_PREFIX):
            continue
        if "POST" in rule.methods:
            found.append((rule.rule, rule.endpoint, "GET" in rule.methods))
    return sorted(found)


POST_RULES = _post_rules()
IDS = [endpoint for _rule, endpoint, _get in POST_RULES]


def test_every_post_route_has_a_fuzz_target():
    """A new form cannot escape the fuzzing: each POST route says who posts to it and where its form is."""
    missing = sorted(set(IDS) - set(fz.TARGETS))
    assert not missing, f"add these endpoints to tests/fuzz_support.py TARGETS: {missing}"
    stale = sorted(set(fz.TARGETS) - set(IDS))
    assert not stale, f"TARGETS names endpoints that are gone: {stale}"


# --- the session's world ---------------------------------------------------------------------

_SNAPSHOTS: dict[str, fz.Snapshot] = {}


@pytest.fixture
def fuzz_db(app):
    """The database in an app context, as tests/conftest.py's `db` gives it but without emptying it first
    (TRUNCATE is slow on PostgreSQL): each test starts by restoring the world's snapshot, which empties it."""
    from app.extensions import db

    with app.app_context():
        limiter.reset()
        yield db
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def snapshot(app, fuzz_db):
    """The world, built once per database and restored from its snapshot by each test."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url not in _SNAPSHOTS:
        world = fz.build_world()
        _SNAPSHOTS[url] = fz.take_snapshot(world)
    return _SNAPSHOTS[url]


class _Errors(logging.Handler):
    """Keeps the tracebacks the app logs for unexpected errors, to name a 500's cause."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(self.format(record))


@pytest.fixture
def app_errors(app):
    handler = _Errors()
    app.logger.addHandler(handler)
    yield handler
    app.logger.removeHandler(handler)


def _url(rule: str, values: dict) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: str(values[m.group(1)]), rule)


def _values(world: fz.World, target: fz.Target, pick=lambda choices: choices[0]) -> dict:
    """The world's values with the target's URL parameters (`pick` chooses where there is a choice)."""
    values = dict(world.values)
    for name, source in target.urls.items():
        values[name] = world.values[source if isinstance(source, str) else pick(source)]
    return values


# --- reading answers -------------------------------------------------------------------------


class _Messages(HTMLParser):
    """The texts a person reads as the answer to a post: field errors, alerts and an error page's message."""

    CLASSES = {"invalid-feedback", "alert"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.current: list[str] = []
        self.found: list[str] = []
        self.error_page = False

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        if self.depth:
            self.depth += 1
        elif classes & self.CLASSES or (self.error_page and "lead" in classes):
            self.depth = 1
            self.current = []
        if tag == "h1" and "h3" in classes:
            self.error_page = True  # templates/errors/error.html: <h1 class="h3">code</h1><p class="lead">

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1
            if not self.depth:
                text = " ".join("".join(self.current).split())
                if text:
                    self.found.append(text)

    def handle_data(self, data):
        if self.depth:
            self.current.append(data)


def messages_of(response) -> list[str]:
    if response.is_json:
        body = response.get_json(silent=True) or {}
        return [str(body["detail"])] if body.get("detail") else []
    parser = _Messages()
    parser.feed(response.get_data(as_text=True))
    return parser.found


def _describe(method, url, persona, lang, status, app_errors) -> str:
    cause = app_errors.records[-1][-3000:] if app_errors.records else ""
    return f"{method} {url} as {persona} ({lang}) answered {status}\n{cause}"


# --- the fuzzer --------------------------------------------------------------------------------


class Fuzzer:
    """State kept across the examples of one route's test: the world's freshness and the forms found."""

    def __init__(self, app, snapshot: fz.Snapshot, rule: str, endpoint: str, has_get: bool, app_errors):
        self.app, self.snapshot, self.rule, self.endpoint, self.has_get = app, snapshot, rule, endpoint, has_get
        self.target = fz.TARGETS[endpoint]
        self.world = snapshot.world
        self.app_errors = app_errors
        self.dirty = True
        self.before: dict | None = None
        self.found: set[bool] = set()  # whether a form was found, for each persona and URL posted to
        self.strategies: dict[int, st.SearchStrategy] = {}

    def client(self, persona: str, lang: str):
        client = self.app.test_client()
        fz.sign_in(client, self.world.login_ids.get(persona), lang)
        return client

    def pages(self, url: str, values: dict) -> list[str]:
        pages = [url] if self.has_get else []
        if self.target.form_of:
            pages = [fz.fill(self.target.form_of, values)]
        return pages + [fz.fill(page, values) for page in self.target.pages]

    def prepare(self, persona: str, url: str, values: dict) -> fz.Form | None:
        """Put the world back if a post saved something; find the form (once per world: the world's pages
        are the same after each restore) as the persona sees it."""
        if self.dirty:
            fz.restore(self.snapshot)
            self.before = self.snapshot.fingerprint
            self.dirty = False
        elif self.before is None:
            self.before = fz.fingerprint()
        key = (self.endpoint, persona, url)
        if key not in self.snapshot.forms:
            client = self.client(persona, "en")
            pages = self.pages(url, values)
            action = pages[0] if self.target.form_of else url
            form = fz.form_for(client, action, pages)
            if form is None and self.target.fallback:
                form = fz.fallback_form(url, self.target.fallback)
            self.snapshot.forms[key] = form
            self.found.add(form is not None)
            after = fz.fingerprint()
            assert fz.changed_tables(self.before, after) == [], f"opening {pages} as {persona} saved something"
        self.found.add(self.snapshot.forms[key] is not None)
        return self.snapshot.forms[key]

    # -- drawing a request --

    def draw_form_data(self, draw, form: fz.Form | None):
        key = id(form)
        if key not in self.strategies:
            fields = [f for f in (form.fields.values() if form else []) if f.name != "csrf_token" and f.kind != "file"]
            self.strategies[key] = fz.form_data(fields)
        return draw(self.strategies[key], label="fields")

    def draw_json(self, draw, form: fz.Form | None, values: dict):
        if self.endpoint == "feedback.save_draft":
            codes = [name[2:] for name in (form.fields if form else {}) if name.startswith("a-")]
            answer = st.one_of(st.sampled_from(["1", "3", "5", 3, "Better.", "calm\ud800"]), fz.json_values(),
                               fz.huge_text())
            answers = st.dictionaries(st.one_of(st.sampled_from(codes or ["x"]), fz.odd_text(10)), answer,
                                      max_size=6)
            return draw(st.one_of(st.fixed_dictionaries({"answers": answers}), fz.json_values()), label="json")
        members = [values["member_id"], values["second_id"], 0, -1, 10**20, True, "1"]
        moment = st.one_of(st.just("2031-01-08T06:00:00.000Z"), st.sampled_from(fz.WRONG_TYPES), fz.json_values())
        phase = st.sampled_from(["case", "questions", "discussion", "return", "closing", "ended", "other"])
        live = st.fixed_dictionaries({}, optional={
            "present": st.one_of(st.lists(st.sampled_from(members), max_size=4), fz.json_values()),
            "presenter_id": st.one_of(st.sampled_from(members), fz.json_values()),
            "phase": st.one_of(phase, fz.json_values()),
            "started_at": moment, "phase_started_at": moment,
            "phase_log": st.one_of(st.lists(st.fixed_dictionaries(
                {"phase": phase, "started_at": moment}, optional={"ended_at": moment}), max_size=3),
                fz.json_values()),
            "extra": fz.json_values(),
        })
        return draw(st.one_of(live, fz.json_values()), label="json")

    def post(self, draw, client, url: str, form: fz.Form | None, values: dict):
        query = draw(fz.query_string(), label="query")
        url = f"{url}?{query}" if query else url
        if self.target.json:
            how = draw(st.sampled_from(["json", "json", "json", "broken", "form"]), label="body")
            if how == "json":
                return client.post(url, json=self.draw_json(draw, form, values))
            if how == "broken":
                body = draw(st.sampled_from([b"{", b"\xff\xfe", b"null", b'{"answers": ', b"[" * 5000]))
                return client.post(url, data=body, content_type="application/json")
        pairs = self.draw_form_data(draw, form)
        multipart = self.target.multipart or draw(st.sampled_from([False, False, False, True]), label="multipart")
        if multipart:
            files = {}
            if form is not None and "file" in form.fields and draw(st.booleans(), label="with file"):
                content = draw(st.one_of(
                    st.binary(max_size=2000), fz.odd_text(200).map(lambda t: t.encode("utf-8")),
                    st.sampled_from([b"code: x\nversion: 1\n", b"{}", b"- a\n- b", b"\xef\xbb\xbf" + b"a: [" * 50,
                                     b"x" * 300_000]),
                ), label="file content")
                files["file"] = (content, draw(st.one_of(st.just("q.yaml"), fz.odd_text(20)), label="filename"))
            body, content_type = fz.encode_multipart_form(pairs, files)
            return client.post(url, data=body, content_type=content_type)
        return client.post(url, data=fz.encode_form(pairs), content_type="application/x-www-form-urlencoded")

    # -- one example --

    def example(self, draw):
        target = self.target
        persona = draw(st.sampled_from(target.personas), label="persona")
        lang = draw(st.sampled_from(["en", "zh_CN"]), label="lang")
        values = _values(self.world, target, lambda choices: draw(st.sampled_from(choices), label="url"))
        url = _url(self.rule, values)
        form = self.prepare(persona, url, values)
        client = self.client(persona, lang)
        self.app_errors.records.clear()
        limiter.reset()  # rate limits would answer most examples with a 429 and hide the form behind them

        response = self.post(draw, client, url, form, values)
        fz.db.session.rollback()
        fz.db.session.remove()  # as at the end of a real request: nothing left pending in the session
        what = _describe("POST", url, persona, lang, response.status_code, self.app_errors)
        assert response.status_code < 500, what

        success = response.status_code in (301, 302, 303) or (target.ok_200 and response.status_code == 200)
        if success:
            self.check_success(client, response, url, values, what)
        else:
            self.check_refusal(response, lang, what)

    def check_refusal(self, response, lang: str, what: str) -> None:
        after = fz.fingerprint()
        changed = [t for t in fz.changed_tables(self.before, after) if t not in self.target.kept_on_refusal]
        assert not changed, f"refused but saved something in {changed}: {what}"
        self.before = after
        messages = messages_of(response)
        assert messages, f"refused without a message: {what}"
        if lang == "zh_CN":
            untranslated = [m for m in messages if not CJK.search(m)]
            assert not untranslated, f"untranslated messages {untranslated}: {what}"

    def check_success(self, client, response, url: str, values: dict, what: str) -> None:
        self.dirty = True
        problems = fz.stored_text_problems()
        assert not problems, f"stored text no database keeps faithfully in {problems}: {what}"
        pages = self.pages(url, values)
        location = response.headers.get("Location")
        if location and not urlsplit(location).netloc:
            pages.insert(0, location)
        for page in pages:
            shown = client.get(page)
            fz.db.session.rollback()
            fz.db.session.remove()
            assert shown.status_code < 500, f"after {what.splitlines()[0]}: GET {page} answered {shown.status_code}"


@pytest.mark.parametrize(("rule", "endpoint", "has_get"), POST_RULES, ids=IDS)
def test_fuzzed_form_posts_never_fail_and_never_half_save(app, snapshot, app_errors, rule, endpoint, has_get):
    fuzzer = Fuzzer(app, snapshot, rule, endpoint, has_get, app_errors)
    form = fuzzer.prepare(fuzzer.target.personas[-1], _url(rule, _values(snapshot.world, fuzzer.target)),
                          _values(snapshot.world, fuzzer.target))
    # A button that posts nothing but its CSRF token needs few examples: only extra fields vary.
    buttons_only = form is not None and not set(form.fields) - {"csrf_token", "submit"}

    # In CI the examples are the same on every run (a red build must be reproducible, not a dice roll);
    # locally each run explores new ones (FUZZ_EXAMPLES=150 for a longer hunt).
    @settings(max_examples=max(3, EXAMPLES // 3) if buttons_only else EXAMPLES, deadline=None, database=None,
              derandomize=bool(os.environ.get("CI")),
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(data=st.data())
    def fuzz(data):
        fuzzer.example(data.draw)

    fuzz()
    assert fuzzer.found == {True} or (fuzzer.target.json and not fuzzer.target.form_of), (
        f"{endpoint}: no form posting to it was found on {fuzzer.target.pages or rule}; add a fallback"
    )


# --- CSRF ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def csrf_app(app):
    """A second app on the same database with CSRF switched on, as in production."""
    from app.extensions import db

    live = create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "WTF_CSRF_ENABLED": True}
    )
    yield live
    with live.app_context():
        db.engine.dispose()


def _csrf_messages(app) -> dict[str, str]:
    with app.test_request_context():
        english = _(CSRF_MESSAGE)
        with force_locale("zh_CN"):
            chinese = _(CSRF_MESSAGE)
    assert CJK.search(chinese), "the CSRF message has no Chinese translation"
    return {"en": english, "zh_CN": chinese}


@pytest.mark.parametrize(("rule", "endpoint", "has_get"), POST_RULES, ids=IDS)
def test_a_post_without_or_with_a_wrong_csrf_token_is_refused_clearly(
    app, snapshot, app_errors, csrf_app, rule, endpoint, has_get
):
    fuzzer = Fuzzer(app, snapshot, rule, endpoint, has_get, app_errors)
    target = fuzzer.target
    persona = target.personas[-1]  # signed in wherever someone may be (the session is what CSRF protects)
    values = _values(snapshot.world, target)
    url = _url(rule, values)
    form = fuzzer.prepare(persona, url, values)
    data = {f.name: (f.options[0] if f.options else f.value or "1") for f in (form.fields.values() if form else [])
            if f.name != "csrf_token" and f.kind != "file"}
    expected = _csrf_messages(app)

    for lang, token in (("en", None), ("zh_CN", "not-the-token"), ("en", "")):
        client = csrf_app.test_client()
        fz.sign_in(client, snapshot.world.login_ids.get(persona), lang)
        if target.json:
            headers = {"X-CSRFToken": token} if token is not None else {}
            response = client.post(url, json={"answers": {}} if "draft" in url else {}, headers=headers)
        else:
            sent = dict(data, csrf_token=token) if token is not None else data
            response = client.post(url, data=sent)
        what = _describe("POST", url, persona, lang, response.status_code, app_errors)
        assert response.status_code == 400, what
        shown = html.unescape(response.get_data(as_text=True))
        assert expected[lang] in shown, f"{what}: the message is not there in {lang}"
        assert fz.changed_tables(fuzzer.before, fz.fingerprint()) == [], f"{what}: saved something"


def test_the_right_csrf_token_is_accepted(app, snapshot, csrf_app):
    """The refusals above come from the missing token: with the page's own token the same post goes through."""
    fz.restore(snapshot)
    client = csrf_app.test_client()
    fz.sign_in(client, snapshot.world.login_ids["coordinator"], "en")
    token = fz.form_for(client, "/themes", ["/themes"]).fields["csrf_token"].value
    assert token
    response = client.post("/themes", data={"csrf_token": token, "code": "csrf_ok", "name_en": "CSRF ok",
                                            "name_zh": "令牌正确"})
    assert response.status_code == 302
