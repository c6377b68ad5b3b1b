"""The log-in page works in a real browser with no internet, in both languages."""

from playwright.sync_api import expect


def test_login_page_loads_its_styles_from_the_app_itself(offline_page, live_server):
    responses = []
    offline_page.on("response", lambda r: responses.append(r))
    offline_page.goto(live_server + "/login")
    expect(offline_page.get_by_label("E-mail")).to_be_visible()
    css = [r for r in responses if r.url.endswith(".css")]
    assert css and all(r.status == 200 for r in css)
