"""The benchmark's floor endpoints exist only when BENCH_ENDPOINTS is set."""

from app import create_app
from app.extensions import db as _db
from tests.conftest import Auth


def test_the_floors_are_absent_by_default(client):
    assert client.get("/_floor/framework").status_code == 404
    assert client.get("/_floor/auth").status_code == 404


def test_with_bench_endpoints_the_floors_answer_and_the_auth_floor_needs_a_session(app, db, member):
    bench = create_app("testing", {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                                   "BENCH_ENDPOINTS": True})
    db.session.commit()
    client = bench.test_client()
    try:
        assert client.get("/_floor/framework").get_data(as_text=True) == "ok"
        assert client.get("/_floor/auth").status_code == 302  # to the log-in page
        Auth(client).login(member)
        assert client.get("/_floor/auth").get_data(as_text=True) == str(member.id)
    finally:
        # A second app has its own engine: close its pooled connections rather than leave them to the collector.
        with bench.app_context():
            _db.engine.dispose()
