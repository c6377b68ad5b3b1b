"""Feedback pages (answer): a member's one-page questionnaire of a round, its autosave, and the thank-you."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from types import SimpleNamespace

from flask import (
    current_app,
    flash,
    get_template_attribute,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from app.errors import Conflict, DomainError
from app.extensions import csrf
from app.feedback import bp, scoring
from app.feedback import rules as feedback_rules
from app.feedback.models import FeedbackRound
from app.feedback.services import responses as answering
from app.feedback.services import rounds as feedback
from app.permissions import get_round_or_403, roles_required
from app.timeutil import utcnow
from app.web import Outcome, attempt

FIELD_PREFIX = "a-"  # form field names: a-<item code>, apart from csrf_token and action


def _json_session_required(view):
    """For the autosave: a 401 JSON answer when the session has ended (the page keeps the answers and
    offers to log in again), then the CSRF check the app applies to every other POST."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return jsonify(status=401, detail=_("Your session has ended. Your answers are kept on this device; "
                                                "please log in again."),
                           login=url_for("accounts.login", next=url_for("feedback.answer", **kwargs))), 401
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
        return view(*args, **kwargs)

    return wrapped


def _attempt_here(call: Callable, codes: Iterable) -> Outcome:
    """`attempt` for these views, which show a refusal themselves (on the page, or in the JSON answer): every
    field a refusal may name (an item code) leads to one holder, so nothing is flashed besides."""
    holder = SimpleNamespace(refusal=SimpleNamespace(errors=[]))
    return attempt(call, form=holder, field="refusal", aliases=dict.fromkeys(map(str, codes), "refusal"))


def _no_store(response):
    # Answers and the private note must not stay in a shared computer's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _posted_answers(definition: scoring.Definition) -> dict[str, str]:
    return {item.code: request.form.get(FIELD_PREFIX + item.code, "") for item in definition.items}


#: What the answer page draws the same for every reader, rendered once and reused (in process, least recently used
#: dropped). A stored questionnaire version never changes (an edit is a new version; the version a round asks is
#: locked when it opens), and the definition key is the SHA-256 of its stored text, so an entry cannot go stale:
#: - each question's static description by (definition key, language);
#: - each question's HTML by (definition key, language, position, code, chosen value): nothing of the reader is kept
#:   but that value. A free-text question is kept blank and its text put in per request; a question with an error,
#:   or a value it cannot take, is drawn afresh each time;
#: - the page's fixed texts (the anonymity notice, the form's messages and buttons, the personal-code section) by
#:   (language, k, programme code key).
_QUESTIONS = answering.LRU(64)
_ITEM_HTML = answering.LRU(4096)
_PAGE_TEXTS = answering.LRU(32)


def _questions(definition: scoring.Definition, key: str, locale: str) -> tuple[dict, ...]:
    """Each question as the template draws it, in the reader's language, before any value is given."""
    found = _QUESTIONS.get((key, locale))
    if found is not None:
        return found
    shown = []
    for item in definition.items:
        options = []
        if item.is_numeric:
            options = [(str(v), str(v), scoring.localised(item.anchors[v], locale) if v in item.anchors else "")
                       for v in item.values]
        elif item.type == "choice":
            options = [(c.value, c.value, scoring.localised(c.label, locale)) for c in item.choices]
        shown.append({
            "code": item.code, "type": item.type, "text": scoring.localised(item.text, locale),
            "required": item.required, "options": options, "max_length": item.max_length,
            "value": "", "name": FIELD_PREFIX + item.code,
            "all_anchored": bool(options) and all(o[2] for o in options),
            "values": frozenset({"", *(o[0] for o in options)}),
        })
    return _QUESTIONS.put((key, locale), tuple(shown))


def _item_html(key: str, locale: str, index: int, question: dict, value: str, error: str | None) -> Markup:
    if error or (question["type"] != "text" and value not in question["values"]):
        return _draw_item({**question, "value": value}, index, error)
    cache_key = (key, locale, index, question["code"], value if question["type"] != "text" else "")
    html = _ITEM_HTML.get(cache_key)
    if html is None:
        html = _ITEM_HTML.put(cache_key, _draw_item(
            {**question, "value": value if question["type"] != "text" else ""}, index, None))
    if question["type"] == "text" and value:
        # The blank question with the text put where the template writes it (escaped as Jinja escapes it).
        head, tail = html.split("</textarea>", 1)
        return Markup(head) + escape(value) + Markup("</textarea>") + Markup(tail)
    return html


def _draw_item(item: dict, index: int, error: str | None) -> Markup:
    """The question drawn by its template macro (looked up only when a question is drawn, not when it is reused)."""
    return get_template_attribute("feedback/_answer_item.html", "answer_item")(item, index, error)


def _items(definition: scoring.Definition, answers: dict, key: str, problems: dict[str, str]) -> list[dict]:
    """Each question's chosen value (`value`) and HTML (`html`) in the reader's language."""
    locale = str(get_locale() or "en")
    shown = []
    for index, question in enumerate(_questions(definition, key, locale), start=1):
        value = answers.get(question["code"])
        value = "" if value is None else str(value)
        shown.append({"value": value,
                      "html": _item_html(key, locale, index, question, value, problems.get(question["code"]))})
    return shown


def _page_texts(locale: str, code_key: str | None) -> dict[str, Markup]:
    """The answer page's fixed texts in the reader's language, rendered once (see _PAGE_TEXTS)."""
    k = current_app.config["MIN_RESPONSES"]
    found = _PAGE_TEXTS.get((locale, k, code_key))
    if found is None:
        macros = "feedback/_answer_texts.html"
        found = _PAGE_TEXTS.put((locale, k, code_key), {
            "anonymity": get_template_attribute(macros, "anonymity")(k),
            "messages": get_template_attribute(macros, "messages")(),
            "buttons": get_template_attribute(macros, "buttons")(),
            "code": get_template_attribute(macros, "personal_code")(code_key) if code_key else Markup(""),
        })
    return found


def _form_page(feedback_round: FeedbackRound, answers: dict, status: int = 200, message: str | None = None,
               problems: dict[str, str] | None = None, state: str = "open"):
    definition, key = answering.round_questionnaire(feedback_round)
    locale = str(get_locale() or "en")
    shown_problems = {code: answering.problem_message(p) for code, p in (problems or {}).items()}
    code_key = _code_key() if definition.self_generated_code and state == "open" else None
    page = render_template(
        "feedback/answer.html", round=feedback_round, group=feedback_round.group, state=state,
        title=scoring.localised(definition.title, locale),
        description=scoring.localised(definition.description, locale) if definition.description else "",
        items=_items(definition, answers, key, shown_problems), message=message, problems=shown_problems,
        data={"storage_key": f"balint-answers-{feedback_round.id}-{current_user.id}", "prefix": FIELD_PREFIX,
              "saved": answers if state == "open" else {}},
        code_key=code_key, texts=_page_texts(locale, code_key),
    )
    return _no_store(make_response(page, status))


def _code_key() -> str:
    """The programme key the page builds self-generated codes with (feedback.rules.code_key)."""
    config = current_app.config
    return feedback_rules.code_key(config.get("RESPONSE_CODE_KEY"), config["SECRET_KEY"])


def _save_or_submit(feedback_round: FeedbackRound, action: str | None, answers: dict, now) -> str:
    """The service the pressed button asks for, then what to tell the member: drawn here, before the commit expires
    the round and the signed-in user (reading them again would begin a second transaction). For a save, the message
    to flash; for a submission, the thank-you page. Raises DomainError for a form sent without either button."""
    if action == "save":
        answering.save_draft(current_user, feedback_round, answers, now)
        return _("Your answers are saved. You can come back and finish them until the round closes.")
    if action == "submit":
        submitted = answering.submit_response(current_user, feedback_round, answers, now,
                                              code=request.form.get("code"))
        # The note on concerns goes into this response only: nothing about it is stored or sent elsewhere.
        locale = str(get_locale() or "en")
        return render_template("feedback/thanks.html", round=feedback_round, group=feedback_round.group,
                               concerns=[scoring.localised(b.label, locale) for b in submitted.concerns],
                               contacts=answering.support_contacts(),
                               storage_key=f"balint-answers-{feedback_round.id}-{current_user.id}")
    raise DomainError(_("Choose “Save for later” or “Submit”."))


def _refused_page(feedback_round: FeedbackRound, answers: dict, exc: DomainError, now):
    """The questionnaire again after a refusal, with what was sent and why it was refused; nothing is lost."""
    if isinstance(exc, answering.InvalidAnswers):
        # Answers refused on submission are still kept as the draft (what can be kept).
        _attempt_here(lambda: answering.save_draft(current_user, feedback_round, answers, now), answers)
        return _form_page(feedback_round, answers, 422, exc.message, problems=exc.problems)
    if isinstance(exc, Conflict):
        if feedback.has_responded(feedback_round, current_user):
            return _form_page(feedback_round, {}, 409, exc.message, state="submitted")
        return _form_page(feedback_round, answers, 409, exc.message, state="closed")
    return _form_page(feedback_round, answers, 422, exc.message,
                      problems={exc.field: scoring.NOT_TEXT} if exc.field else None)


@bp.route("/rounds/<int:round_id>/answer", methods=["GET", "POST"])
@roles_required("member")
def answer(round_id):
    """The round's questionnaire on one page: save for later, or submit once (anonymously)."""
    feedback_round = get_round_or_403(round_id, need="answer")
    now = utcnow()
    if feedback.has_responded(feedback_round, current_user):
        return _form_page(feedback_round, {}, 409 if request.method == "POST" else 200,
                          answering.already_submitted_message(), state="submitted")
    if request.method == "GET":
        state = "open" if feedback_round.is_open(now) else "closed"
        return _form_page(feedback_round, answering.get_draft(current_user, feedback_round),
                          message=answering.closed_message(feedback_round) if state == "closed" else None,
                          state=state)
    answers = _posted_answers(answering.round_definition(feedback_round))
    action = request.form.get("action")
    outcome = _attempt_here(lambda: _save_or_submit(feedback_round, action, answers, now), answers)
    if not outcome.ok:
        return _refused_page(feedback_round, answers, outcome.error, now)
    if action == "save":
        flash(outcome.result, "success")
        return redirect(url_for("feedback.answer", round_id=round_id))
    return _no_store(make_response(outcome.result, 200))


@bp.route("/rounds/<int:round_id>/draft", methods=["POST"])
@csrf.exempt  # checked by _json_session_required, after a clear 401 for an ended session
@_json_session_required
@roles_required("member")
def save_draft(round_id):
    """Autosave (JSON): keep the answers given so far as the member's draft."""
    feedback_round = get_round_or_403(round_id, need="answer")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("answers"), dict):
        return jsonify(status=400, detail=_("The answers could not be read.")), 400
    outcome = _attempt_here(lambda: answering.save_draft(current_user, feedback_round, body["answers"], utcnow()),
                            body["answers"])
    if outcome.ok:
        return _no_store(jsonify(saved=len(outcome.result)))
    exc = outcome.error
    submitted = exc.status_code == 409 and feedback.has_responded(feedback_round, current_user)
    return jsonify(status=exc.status_code, detail=exc.message, field=exc.field,
                   state="submitted" if submitted else ("closed" if exc.status_code == 409 else "invalid"),
                   ), exc.status_code
