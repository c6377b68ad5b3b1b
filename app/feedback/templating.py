"""What the feedback feature gives templates (registered in app/templating.py): the home page's open and answered
rounds of the signed-in member, a questionnaire's text in the reader's language, and why a number is hidden."""

from __future__ import annotations

from flask import g
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app import disclosure
from app.feedback import scoring
from app.feedback.models import FeedbackRound
from app.feedback.services import rounds
from app.timeutil import utcnow


def _member_rounds() -> tuple[list[FeedbackRound], list[FeedbackRound]]:
    """The signed-in member's open rounds, not yet answered and answered: read once per request (two statements)."""
    if not current_user.is_authenticated:
        return [], []
    found = g.get("member_rounds")
    if found is None:
        open_rounds = rounds.open_rounds_for_member(current_user, utcnow())
        answered = rounds.responded_round_ids(current_user, [r.id for r in open_rounds])
        found = g.member_rounds = ([r for r in open_rounds if r.id not in answered],
                                   [r for r in open_rounds if r.id in answered])
    return found


def member_open_rounds() -> list[FeedbackRound]:
    """Open rounds the signed-in member is eligible for and has not answered (the home page's banner)."""
    return _member_rounds()[0]


def member_answered_rounds() -> list[FeedbackRound]:
    """Open rounds the signed-in member has already answered (the home page thanks them)."""
    return _member_rounds()[1]


def in_language(text: dict | None) -> str:
    """A {en, zh_CN} text from a questionnaire in the reader's language."""
    return scoring.localised(text or {}, str(get_locale() or "en"))


def reason_labels(k: int) -> dict[str, str]:
    """Why a number is hidden, in the reader's language (one sentence per app.disclosure reason)."""
    return {
        disclosure.OPEN: _("Results appear once the round has closed: until then only participation is shown, "
                           "so that no one can compare results before and after one more answer."),
        disclosure.BELOW_K: _("Fewer than %(k)s responses: hidden to protect anonymity.", k=k),
        disclosure.COMPLEMENT: _("Another group of respondents in this round gave fewer than %(k)s responses: "
                                 "hidden so they cannot be worked out.", k=k),
        disclosure.FEW_SCORES: _("Fewer than %(k)s responses answered this: hidden to protect anonymity.", k=k),
        disclosure.PARTIAL: _("Someone answered only part of this subscale: its questions are hidden so that "
                              "their answers cannot be worked out from the subscale's figures."),
        disclosure.OTHER_SPLIT: _("This round's figures are shown apart for its questionnaires and interviews or "
                                  "its professions: figures by attendance beside them could give people away."),
    }
