"""Instruments as data: the shipped questionnaire, refusing malformed files, versions, permission, pages."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEntry
from app.errors import Conflict, DomainError, NotAllowed
from app.feedback.instrument_files import SHIPPED_FILE, InstrumentError, parse_instrument
from app.feedback.models import FeedbackRound, Instrument
from app.feedback.services import instruments
from app.meetings import services as meetings
from app.timeutil import utcnow
from tests.factories import make_group, make_scoped_coordinator

MINIMAL = """\
code: mini
version: 1
title: {en: Mini check, zh_CN: 小问卷}
licence: CC0
source: written for the tests
items:
  - code: q1
    type: likert
    min: 1
    max: 5
    anchors: {1: {en: Not at all, zh_CN: 完全没有}, 5: {en: Very much, zh_CN: 非常多}}
    text: {en: Question one, zh_CN: 问题一}
  - code: q2
    type: text
    required: false
    text: {en: Question two, zh_CN: 问题二}
subscales:
  - code: s
    title: {en: Only subscale, zh_CN: 唯一分量表}
    items: [q1]
"""


def refusal(text: str, filename: str = "mini.yaml") -> str:
    """The messages a refused file gets, joined (the test fails if the file is accepted)."""
    with pytest.raises(InstrumentError) as caught:
        parse_instrument(text, filename)
    return "\n".join(caught.value.messages)


def minimal_json(**changes) -> dict:
    data = {
        "code": "mini-json", "version": 1, "title": {"en": "Mini", "zh_CN": "小"}, "licence": "CC0", "source": "us",
        "items": [
            {"code": "q1", "type": "scale", "min": 0, "max": 10, "text": {"en": "How much?", "zh_CN": "多少？"}},
            {"code": "q2", "type": "text", "text": {"en": "Why?", "zh_CN": "为什么？"}},
        ],
    }
    data.update(changes)
    return data


# --- the shipped questionnaire ---------------------------------------------------------------

def test_the_shipped_questionnaire_has_five_subscales_of_rated_items_and_two_open_questions():
    definition = parse_instrument(SHIPPED_FILE.read_text(encoding="utf-8"), SHIPPED_FILE.name)
    assert definition.code == "balint-feedback" and definition.version == 1
    assert 12 <= len(definition.rated_items) <= 16
    assert len(definition.subscales) == 5
    assert len(definition.text_items) == 2 and len(definition.items) == len(definition.rated_items) + 2
    assert all(item.subscale for item in definition.rated_items)  # every rated item counts somewhere
    assert 1 <= sum(item.reverse for item in definition.items) <= 2
    assert not definition.requires_permission and definition.licence and definition.source


def test_every_text_of_the_shipped_questionnaire_is_written_in_both_languages():
    definition = parse_instrument(SHIPPED_FILE.read_text(encoding="utf-8"), SHIPPED_FILE.name)
    texts = [definition.title, *(i.text for i in definition.items), *(s.title for s in definition.subscales),
             *(a for i in definition.items for a in i.anchors.values()),
             *(b.label for s in definition.subscales for b in s.bands)]
    for text in texts:
        assert text["en"].strip() and text["zh_CN"].strip()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text["zh_CN"]), text


def test_the_shipped_wellbeing_subscale_flags_a_low_mean_as_a_concern():
    definition = parse_instrument(SHIPPED_FILE.read_text(encoding="utf-8"), SHIPPED_FILE.name)
    wellbeing = next(s for s in definition.subscales if s.code == "wellbeing")
    [band] = [b for b in wellbeing.bands if b.concern]
    assert band.max == 2.0 and band.label["en"] == "Low wellbeing"


# --- malformed files are refused with the line and the field ----------------------------------

def test_a_minimal_file_is_accepted():
    definition = parse_instrument(MINIMAL, "mini.yaml")
    assert [i.code for i in definition.items] == ["q1", "q2"]
    assert definition.item("q1").anchors[5]["zh_CN"] == "非常多"


def test_bad_yaml_syntax_is_refused_with_its_line():
    message = refusal(MINIMAL.replace("title: {en: Mini check, zh_CN: 小问卷}", "title: [unclosed"))
    assert message.startswith("Line 4: not valid YAML") and "on line 3" in message


def test_a_title_without_its_chinese_text_is_refused_naming_the_field_and_line():
    message = refusal(MINIMAL.replace("title: {en: Mini check, zh_CN: 小问卷}", "title: {en: Mini check}"))
    assert "Line 3: title.zh_CN:" in message


def test_a_duplicate_item_code_is_refused():
    message = refusal(MINIMAL.replace("  - code: q2", "  - code: q1"))
    assert "Line 13: items[1].code:" in message and "twice" in message


def test_a_subscale_naming_an_unknown_item_is_refused():
    message = refusal(MINIMAL.replace("items: [q1]", "items: [q1, q9]"))
    assert "Line 20: subscales[0].items[1]:" in message and "q9" in message


def test_reverse_scoring_on_a_text_item_is_refused():
    message = refusal(MINIMAL.replace("    required: false\n", "    required: false\n    reverse: true\n"))
    assert "Line 16: items[1].reverse:" in message


def test_an_anchor_outside_the_scale_is_refused():
    message = refusal(MINIMAL.replace("5: {en: Very much", "7: {en: Very much"))
    assert "Line 11: items[0].anchors.7:" in message and "1–5" in message


def test_json_with_a_trailing_comma_is_refused_with_its_line():
    text = '{\n  "code": "mini-json",\n  "version": 1,\n}\n'
    assert "Line 4:" in refusal(text, "mini.json")


def test_a_json_field_error_names_the_field_path_and_line():
    data = minimal_json()
    data["items"][1]["reverse"] = True
    message = refusal(json.dumps(data, indent=2, ensure_ascii=False), "mini.json")
    assert "items[1].reverse:" in message and "Line " in message


def test_a_valid_json_file_is_accepted():
    definition = parse_instrument(json.dumps(minimal_json(), ensure_ascii=False), "mini.json")
    assert definition.item("q1").values == range(0, 11)


@pytest.mark.parametrize(("change", "field"), [
    ({"version": 0}, "version:"),
    ({"version": "2"}, "version:"),
    ({"licence": ""}, "licence:"),
    ({"source": None}, "source:"),
    ({"subscales": [{"code": "s", "title": {"en": "S", "zh_CN": "分"}, "items": ["q1"],
                     "bands": [{"max": 12, "label": {"en": "Low", "zh_CN": "低"}}]}]}, "subscales[0].bands[0].max:"),
    ({"items": [{"code": "q1", "type": "scale", "min": 5, "max": 5, "text": {"en": "a", "zh_CN": "甲"}}]},
     "items[0].max:"),
    ({"items": [{"code": "c", "type": "choice", "text": {"en": "a", "zh_CN": "甲"},
                 "choices": [{"value": "x", "label": {"en": "X", "zh_CN": "叉"}},
                             {"value": "x", "label": {"en": "Y", "zh_CN": "歪"}}]}]}, "items[0].choices[1].value:"),
    ({"colour": "blue"}, "colour:"),
])
def test_other_malformed_definitions_are_refused_naming_the_field(change, field):
    assert field in refusal(json.dumps(minimal_json(**change)), "mini.json")


def test_a_field_given_twice_in_yaml_is_refused():
    message = refusal(MINIMAL.replace("version: 1\n", "version: 1\nversion: 2\n"))
    assert "Line 3: version: the field appears twice." in message


def test_an_unquoted_yes_read_as_true_is_refused_as_missing_text():
    message = refusal(MINIMAL.replace("en: Very much", "en: Yes"))
    assert "items[0].anchors.5.en:" in message


# --- services: versions, locking, permission -------------------------------------------------

def test_uploading_an_existing_code_and_version_is_refused_and_the_next_version_is_suggested(db, coordinator):
    instruments.import_instrument(coordinator, MINIMAL, "mini.yaml")
    with pytest.raises(Conflict) as caught:
        instruments.import_instrument(coordinator, MINIMAL.replace("Question one", "Changed"), "mini.yaml")
    assert "version 2" in caught.value.message
    second = instruments.import_instrument(coordinator, MINIMAL.replace("version: 1", "version: 2"), "mini.yaml")
    assert second.version == 2 and not second.active
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "instrument_imported")) == 2


def test_the_shipped_instrument_is_loaded_once_and_activated(db):
    first = instruments.ensure_shipped_instrument()
    again = instruments.ensure_shipped_instrument()
    assert first.id == again.id and first.active
    assert instruments.default_instrument() == first
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Instrument)) == 1
    assert instruments.definition_of(first).item("exhausted").reverse


def test_an_instrument_whose_licence_needs_permission_is_activated_only_after_it_is_recorded(db, coordinator):
    licensed = instruments.import_instrument(
        coordinator, MINIMAL.replace("licence: CC0", "licence: Licensed\nrequires_permission: true"), "mini.yaml")
    with pytest.raises(NotAllowed):
        instruments.activate(coordinator, licensed)
    assert not licensed.active
    with pytest.raises(DomainError):
        instruments.record_permission(coordinator, licensed, "   ")
    instruments.record_permission(coordinator, licensed, "Letter from the authors, 2025-03-01")
    instruments.activate(coordinator, licensed)
    assert licensed.active and licensed.permission_recorded_by_id == coordinator.id


def record_five(db, crew, meetings_list):
    for meeting in meetings_list[:5]:
        meetings.record_meeting(None, meeting, status="held", now=utcnow(),
                                attendance={p.id: "present" for p in crew})
    db.session.flush()
    return db.session.scalars(sa.select(FeedbackRound)).one()


def test_a_round_opens_with_the_default_instrument_and_locks_that_version(db, group, crew, past_meetings):
    shipped = instruments.ensure_shipped_instrument()
    feedback_round = record_five(db, crew, past_meetings)
    assert feedback_round.instrument_id == shipped.id
    assert shipped.locked
    with pytest.raises(Conflict):
        instruments.import_instrument(None, SHIPPED_FILE.read_text(encoding="utf-8"), SHIPPED_FILE.name)


def test_a_round_opens_with_the_groups_chosen_instrument(db, coordinator, group, crew, past_meetings):
    instruments.ensure_shipped_instrument()
    chosen = instruments.import_instrument(coordinator, MINIMAL, "mini.yaml")
    instruments.activate(coordinator, chosen)
    instruments.set_group_feedback(coordinator, group, chosen.id, "questionnaire")
    assert record_five(db, crew, past_meetings).instrument_id == chosen.id
    assert chosen.locked


def test_a_group_cannot_choose_an_inactive_instrument_or_an_unknown_mode(db, coordinator, group):
    inactive = instruments.import_instrument(coordinator, MINIMAL, "mini.yaml")
    with pytest.raises(DomainError) as caught:
        instruments.set_group_feedback(coordinator, group, inactive.id, "questionnaire")
    assert caught.value.field == "instrument_id"
    with pytest.raises(DomainError):
        instruments.set_group_feedback(coordinator, group, None, "telepathy")


def test_a_group_whose_chosen_instrument_was_deactivated_falls_back_to_the_default(db, coordinator, group):
    shipped = instruments.ensure_shipped_instrument()
    chosen = instruments.import_instrument(coordinator, MINIMAL, "mini.yaml")
    instruments.activate(coordinator, chosen)
    instruments.set_group_feedback(coordinator, group, chosen.id, "interview")
    assert instruments.instrument_for_group(group) == chosen and group.feedback_mode == "interview"
    instruments.deactivate(coordinator, chosen)
    assert instruments.instrument_for_group(group) == shipped


def test_rounds_opened_before_any_instrument_exists_have_none(db, group, crew, past_meetings):
    assert record_five(db, crew, past_meetings).instrument_id is None


# --- pages -----------------------------------------------------------------------------------

def text(response) -> str:
    return response.get_data(as_text=True)


def test_a_coordinator_sees_every_version_with_its_licence_and_use(client, auth, db, coordinator):
    shipped = instruments.ensure_shipped_instrument()
    db.session.commit()
    auth.login(coordinator)
    page = text(client.get("/instruments"))
    assert "Balint group feedback" in page and shipped.licence in page and f'id="instrument-{shipped.id}"' in page


def test_the_preview_shows_every_item_in_the_readers_language(client, auth, db, coordinator):
    shipped = instruments.ensure_shipped_instrument()
    db.session.commit()
    auth.login(coordinator)
    page = text(client.get(f"/instruments/{shipped.id}"))
    assert "I often finish work feeling emotionally exhausted." in page and "reverse-scored" in page
    assert "Low wellbeing" in page and "Coping and wellbeing at work" in page
    client.post("/language", data={"lang": "zh_CN", "next": "/"})
    coordinator.locale = "zh_CN"
    db.session.commit()
    assert "下班时我常常感到情绪上精疲力竭。" in text(client.get(f"/instruments/{shipped.id}"))


def test_a_coordinator_uploads_a_pasted_file_and_it_starts_inactive(client, auth, db, coordinator):
    auth.login(coordinator)
    response = client.post("/instruments/upload", data={"source": MINIMAL})
    assert response.status_code == 302
    stored = db.session.scalars(sa.select(Instrument)).one()
    assert stored.code == "mini" and not stored.active and stored.source_text == MINIMAL


def test_a_coordinator_uploads_a_file(client, auth, db, coordinator):
    auth.login(coordinator)
    data = {"file": (io.BytesIO(json.dumps(minimal_json()).encode()), "mini.json")}
    response = client.post("/instruments/upload", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    assert db.session.scalars(sa.select(Instrument.code)).one() == "mini-json"


def test_a_malformed_upload_is_shown_beside_the_field_with_its_line(client, auth, db, coordinator):
    auth.login(coordinator)
    response = client.post("/instruments/upload",
                           data={"source": MINIMAL.replace("  - code: q2", "  - code: q1")})
    assert response.status_code == 422
    assert "Line 13: items[1].code:" in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Instrument)) == 0


@pytest.mark.parametrize(("text", "filename"), [
    ("1" * 100_000, "pasted"), ("code: " + "7" * 5000, "mini.yaml"), ('{"code": ' + "7" * 5000 + "}", "mini.json"),
])
def test_a_number_of_thousands_of_digits_is_refused_with_a_message(text, filename):
    """Found by fuzzing: Python refuses to read an integer of more than 4300 digits (a ValueError, so a 500)."""
    assert refusal(text, filename) == "The file holds a number with too many digits."


def test_an_unreadable_pasted_file_is_refused_beside_the_field(client, auth, db, coordinator):
    auth.login(coordinator)
    response = client.post("/instruments/upload", data={"source": "1" * 100_000})
    assert response.status_code == 422 and "The file holds a number with too many digits." in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Instrument)) == 0


def test_an_empty_upload_asks_for_a_file(client, auth, coordinator):
    auth.login(coordinator)
    response = client.post("/instruments/upload", data={})
    assert response.status_code == 422 and "Choose a file or paste its text." in text(response)


def test_activation_through_the_page_waits_for_the_recorded_permission(client, auth, db, coordinator):
    licensed = instruments.import_instrument(
        coordinator, MINIMAL.replace("licence: CC0", "licence: Licensed\nrequires_permission: true"), "mini.yaml")
    db.session.commit()
    auth.login(coordinator)
    response = client.post(f"/instruments/{licensed.id}/activate")
    assert response.status_code == 403 and "record the permission first" in text(response)
    assert client.post(f"/instruments/{licensed.id}/permission", data={"note": ""}).status_code == 422
    assert client.post(f"/instruments/{licensed.id}/permission", data={"note": "Signed letter"}).status_code == 302
    assert client.post(f"/instruments/{licensed.id}/activate").status_code == 302
    db.session.expire_all()
    assert db.session.get(Instrument, licensed.id).active
    assert client.post(f"/instruments/{licensed.id}/deactivate").status_code == 302
    db.session.expire_all()
    assert not db.session.get(Instrument, licensed.id).active


def test_a_coordinator_sets_a_groups_questionnaire_and_mode(client, auth, db, coordinator, group):
    chosen = instruments.import_instrument(coordinator, MINIMAL, "mini.yaml")
    instruments.activate(coordinator, chosen)
    db.session.commit()
    auth.login(coordinator)
    assert "Mini check, version 1" in text(client.get(f"/groups/{group.id}/feedback-settings"))
    response = client.post(f"/groups/{group.id}/feedback-settings",
                           data={"instrument_id": str(chosen.id), "mode": "interview"})
    assert response.status_code == 302
    db.session.expire_all()
    assert group.instrument_id == chosen.id and group.feedback_mode == "interview"
    assert f"/groups/{group.id}/feedback-settings" in text(client.get(f"/groups/{group.id}"))


def test_a_group_cannot_be_given_an_instrument_that_is_not_offered(client, auth, db, coordinator, group):
    inactive = instruments.import_instrument(coordinator, MINIMAL, "mini.yaml")
    db.session.commit()
    auth.login(coordinator)
    response = client.post(f"/groups/{group.id}/feedback-settings",
                           data={"instrument_id": str(inactive.id), "mode": "questionnaire"})
    assert response.status_code == 422
    db.session.expire_all()
    assert group.instrument_id is None


@pytest.mark.parametrize("persona", ["leader", "member"])
def test_leaders_and_members_may_not_open_the_questionnaire_pages(client, auth, db, request, persona, group):
    shipped = instruments.ensure_shipped_instrument()
    db.session.commit()
    auth.login(request.getfixturevalue(persona))
    for method, url in [("GET", "/instruments"), ("GET", "/instruments/upload"), ("POST", "/instruments/upload"),
                        ("GET", f"/instruments/{shipped.id}"), ("POST", f"/instruments/{shipped.id}/deactivate"),
                        ("POST", f"/instruments/{shipped.id}/permission"),
                        ("GET", f"/groups/{group.id}/feedback-settings"),
                        ("POST", f"/groups/{group.id}/feedback-settings")]:
        assert client.open(url, method=method, data={}).status_code == 403, (method, url)
    db.session.expire_all()
    assert db.session.get(Instrument, shipped.id).active


def test_a_coordinator_of_one_organisation_reads_but_does_not_change_the_programmes_questionnaires(
        client, auth, db, org, other_org):
    shipped = instruments.ensure_shipped_instrument()
    scoped = make_scoped_coordinator(org, name="Scoped", commit=False)
    elsewhere = make_group(other_org, "Elsewhere group")
    db.session.commit()
    auth.login(scoped)
    assert client.get(f"/instruments/{shipped.id}").status_code == 200
    assert client.post("/instruments/upload", data={"source": MINIMAL}).status_code == 403
    assert client.post(f"/instruments/{shipped.id}/deactivate").status_code == 403
    assert client.get(f"/groups/{elsewhere.id}/feedback-settings").status_code == 403


# --- the command line ------------------------------------------------------------------------

def test_the_load_command_stores_a_file_and_refuses_a_malformed_one(app, db, tmp_path):
    good, bad = tmp_path / "mini.yaml", tmp_path / "bad.yaml"
    good.write_text(MINIMAL, encoding="utf-8")
    bad.write_text(MINIMAL.replace("items: [q1]", "items: [q9]"), encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["instruments", "load", str(good), "--activate"])
    assert result.exit_code == 0, result.output
    assert "Loaded mini version 1 (active)." in result.output
    refused = runner.invoke(args=["instruments", "load", str(bad)])
    assert refused.exit_code != 0 and "Line 20: subscales[0].items[0]:" in refused.output
    assert "mini\tv1\tactive" in runner.invoke(args=["instruments", "list"]).output


@pytest.mark.parametrize(("text", "filename"), [
    ("[" * 5000 + "]" * 5000, "deep.json"),
    ("[" * 5000 + "]" * 5000, "deep.yaml"),
    ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)), "laughs.yaml"),
])
def test_files_nested_too_deeply_are_refused_not_crashed_on(text, filename):
    assert "too large or nested too deeply" in refusal(text, filename)
