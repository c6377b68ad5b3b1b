"""Home pages, language switch and health check."""

import pytest
import sqlalchemy as sa


def test_healthz_answers_ok_with_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "db": "ok"}


def test_healthz_answers_503_when_the_database_is_unreachable(app, db, monkeypatch):
    client = app.test_client()

    def broken(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("down"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "db": "error"}


def test_anonymous_home_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_member_home_lists_their_group(client, auth, group, member):
    auth.login(member)
    page = client.get("/").get_data(as_text=True)
    assert group.name in page


def test_leader_home_lists_groups_they_lead(client, auth, group, leader):
    auth.login(leader)
    page = client.get("/").get_data(as_text=True)
    assert "Groups you lead" in page and group.name in page


def test_language_switch_shows_chinese_and_is_saved_for_the_user(client, auth, member, db):
    auth.login(member)
    client.post("/language", data={"lang": "zh_CN", "next": "/"})
    page = client.get("/").get_data(as_text=True)
    assert "你的小组" in page or "您的小组" in page
    assert 'lang="zh-CN"' in page
    db.session.refresh(member)
    assert member.locale == "zh_CN"


def test_browser_language_is_used_when_no_preference(client):
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert "登录" in page


def test_language_switch_refuses_an_offsite_next(client):
    response = client.post("/language", data={"lang": "en", "next": "https://evil.example/"})
    assert response.headers["Location"].endswith("/") and "evil" not in response.headers["Location"]


@pytest.mark.parametrize("target", ["//[", "http://[::1", "http://a\u2100b/"])
def test_language_switch_ignores_a_next_that_is_no_address(client, target):
    """Found by fuzzing: urlsplit raises on these, which was a 500."""
    response = client.post("/language", data={"lang": "zh_CN", "next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_unknown_page_is_a_translated_404(client):
    response = client.get("/no/such/page", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 404


def test_a_nul_character_in_a_form_is_refused_with_a_message(client):
    response = client.post("/login", data={"email": "a\x00@example.org", "password": "x"})
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_an_id_too_large_for_the_database_is_a_404(client, auth, coordinator):
    auth.login(coordinator)
    assert client.get("/groups/" + "9" * 25).status_code == 404


def test_page_numbers_and_ids_beyond_the_database_are_not_errors(client, auth, coordinator):
    auth.login(coordinator)
    huge = "9" * 30
    for url in (f"/groups?page={huge}", f"/organisations?page={huge}", f"/people?page={huge}",
                f"/audit/?page={huge}", f"/groups?organisation={huge}", f"/groups/new?organisation={huge}"):
        assert client.get(url).status_code == 200, url
