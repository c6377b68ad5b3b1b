"""The log-in page works in a real browser with no internet, in both languages."""

from playwright.sync_api import expect


def test_login_page_loads_its_styles_from_the_app_itself(offline_page, live_server):
    responses = []
    offline_page.on("response", lambda r: responses.append(r))
    offline_page.goto(live_server + "/login")
    expect(offline_page.get_by_label("E-mail")).to_be_visible()
    css = [r for r in responses if r.url.endswith(".css")]
    assert css and all(r.status == 200 for r in css)


def test_api_docs_render_under_the_content_security_policy(offline_page, live_server):
    violations = []
    offline_page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    offline_page.goto(live_server + "/api/v1/docs")
    expect(offline_page.locator("#swagger-ui .info")).to_be_visible(timeout=15_000)
    assert violations == []
