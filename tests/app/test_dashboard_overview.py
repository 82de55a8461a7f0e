"""The Dashboard's overview, its cards, many segments, a segment's customers and the
figures, through AppTest (issue 14)."""

from __future__ import annotations

import io
import json
from collections import Counter

import pandas as pd
import pytest
from many_segments import grouped_customers
from streamlit_text import unescape

import custseg
from custseg.model import summaries
from custseg.segments import charts


def _picker(at, prefix: str):
    """A selectbox whose key starts with ``prefix`` (the rest names the model)."""
    return next(s for s in at.main.selectbox if s.key and s.key.startswith(prefix))


def _overview(at) -> pd.DataFrame:
    """The overview's tables (the averages, maybe in several, then the plan), side by
    side again: the same rows in the same order, each beginning with the segment."""
    parts = [d.value for d in at.main.dataframe if d.value.columns[0] == "segment"]
    assert parts[-1].columns.tolist()[-2:] == ["stability", "strategy"]
    for part in parts[1:]:
        assert part["segment"].tolist() == parts[0]["segment"].tolist()
    return pd.concat([parts[0], *(p.drop(columns="segment") for p in parts[1:])], axis=1)


def _cards(at) -> list:
    return [e for e in at.main.expander if e.label[:1].isdigit()]


def _texts(at) -> list[str]:
    return ([unescape(c.value) for c in at.main.caption] + [unescape(m.value) for m in at.main.markdown]
            + [unescape(e.label) for e in at.main.expander] + [m.value for m in at.main.metric])


def test_the_overview_compares_every_segment_and_measures_stability_on_demand(app):
    view = app.session_state["_view"]
    table = _overview(app)
    segments = [s for s in view.model.segments if not s.is_outliers]
    assert table.columns.tolist() == [
        "segment", "customers", "share", "Age (years)", "Annual income (k$)",
        "Spending score (points)", "share of total annual income", "stability", "strategy"]
    assert table["customers"].tolist() == [s.size for s in segments] == [765, 387, 338, 280, 230]
    # a number, so that it sorts as one; shown as "38.2%"
    assert table["share"].tolist() == [s.share for s in segments]
    assert [summaries.share_text(s) for s in table["share"]] == [
        "38.2%", "19.4%", "16.9%", "14.0%", "11.5%"]
    assert table["Spending score (points)"].tolist() == pytest.approx(
        [s.means["spending_score"] for s in segments])
    assert sum(table["share of total annual income"]) == pytest.approx(1.0)
    assert set(table["stability"]) == {"not measured"}  # a refit the live fit never makes
    app.button(key="measure_stability").click().run()
    assert not app.exception
    measured = _overview(app)["stability"].tolist()
    assert measured == ["stable"] * 5
    assert not [b for b in app.main.button if b.key == "measure_stability"]


def test_cards_follow_collapsible_and_open_when_few(app):
    cards = _cards(app)
    assert [unescape(c.label) for c in cards] == [
        "0 · Balanced Shoppers — 765 customers (38.2% of the base)",
        "1 · Affluent Spenders — 387 customers (19.4% of the base)",
        "2 · Cautious Affluent — 338 customers (16.9% of the base)",
        "3 · Trend-Driven Budget Spenders — 280 customers (14.0% of the base)",
        "4 · Frugal Shoppers — 230 customers (11.5% of the base)",
    ]
    assert all(c.proto.expanded for c in cards)


def test_a_large_share_of_outliers_is_said_first(app):
    before = _picker(app, "dashboard_members_segment_").key
    app.selectbox(key="algorithm").set_value("hdbscan").run()
    assert not app.exception
    outliers = app.session_state["_view"].model.segment(-1)
    assert outliers.share >= summaries.LARGE_OUTLIER_SHARE
    first = unescape(app.main.warning[0].value)  # the banner's, above the page, said once
    assert first.startswith(f"{outliers.share:.1%} of the customers ({outliers.size:,}) are "
                            "outliers")
    assert sum("are outliers" in unescape(w.value) for w in app.main.warning) == 1
    assert "Outliers" not in _overview(app)["segment"].tolist()
    assert app.main.metric[2].value == f"{outliers.share:.1%}"
    # another model, another picker: the browser never keeps the old model's labels
    picker = _picker(app, "dashboard_members_segment_")
    assert picker.key != before
    first = app.session_state["_view"].model.segment(0)
    assert picker.options[0] == f"0 · {first.name} ({first.size:,} customers)"


@pytest.fixture(scope="module")
def grouped_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("grouped") / "grouped.csv"
    grouped_customers().to_csv(path, index=False)
    return path


@pytest.fixture
def many(fresh_app, grouped_path):
    at = fresh_app(grouped_path)
    at.selectbox(key="algorithm").set_value("hdbscan").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_forty_segments_stay_readable(many, metrics, go):
    view = many.session_state["_view"]
    assert metrics(many)["Segments"] == "40"
    assert len(_overview(many)) == 40  # every segment in the overview, outliers apart
    cards = _cards(many)
    assert len(cards) == 10  # a page of cards, collapsed
    assert not any(c.proto.expanded for c in cards)
    pages = _picker(many, "card_page_")
    assert pages.options == ["Segments 1–10 of 40", "Segments 11–20 of 40",
                             "Segments 21–30 of 40", "Segments 31–40 of 40"]
    pages.set_value(30).run()
    assert [unescape(c.label).split(" · ")[0] for c in _cards(many)] == [
        str(s.id) for s in view.model.segments[30:40]]
    assert any("colours repeat" in t for t in _texts(many))
    # the outliers (37 scattered customers, 1.8%) are not the first thing said
    assert not many.main.warning or "fit no dense group" not in many.main.warning[0].value
    go(many, "explore")
    donut = next(c for c in many.get("plotly_chart") if '"pie"' in c.proto.spec)
    pie = json.loads(donut.proto.spec)["data"][0]
    # ten segments, the outliers in their own slice however few, the 30 others folded
    assert len(pie["labels"]) == 12 and pie["labels"][-2:] == [
        "Outliers", "Other (30 smaller segments)"]
    assert sum(pie["values"]) == len(view.values)
    assert any(unescape(c.value).startswith("Other: the 30 smallest segments") for c in many.main.caption)


def _download(downloads, prefix: str) -> pd.DataFrame:
    name = next(n for n in downloads if n.startswith(prefix))
    data = downloads[name]
    data = data if isinstance(data, bytes) else data.generate()
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)


def test_a_segments_members_download_has_the_dashboards_count(app, downloads, go):
    view = app.session_state["_view"]
    counts = dict(zip(_overview(app)["segment"], _overview(app)["customers"], strict=True))
    picker = _picker(app, "dashboard_members_segment_")
    assert picker.options[0] == "0 · Balanced Shoppers (765 customers)"
    header = list(view.table.header)
    seen = {}
    for segment in (s for s in view.model.segments if not s.is_outliers):
        downloads.clear()
        picker.set_value(segment.id).run()
        assert not app.exception
        rows = _download(downloads, f"segment_{segment.id}_")
        label = f"{segment.id} · {segment.name}"
        assert len(rows) == counts[label] == segment.size  # the Dashboard's count
        assert rows.columns.tolist() == [*header, *summaries.MEMBER_COLUMNS]
        assert set(rows["segment_id"]) == {str(segment.id)}
        table = next(d.value for d in app.main.dataframe if "scored_segment_id" in d.value.columns)
        assert len(table) == segment.size
        seen[segment.id] = rows
    whole = pd.concat(seen.values())
    assert len(whole) == 2_000
    # the Batch page scores the same rows by the nearest-neighbour vote: its counts are
    # the members' scored_segment_id, and the page says how many move
    scored = custseg.score(view.model, custseg.make_customers(2_000, seed=0))
    assert Counter(whole["scored_segment_id"].astype(int)) == Counter(scored["segment_id"])
    moved = int((seen[4]["segment_id"] != seen[4]["scored_segment_id"]).sum())
    note = next(unescape(c.value) for c in app.main.caption
                if unescape(c.value).startswith("230 customers."))
    assert (f"places {moved:,} of them elsewhere" in note if moved
            else "every one of them in the same segment" in note)


def test_members_search_and_filter(app):
    _picker(app, "dashboard_members_segment_").set_value(1).run()
    table = next(d.value for d in app.main.dataframe if "scored_segment_id" in d.value.columns)
    someone = table["customer_id"].iloc[3]
    app.text_input(key="dashboard_members_search").input(someone).run()
    found = next(d.value for d in app.main.dataframe if "scored_segment_id" in d.value.columns)
    assert found["customer_id"].tolist() == [someone]
    assert any(unescape(c.value).endswith("1 match the search and filter.")
               for c in app.main.caption)
    app.text_input(key="dashboard_members_search").input("").run()
    app.toggle(key="dashboard_members_atypical").set_value(True).run()
    atypical = next(d.value for d in app.main.dataframe if "scored_segment_id" in d.value.columns)
    assert len(atypical) < len(table)
    assert atypical["atypical"].astype(bool).all()
    # their neighbours' vote is not shown as a confidence (as on Predict and Batch)
    assert (atypical["confidence"] == "low (atypical)").all()
    assert "low (atypical)" not in set(table.loc[~table["atypical"].astype(bool), "confidence"])


def test_explore_lists_a_segments_customers_too(app, go, downloads):
    go(app, "explore")
    _picker(app, "explore_members_segment_").set_value(2).run()
    assert not app.exception
    rows = _download(downloads, "segment_2_")
    assert len(rows) == app.session_state["_view"].model.segment(2).size == 338


def test_figures_read_as_people_write_them(app):
    texts = _texts(app)
    assert app.main.metric[2].value == "none"
    assert not any("0.0%" in t for t in texts)
    assert not any("-0.00" in t or "−0.00" in t for t in texts)
    for frame in app.main.dataframe:
        if "gap (SD)" in frame.value.columns:
            assert not any(f"{v:+.2f}" == "-0.00" for v in frame.value["gap (SD)"])


def test_a_segment_of_a_few_customers_is_under_a_tenth_of_a_percent(fresh_app, tmp_path):
    frame = grouped_customers(groups=8, scattered=0, seed=1)
    lone = frame.iloc[[0]].assign(customer_id="LONE", annual_income=900.0, spending_score=99,
                                  age=79)
    many = pd.concat([frame] * 4 + [lone], ignore_index=True)
    many["customer_id"] = [f"C{i}" for i in range(len(many))]
    path = tmp_path / "lone.csv"
    many.to_csv(path, index=False)
    at = fresh_app(path)
    at.slider(key="param_kmeans_n_clusters").set_value(9).run()  # the 8 groups, and the one
    assert not at.exception, [e.message for e in at.exception]
    table = _overview(at)
    assert table["customers"].min() == 1 and len(many) > 2_000
    lone_share = table.loc[table["customers"] == 1, "share"].tolist()
    assert lone_share == [pytest.approx(1 / len(many))]
    assert [summaries.share_text(s) for s in lone_share] == ["< 0.1%"]  # as it is shown
    lone_card = next(c for c in _cards(at) if "— 1 customer " in unescape(c.label))
    assert unescape(lone_card.label).endswith("(< 0.1% of the base)")


def test_palette_still_one_colour_per_segment_below_its_size():
    assert not charts.colours_repeat(range(5))


def test_explore_comparison_has_no_negative_zero(app, go):
    go(app, "explore")
    table = next(d.value for d in app.main.dataframe if "cohens_d" in d.value.columns)
    assert not any(f"{v:+.1f}" == "-0.0" for v in table["difference"])
    assert not any(f"{v:+.2f}" == "-0.00" for v in table["cohens_d"])


def test_every_customer_an_outlier_leaves_no_table_to_compare(app):
    """DBSCAN at its smallest radius finds no dense group: the Dashboard says there is
    nothing to compare instead of drawing empty tables (an empty overview once raised
    KeyError 'segment' on other tables), and the banner says it first."""
    app.selectbox(key="algorithm").set_value("dbscan").run()
    slider = app.slider(key="param_dbscan_eps")
    slider.set_value(slider.min).run()
    app.number_input(key="param_dbscan_min_samples").set_value(50).run()
    assert not app.exception, [e.message for e in app.exception]
    model = app.session_state["_view"].model
    assert all(s.is_outliers for s in model.segments)
    assert unescape(app.main.warning[0].value).startswith("Every customer (2,000) is an outlier")
    assert any(i.value.startswith("No segment to compare") for i in app.main.info)
    assert not [d for d in app.main.dataframe if d.value.columns[:1].tolist() == ["segment"]]


def test_a_loaded_models_dashboard_counts_its_customers_as_its_members(app, go, downloads):
    """A model loaded over data: the cards said the model's fit counts (765, or 200 for a
    Mall model over 2,000 demo customers) and the members' picker and download the data's
    as the model places them (770). Both now count the data placed by the model."""
    from custseg.io.model_files import model_bytes

    mall_like = custseg.fit(custseg.make_customers(300, seed=5), algorithm="hdbscan")
    go(app, "model_lab")
    app.file_uploader(key="model_upload").upload("other.custseg", model_bytes(mall_like)).run()
    go(app, "dashboard")
    view = app.session_state["_view"]
    assert view.loaded_name == "other.custseg" and mall_like.base.n == 300
    placed = Counter(view.labels.tolist())
    overview = _overview(app)
    assert dict(zip(overview["segment"], overview["customers"], strict=True)) == {
        f"{s.id} · {s.name}": placed[s.id] for s in mall_like.segments
        if not s.is_outliers and placed[s.id]}
    assert next(m.value for m in app.main.metric if m.label == "Customers") == "2,000"
    picker = _picker(app, "dashboard_members_segment_")
    for segment in (s for s in mall_like.segments if placed[s.id]):
        downloads.clear()
        picker.set_value(segment.id).run()
        rows = _download(downloads, f"segment_{segment.id}_")
        assert len(rows) == placed[segment.id]
        if not segment.is_outliers:
            card = next(e.label for e in _cards(app)
                        if unescape(e.label).startswith(f"{segment.id} · "))
            assert f"— {placed[segment.id]:,} customers" in unescape(card)
    assert any(t.startswith("Loaded model: the counts and averages below are the 2,000 "
                            "customers of demo data") for t in _texts(app))


def test_headline_averages_go_two_to_a_row_when_a_third_would_cut_them():
    """At 1024 px "14.7 years" and "tenure_years (average)" were cut in a third of the
    main area; "61.5 k$" and "Average income" (the Mall's) fit, three to a row."""
    from custseg.app.glance import headline_rows

    mall = [("Average age", "38.9 yrs", ""), ("Average income", "60.6 k$", ""),
            ("Average score", "50.2", "")]
    assert [len(r) for r in headline_rows(mall)] == [3]
    wide = [("balance (average)", "9.0M", ""), ("visits (average)", "5.94", ""),
            ("tenure_years (average)", "14.7 years", "")]
    assert [len(r) for r in headline_rows(wide)] == [2, 1]
    assert headline_rows(wide)[1] == [wide[2]]
    long = [("a very long column header of a CRM export (average)", "1", "")]
    assert [len(r) for r in headline_rows(long)] == [1]
    assert headline_rows([]) == []
