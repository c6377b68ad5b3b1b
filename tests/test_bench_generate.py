"""The benchmark's data generator: a small hospital programme in which every rule of the app holds."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from bench.generate import LEADER_EMAIL, MEMBER_EMAIL, check_invariants, generate, verify


@pytest.fixture
def manifest(app, db):
    """Two groups over one year, generated into the suite's database (its schema as the suite made it)."""
    return generate(None, "hospital", factor=0.02, seed=7, app=app, log=lambda message: None)


def _count(sql: str) -> int:
    return _db.session.execute(sa.text(sql)).scalar()


def test_generated_programme_keeps_the_five_meeting_rule_the_unique_keys_and_anonymity(manifest):
    problems = check_invariants()

    assert problems == dict.fromkeys(problems, 0)
    counts = manifest["counts"]
    assert counts["groups"] == 2
    assert counts["group_signals"] == 2  # each group's signals stored, as the periodic job would have
    assert counts["feedback_rounds"] >= 4
    assert counts["round_meetings"] == 5 * counts["feedback_rounds"]
    assert counts["responses"] == counts["completions"] > 0
    assert counts["answers"] >= 15 * counts["responses"]
    duplicates = {
        "attendance": "SELECT COUNT(*) FROM (SELECT meeting_id, user_id FROM attendances "
                      "GROUP BY meeting_id, user_id HAVING COUNT(*) > 1) x",
        "rule date": "SELECT COUNT(*) FROM (SELECT group_id, rule_date FROM meetings WHERE rule_date IS NOT NULL "
                     "GROUP BY group_id, rule_date HAVING COUNT(*) > 1) x",
        "round number": "SELECT COUNT(*) FROM (SELECT group_id, number FROM feedback_rounds "
                        "GROUP BY group_id, number HAVING COUNT(*) > 1) x",
        "meeting in two rounds": "SELECT COUNT(*) FROM (SELECT meeting_id FROM round_meetings "
                                 "GROUP BY meeting_id HAVING COUNT(*) > 1) x",
        "completion": "SELECT COUNT(*) FROM (SELECT round_id, user_id FROM completions "
                      "GROUP BY round_id, user_id HAVING COUNT(*) > 1) x",
        "open membership": "SELECT COUNT(*) FROM (SELECT group_id, user_id FROM memberships WHERE left_on IS NULL "
                           "GROUP BY group_id, user_id HAVING COUNT(*) > 1) x",
    }
    assert {name: _count(sql) for name, sql in duplicates.items()} == dict.fromkeys(duplicates, 0)
    # Responses carry a random id and nothing about who or when; the member persona has not answered its round.
    response_columns = {c["name"] for c in sa.inspect(_db.engine).get_columns("responses")}
    assert response_columns == {"id", "round_id", "instrument_id", "source", "profession", "code"}
    ids = list(_db.session.execute(sa.text("SELECT id FROM responses")).scalars())
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert _count("SELECT COUNT(*) FROM completions c JOIN users u ON u.id = c.user_id "
                  f"WHERE u.email = '{MEMBER_EMAIL}' AND c.round_id = {manifest['open_round_id']}") == 0
    # Every closed round's sums are stored, as its closing would have stored them, and equal a recomputation.
    from app.disclosure.services import rounds_without_aggregates
    from app.feedback.services.scores import verify_round_aggregates

    assert rounds_without_aggregates() == []
    checked = verify_round_aggregates()
    assert checked.ok and checked.rounds == _count("SELECT COUNT(*) FROM feedback_rounds WHERE status = 'closed'") > 0


def test_manifest_names_open_rounds_the_personas_may_answer_and_every_page_answers(app, manifest):
    assert manifest["leader"] == LEADER_EMAIL
    assert len(manifest["burst_members"]) == len(manifest["burst_round_ids"]) == len(set(manifest["burst_members"]))
    assert MEMBER_EMAIL not in manifest["burst_members"]
    assert _count(f"SELECT COUNT(*) FROM feedback_rounds WHERE status = 'open' AND id IN "
                  f"({', '.join(str(i) for i in {manifest['open_round_id'], *manifest['burst_round_ids']})})") == \
        len({manifest["open_round_id"], *manifest["burst_round_ids"]})

    result = verify(manifest, app, log=lambda message: None)

    assert {status for status, _ in result["pages"].values()} == {200}
    assert len(result["pages"]) == 10
