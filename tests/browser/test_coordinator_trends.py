"""A coordinator reads a group's trends in the browser, hovers a point, switches to Chinese, and downloads
the Excel export and the quarterly report — all with no internet."""

import io
import re
from datetime import date

import sqlalchemy as sa
from openpyxl import load_workbook
from playwright.sync_api import expect

from app.demo import DEMO_PASSWORD, seed_demo
from app.programme.models import Group


def test_coordinator_reads_trends_hovers_switches_language_and_downloads(offline_page, live_server, db):
    seed_demo(date.today())
    db.session.commit()
    group = db.session.scalar(sa.select(Group).order_by(Group.id))
    page = offline_page

    page.goto(live_server + "/login")
    page.fill("#email", "coordinator@demo.test")
    page.fill("#password", DEMO_PASSWORD)
    page.locator("form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/$"))

    page.goto(f"{live_server}/groups/{group.id}/trends")
    chart = page.locator(".js-plotly-plot").first
    expect(chart).to_be_visible(timeout=15_000)
    point = chart.locator(".scatterlayer .point").first
    expect(point).to_be_attached()
    point.hover(force=True)
    hover = chart.locator(".hoverlayer")
    expect(hover).to_contain_text(re.compile(r"\d\.\d"))  # a mean with its figures

    # The same numbers in the table beneath, and the page in Chinese after the switch.
    expect(page.locator("table").first).to_contain_text(re.compile(r"\d\.\d\d"))
    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=15_000)

    # The quarterly report, then the Excel export from it.
    page.goto(f"{live_server}/reports/quarter")
    expect(page.locator("main")).to_contain_text(group.name)
    with page.expect_download() as download_info:
        page.locator("#export-form button").nth(1).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as saved:
        workbook = load_workbook(io.BytesIO(saved.read()))
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert len(rows) > 1 and any(group.name in str(cell) for row in rows for cell in row)
