"""Issue 14's adversarial pass in Chromium: a hostile link neither blanks the demo nor
drops a setting without a word."""

from __future__ import annotations

from browser_pages import wait_ready


def test_a_hostile_link_keeps_the_demo_and_says_what_it_left_out(server, page, shots):
    page.goto(f"{server}/?source=demo&date_formats=a%3D%25Y&features=age"
              "&features=annual_income&categorical=age&categorical=gender")
    wait_ready(page)
    page.get_by_text("The link's categorical columns age, gender are left out").wait_for()
    page.get_by_test_id("stMetric").first.wait_for()  # the Dashboard drawn, not blank
    wait_ready(page)
    page.screenshot(path=str(shots / "adversary14_hostile_link.png"), full_page=True)
    text = page.locator("body").inner_text()
    assert "nothing is shown" not in text and "Date formats: a" not in text
    assert page.get_by_test_id("stMetric").count() >= 3  # the Dashboard's headline figures
    assert "features=age" in page.url and "date_formats" not in page.url
