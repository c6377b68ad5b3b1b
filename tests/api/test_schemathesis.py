"""Property-based contract check: schemathesis against a live server finds no 5xx and no answer the document denies."""

from __future__ import annotations

import threading

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from werkzeug.serving import make_server

from app.extensions import db as _db
from tests.factories import make_token

MAX_EXAMPLES = 10  # per operation: the whole run stays well under a minute


@pytest.fixture
def live_server(app, db, coordinator, group):
    """The app on 127.0.0.1 (a free port) in a thread, with a coordinator's token and a group seeded."""
    token = make_token(coordinator)
    _db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", token
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(client, live_server):
    base_url, token = live_server
    schema = schemathesis.openapi.from_dict(client.get("/api/v1/openapi.json").get_json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]

    for operation in operations:
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, checks=checks)

        check()
