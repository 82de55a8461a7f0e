"""Any customer table in the dashboard (issue 16): a 17-column numeric table and a mixed
table segmented end to end, from feature choice to Predict and Batch, and a saved model
restoring its features in the sidebar."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from inspect_tables import bank, credit_card, marketing
from streamlit_text import unescape

from custseg.io.model_files import model_bytes, model_from_bytes

N = 300
CARD_COLUMNS = [c for c in credit_card(20).columns if c != "CUST_ID"]


def csv(frame: pd.DataFrame, sep: str = ",") -> bytes:
    return frame.to_csv(index=False, sep=sep).encode()


def upload(at, name: str, data: bytes):
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="data_upload").upload(name, data, "text/csv").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def model_of(at):
    return at.session_state["_view"].model


def test_a_17_column_table_end_to_end(app, go, metrics, downloads, segment_shown):
    upload(app, "cards.csv", csv(credit_card(N)))
    # every numeric column is offered and chosen, as custseg fit would; the id is not
    features = app.multiselect(key="features")
    assert features.value == CARD_COLUMNS
    assert "CUST_ID" not in features.options
    # a derivation, chosen as a feature, and a transform set by hand
    app.text_area(key="derivations").set_value(
        "spend_per_purchase = PURCHASES / (PURCHASES_TRX + 1)").run()
    app.multiselect(key="features").select("spend_per_purchase").run()
    app.selectbox(key="adjust_feature").set_value("CASH_ADVANCE").run()
    app.selectbox(key="transform|CASH_ADVANCE").set_value("none").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    model = model_of(app)
    assert model.config.features == (*CARD_COLUMNS, "spend_per_purchase")
    applied = dict(zip(model.encoding.features, model.encoding.transforms, strict=True))
    assert applied["CASH_ADVANCE"] == "none"
    assert applied["BALANCE"] == "log1p"  # auto: skewed and non-negative
    assert model.config.spec.get("spend_per_purchase").expr == (
        "PURCHASES / (PURCHASES_TRX + 1)")
    # the feature table under Advanced says what was set
    settings = next(d.value for d in app.sidebar.dataframe if "transform" in d.value.columns)
    assert settings.set_index("feature").loc["CASH_ADVANCE", "transform"] == "none"
    assert settings.set_index("feature").loc["BALANCE", "transform"] == "auto (log1p)"

    go(app, "dashboard")
    m = metrics(app)
    assert m["Customers"] == f"{model.quality.n_used:,}"
    assert model.quality.n_input == N and model.quality.n_used < N  # blank cells left out
    assert m["Segments"] == "5"
    assert "BALANCE (average)" in m and "Average age" not in m
    mean = model.base.means["BALANCE"]
    assert m["BALANCE (average)"] == f"{mean:,.1f}"
    # one level row per feature on every card, in the column's own name
    levels = [d.value for d in app.dataframe if "gap (SD)" in d.value.columns]
    assert len(levels) == 5
    assert levels[0]["feature"].tolist() == [*CARD_COLUMNS, "spend_per_purchase"]

    go(app, "explore")
    assert app.selectbox(key="explore_x").options == [*CARD_COLUMNS, "spend_per_purchase"]
    app.selectbox(key="explore_feature").set_value("CREDIT_LIMIT").run()
    assert not app.exception

    go(app, "predict")
    keys = {n.key for n in app.main.number_input}
    assert keys == {f"predict_{c}" for c in CARD_COLUMNS}  # the derived one is computed
    app.number_input(key="predict_PURCHASES").set_value(5_000)
    app.number_input(key="predict_PURCHASES_TRX").set_value(49)
    app.button[0].click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    names = {s.name for s in model.segments}
    assert any(n in segment_shown(app)["Segment"] for n in names)
    assert len(app.get("plotly_chart")) == 18  # one gauge per feature, derived included

    go(app, "batch")
    batch = credit_card(120, seed=9)
    batch.loc[3, "BALANCE"] = "lots"
    app.file_uploader(key="batch_upload").upload("more cards.csv", csv(batch)).run()
    assert not app.exception
    m = metrics(app)
    blank = int((batch.drop(columns="CUST_ID") == "").any(axis=1).sum())  # left out at fit too
    assert m["Rows"] == "120" and m["Invalid"] == str(blank + 1)
    scored = pd.read_csv(io.BytesIO(downloads["more cards_scored.csv"]), dtype=str,
                         keep_default_na=False)
    assert scored["CUST_ID"].tolist() == batch["CUST_ID"].tolist()
    assert scored.loc[3, "row_status"] == "invalid"
    assert "BALANCE" in scored.loc[3, "row_issues"]
    assert set(scored.loc[scored.row_status == "ok", "segment_name"]) <= names


def test_a_mixed_table_with_dollar_incomes_and_dates(app, go, metrics, downloads, errors,
                                                    segment_shown):
    data = marketing(N)
    upload(app, "marketing.tsv", csv(data, sep="\t"))
    # incomes in dollars under a header with no unit: read in dollars, and said
    assert not app.error, errors(app)
    assert any("read as dollars and converted to k$" in unescape(w.value) for w in app.warning)
    app.selectbox(key="income_unit").set_value("$ (dollars)").run()  # stating it: the same
    assert not app.error, errors(app)
    assert not any("read as dollars" in unescape(w.value) for w in app.warning)
    features = app.multiselect(key="features").value
    assert features[:2] == ["age", "annual_income"]  # age derived, Income a known field
    assert "total_spend" in features and "MntWines" not in features
    assert "Education" not in app.multiselect(key="features").options  # categorical
    derivations = app.text_area(key="derivations").value.splitlines()
    assert "age = years_since(Year_Birth)" in derivations
    assert "tenure_days = days_since(Dt_Customer)" in derivations
    # a role set by hand, and the log of a count
    app.selectbox(key="adjust_feature").set_value("Recency").run()
    assert app.selectbox(key="role|Recency").value == "recency"
    app.selectbox(key="adjust_feature").set_value("NumWebVisitsMonth").run()
    app.selectbox(key="role|NumWebVisitsMonth").set_value("frequency").run()
    app.selectbox(key="transform|NumWebVisitsMonth").set_value("log1p").run()
    assert not app.error, errors(app)
    model = model_of(app)
    assert model.config.spec.get("NumWebVisitsMonth").role == "frequency"
    applied = dict(zip(model.encoding.features, model.encoding.transforms, strict=True))
    assert applied["NumWebVisitsMonth"] == "log1p"
    assert model.config.spec.date_formats["Dt_Customer"].split("|")[2] == "%d-%m-%Y"

    go(app, "dashboard")
    m = metrics(app)
    assert m["Average age"].endswith(" yrs") and m["Average income"].endswith(" k$")
    assert 30 < model.base.means["annual_income"] < 80  # read as k$, not dollars

    go(app, "predict")
    inputs = {n.key for n in app.main.number_input} | {t.key for t in app.main.text_input}
    assert "predict_Year_Birth" in inputs and "predict_MntWines" in inputs  # what they read
    assert "predict_age" not in inputs and "predict_total_spend" not in inputs
    assert app.text_input(key="predict_Dt_Customer").value.count("-") == 2
    app.number_input(key="predict_Year_Birth").set_value(1990)
    app.text_input(key="predict_Dt_Customer").set_value("15-06-2013")
    app.button[0].click().run()
    assert not app.error, errors(app)
    assert any(s.name in segment_shown(app)["Segment"] for s in model.segments)

    go(app, "batch")
    batch = marketing(80, seed=4)
    batch.loc[2, "Dt_Customer"] = "31-02-2013"
    app.file_uploader(key="batch_upload").upload("next.tsv", csv(batch, sep="\t")).run()
    assert not app.exception
    scored = pd.read_csv(io.BytesIO(downloads["next_scored.csv"]), sep=None, engine="python",
                         dtype=str, keep_default_na=False)
    assert len(scored) == 80
    assert "Dt_Customer" in scored.loc[2, "row_issues"]


def test_a_bank_table_with_a_gender_select(app, go, metrics):
    """The categorical input that exists today (gender) gets a select built from the
    model's categories."""
    upload(app, "bank.csv", csv(bank(N)))
    assert "Age" not in app.multiselect(key="features").options  # it is the age field
    assert "age" in app.multiselect(key="features").value
    app.toggle(key="use_gender").set_value(True).run()
    go(app, "predict")
    gender = app.selectbox(key="predict_gender")
    assert gender.options == ["Female", "Male"]
    gender.set_value("Male")
    app.button[0].click().run()
    assert not app.error
    assert app.session_state["_prediction"]["gender"] == "Male"


@pytest.mark.parametrize("algorithm", ["kmeans", "kprototypes"])
def test_a_bank_table_clustered_on_a_categorical_column(app, go, metrics, downloads,
                                                        algorithm, segment_shown):
    """Numbers and a category (Geography) chosen in the sidebar, K-Means on the one-hot
    space or K-Prototypes; Predict gets a select of the categories seen; a batch row of
    a country the model never saw comes back invalid, naming the column."""
    upload(app, "bank.csv", csv(bank(N)))
    picker = app.multiselect(key="categorical")
    assert "Geography" in picker.options and "Surname" not in picker.options
    assert "Gender" not in picker.options  # the gender switch's
    app.multiselect(key="features").set_value(["age", "Balance", "CreditScore"]).run()
    app.multiselect(key="categorical").set_value(["Geography"]).run()
    app.selectbox(key="algorithm").set_value(algorithm).run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    model = model_of(app)
    assert model.config.algorithm == algorithm
    assert model.config.categorical == ("Geography",)
    assert model.config.spec.get("Geography").categories == ("France", "Germany", "Spain")

    go(app, "predict")
    country = app.selectbox(key="predict_Geography")
    assert country.options == ["France", "Germany", "Spain"]
    country.set_value("Spain")
    app.button[0].click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert any(s.name in segment_shown(app)["Segment"] for s in model.segments)

    go(app, "batch")
    batch = bank(40, seed=5)
    batch.loc[4, "Geography"] = "Italy"
    app.file_uploader(key="batch_upload").upload("more.csv", csv(batch)).run()
    assert not app.exception
    scored = pd.read_csv(io.BytesIO(downloads["more_scored.csv"]), dtype=str,
                         keep_default_na=False)
    assert len(scored) == 40
    assert scored.loc[4, "row_status"] == "invalid"
    assert "Geography" in scored.loc[4, "row_issues"] and "Italy" in scored.loc[4, "row_issues"]
    assert (scored.drop(index=4)["row_status"] == "ok").all()


def test_an_unrecognised_id_column_is_mapped(app):
    data = credit_card(N).rename(columns={"CUST_ID": "Account"})
    upload(app, "accounts.csv", csv(data))
    assert "Account" not in app.multiselect(key="features").options  # text codes: an id
    app.selectbox(key="id_column").set_value("Account").run()
    view = app.session_state["_view"]
    assert view.table.match.source("customer_id") == "Account"
    assert view.values["customer_id"].iloc[0] == "C10001"


@pytest.mark.parametrize("table", ["cards", "mall"])
def test_a_saved_model_restores_its_features(app, go, downloads, table):
    if table == "cards":
        upload(app, "cards.csv", csv(credit_card(N)))
        app.text_area(key="derivations").set_value("ratio = PAYMENTS / (BALANCE + 1)").run()
        app.multiselect(key="features").set_value(["BALANCE", "PAYMENTS", "ratio"]).run()
        app.selectbox(key="adjust_feature").set_value("PAYMENTS").run()
        app.selectbox(key="transform|PAYMENTS").set_value("none").run()
    else:
        app.multiselect(key="features").set_value(["annual_income", "spending_score"]).run()
    go(app, "model_lab")
    saved = model_from_bytes(downloads["segments.custseg"])
    wanted = saved.config.features
    # the controls move on; loading the file brings its features back
    app.multiselect(key="features").set_value([wanted[0]]).run()
    app.text_area(key="derivations").set_value("").run()
    app.file_uploader(key="model_upload").upload("saved.custseg", model_bytes(saved)).run()
    assert not app.exception
    assert app.session_state["_view"].loaded_name == "saved.custseg"
    assert any(", ".join(wanted) in unescape(c.value) for c in app.sidebar.caption)
    app.button(key="unload_model").click().run()
    app.run()  # the rerun the button asks for
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert tuple(app.multiselect(key="features").value) == wanted
    refit = model_of(app)
    assert refit.config.features == wanted
    assert refit.config.spec == saved.config.spec
    assert refit.encoding.transforms == saved.encoding.transforms
    assert [s.size for s in refit.segments] == [s.size for s in saved.segments]
