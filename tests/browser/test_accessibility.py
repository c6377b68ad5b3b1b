"""Accessibility: axe-core finds no serious or critical violation on the main pages, in English and in Chinese.

The demo programme is seeded once for the module (two years of meetings, rounds and answers, so the trend
charts and tables draw), and each role keeps one logged-in browser context; every test switches the language
the way a person does, with the switch in the page header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from app.accounts.models import User
from app.demo import DEMO_PASSWORD, seed_demo
from app.extensions import db, limiter
from app.feedback.services import instruments as feedback_instruments
from app.feedback.services import rounds as feedback
from app.programme import services as programme
from app.programme.models import Group
from app.timeutil import local_today, utcnow
from tests.browser.conftest import keep_on_loopback
from tests.conftest import _wipe
from tests.factories import open_round

FAILING_IMPACTS = ("serious", "critical")
HTML_LANG = {"en": "en", "zh": "zh-CN"}
SWITCH_TO = {"en": "English", "zh": "中文"}  # the header button that switches to the language
CJK = re.compile(r"[\u4e00-\u9fff]")
LOGINS = {"member": "member@demo.test", "leader": "leader@demo.test", "coordinator": "coordinator@demo.test"}


@dataclass(frozen=True)
class Demo:
    group_id: int
    round_id: int


@dataclass(frozen=True)
class Target:
    role: str | None  # None: not logged in
    path: str  # formatted with the Demo's fields
    ready: str  # a selector visible once the page has drawn what matters (on trends pages: its last chart)


PAGES = {
    "login": Target(None, "/login", "#email"),
    "member-home": Target("member", "/", "[data-round-banner]"),
    "leader-home": Target("leader", "/", "main h1"),
    "coordinator-home": Target("coordinator", "/", "#early-warnings"),
    "feedback-form": Target("member", "/rounds/{round_id}/answer", "#answer-form"),
    "schedule": Target("leader", "/groups/{group_id}/schedule", "main h1"),
    "group-trends": Target("coordinator", "/groups/{group_id}/trends", "#trend-attendance-chart .main-svg"),
    "programme-trends": Target("coordinator", "/trends", "#programme-heatmap .main-svg"),
    "programme-board": Target("coordinator", "/board", "#board-table"),
}


def open_round_for(member: User, today: date) -> int:
    """The id of an open round the demo member may still answer.

    The demo usually leaves one (its latest round stays open for the demo member); when today's date leaves
    none, a small group of the member's holds a meeting and opens a round that asks the shipped questionnaire.
    """
    now = utcnow()
    for feedback_round in feedback.open_rounds_for_member(member, now):
        if not feedback.has_responded(feedback_round, member):
            return feedback_round.id
    group = programme.create_group(None, organisation_id=member.organisation_id, name="Accessibility Balint group")
    programme.add_member(None, group, member, joined_on=today - timedelta(days=30))
    return open_round(group, present=[member], instrument=feedback_instruments.ensure_shipped_instrument()).id


@pytest.fixture(scope="module")
def demo(app):
    """The demo programme, seeded once for this module (every other test wipes the database first)."""
    with app.app_context():
        _wipe(db.engine)
        limiter.reset()
        today = local_today()  # module-scoped: computed here, not by the (per-test) `today` fixture
        seed_demo(today)
        member = db.session.scalar(sa.select(User).where(User.email == LOGINS["member"]))
        round_id = open_round_for(member, today)
        group_id = db.session.scalar(sa.select(Group.id).order_by(Group.id))
        db.session.commit()
        db.session.remove()
    return Demo(group_id=group_id, round_id=round_id)


@pytest.fixture(scope="module")
def pages(browser, live_server, demo):
    """One browser context per role (and one not logged in), each allowed to reach only the live server."""
    opened = {}
    blocked: list[str] = []

    def page_for(role: str | None):
        if role not in opened:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
            page = context.new_page()
            page.set_default_timeout(10_000)
            keep_on_loopback(page, blocked)
            if role is not None:
                limiter.reset()
                page.goto(live_server + "/login")
                page.fill("#email", LOGINS[role])
                page.fill("#password", DEMO_PASSWORD)
                page.locator("form [type=submit]").click()
                expect(page).to_have_url(re.compile(r"/$"))
            opened[role] = page
        return opened[role]

    page_for.blocked = blocked
    yield page_for
    for page in opened.values():
        page.context.close()


def show_in(page, language: str) -> None:
    """Switch the page to the language with the header switch, as a person does, unless it is already in it."""
    if page.locator("html").get_attribute("lang") != HTML_LANG[language]:
        page.get_by_role("button", name=SWITCH_TO[language], exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", HTML_LANG[language])


def failing_violations(results) -> list[str]:
    """One readable paragraph per serious or critical violation: rule, impact, where, and how to fix it."""
    lines = []
    for violation in results.response["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
        lines.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']}\n"
            f"    {violation['helpUrl']}\n" + "".join(f"    - {target}\n" for target in targets)
        )
    return lines


@pytest.mark.parametrize("name", list(PAGES))
@pytest.mark.parametrize("language", ["en", "zh"])  # the outer loop: each context switches language once
def test_page_has_no_serious_accessibility_violation(pages, live_server, demo, name, language):
    spec = PAGES[name]
    page = pages(spec.role)
    pages.blocked.clear()
    page.goto(live_server + spec.path.format(group_id=demo.group_id, round_id=demo.round_id))
    show_in(page, language)
    expect(page.locator(spec.ready).first).to_be_visible(timeout=15_000)
    if language == "zh":
        expect(page.locator("main")).to_contain_text(CJK)

    results = Axe().run(page)

    problems = failing_violations(results)
    assert not problems, f"axe-core on {name} ({language}), {page.url}:\n" + "".join(problems)
    assert not pages.blocked, f"the page tried to reach the internet: {pages.blocked}"
