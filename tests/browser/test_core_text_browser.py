"""Issue 14 in Chromium, on a shop table whose enthusiastic customers are about 80: the
name does not hide their age, rules and headers read as people write them, and HDBSCAN's
"Merge distance" at 0.55 renders a merged segmentation instead of an exception box (on
2,000 demo customers, where scikit-learn's own HDBSCAN raised a TypeError)."""

from __future__ import annotations

import re

import pytest
from browser_pages import wait_ready
from inspect_tables import aged_enthusiasts


@pytest.fixture(scope="module")
def shop_url(start_app, tmp_path_factory):
    path = tmp_path_factory.mktemp("shop") / "shop.csv"
    aged_enthusiasts().to_csv(path, index=False)
    return start_app(path)


def test_names_rules_headers_and_the_merge_distance(shop_url, page, shots):
    page.goto(shop_url)
    wait_ready(page)
    main = page.locator("section.main, [data-testid=stMain]").first
    main.get_by_text("Also notable: Age").first.wait_for()
    page.screenshot(path=shots / "core-text-kmeans.png", full_page=True)
    text = main.inner_text()
    assert "K-Means (n_clusters=5, n_init=10) on age, annual income and spending score" in text
    # the old customers' cards say their age, whatever the name says
    assert re.search(r"Also notable: Age [\d.]+ years on average, well above the base's "
                     r"[\d.]+ years\.", text)
    rules = [line for line in text.splitlines() if "precision" in line and "coverage" in line]
    assert rules
    for rule in rules:
        condition = rule.split(" — ")[0]
        assert "<=" not in condition and "_" not in condition, rule
        assert re.search(r"(≥|≤|from|=) [\d,]+.*(years|k\$|points)", condition), rule

    # 2,000 demo customers: where scikit-learn's own merge distance crashed (issue 14)
    page.get_by_text("Demo data").click()
    wait_ready(page)
    customers = page.get_by_role("spinbutton", name="Customers")
    customers.fill("2000")
    customers.press("Enter")
    wait_ready(page)
    main.get_by_text("2,000").first.wait_for()
    page.get_by_role("combobox", name="Algorithm").click()
    page.get_by_role("option", name="hdbscan").click()
    wait_ready(page)
    page.get_by_text("Merge distance").first.wait_for()
    slider = page.get_by_role("slider").first  # HDBSCAN's only slider
    slider.focus()
    for _ in range(11):  # from 0 in steps of 0.05
        page.keyboard.press("ArrowRight")
    main.get_by_text("cluster_selection_epsilon=0.55").wait_for()
    wait_ready(page)
    page.screenshot(path=shots / "core-text-merge-distance.png", full_page=True)
    assert page.locator("[data-testid=stException]").count() == 0
    text = main.inner_text()
    assert ("HDBSCAN (min_cluster_size=15, min_samples=auto, cluster_selection_epsilon=0.55)"
            in text)
    assert "None" not in text and "hdbscan" not in text
    assert re.search(r"\d+ · \w", text)  # segment cards rendered
