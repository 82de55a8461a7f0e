"""Models of a transaction log's customers: the Returns only rule in validation and
scoring, the aggregation kept in the model file (format 4) and forged blocks refused."""

from __future__ import annotations

import pandas as pd
import pytest
from hostile_models import forge
from log_tables import RETURNS_ONLY_IDS, write_log

from custseg import api
from custseg.errors import ModelFileError
from custseg.io.model_files import model_bytes, model_from_bytes
from custseg.table.spec import Feature, InputSpec, ReturnsOnly, source_key
from custseg.table.transactions import LogSpec
from custseg.table.validate import validate


@pytest.fixture(scope="module")
def log_fit(tmp_path_factory):
    path = tmp_path_factory.mktemp("log") / "log.csv"
    write_log(path)
    return api.fit_transactions(path, params={"n_clusters": 3}), path


def _spec() -> InputSpec:
    extra = tuple(Feature(n, "column", role=r, column=n) for n, r in (
        ("recency_days", "recency"), ("frequency", "frequency"), ("monetary", "monetary")))
    return InputSpec(extra=extra, returns_only=ReturnsOnly("frequency", ("recency_days",)))


def test_validation_sets_apart_only_frequency_0_with_blank_recency():
    frame = pd.DataFrame({source_key("recency_days"): ["", "4", "", "", "3"],
                          source_key("frequency"): ["0", "0", "0", "2", "x"],
                          source_key("monetary"): ["-5", "-1", "abc", "10", "1"]})
    checked = validate(frame, required=("recency_days", "frequency", "monetary"),
                       spec=_spec())
    assert checked.apart.tolist() == [True, False, False, False, False]
    assert checked.valid.tolist() == [False, True, False, False, False]
    assert checked.invalid.tolist() == [False, False, True, True, True]
    assert checked.n_invalid == 3 and checked.n_apart == 1
    # frequency 0 with a recency: an ordinary row; a bad monetary stays invalid; a blank
    # recency with purchases is missing, as always
    assert "monetary: 'abc' is not a number" in checked.issues[2]
    assert checked.issues[3] == "recency_days: missing"
    assert checked.issues[0] == ""


def test_without_the_frequency_the_rule_goes():
    spec = _spec().without(["frequency"])
    assert spec.returns_only is None
    assert _spec().without(["recency_days"]).returns_only == ReturnsOnly("frequency", ())


def test_fit_transactions_model_remembers_the_aggregation(log_fit):
    fitted, _ = log_fit
    model = fitted.model
    assert model.log == LogSpec(
        columns={"customer": "CustomerID", "date": "InvoiceDate", "invoice": "InvoiceNo",
                 "price": "UnitPrice", "quantity": "Quantity"},
        date_format=None, date_read="mdy|/|%m/%d/%Y %H:%M:%S|1")
    assert model.config.spec.returns_only == ReturnsOnly(
        "frequency", ("recency_days",))
    assert fitted.log.summary.customers == 63
    back = model_from_bytes(model_bytes(model))
    assert back.log == model.log and back.config.spec == model.config.spec
    assert back.quality.n_returns_only == 3
    assert back.summary()["segments"] == model.summary()["segments"]


def test_score_transactions_matches_score_of_the_rfm_table(log_fit, tmp_path):
    fitted, path = log_fit
    scored, log = api.score_transactions(fitted.model, path)
    table = api.rfm(path).table.to_pandas()
    assert len(scored) == log.summary.customers == 63
    again = api.score(fitted.model, table)
    pd.testing.assert_series_equal(scored["segment_id"], again["segment_id"],
                                   check_dtype=False)
    apart = scored[scored["customer_id"].isin(RETURNS_ONLY_IDS)]
    assert apart["segment_id"].tolist() == [-2, -2, -2]
    assert apart["confidence"].tolist() == [1.0] * 3
    assert not apart["atypical"].any()


def _changed(model, change):
    return forge(model_bytes(model), change)


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m["transactions"]["columns"].pop("date"), "has no date column"),
    (lambda m: m["transactions"]["columns"].update(amount="Quantity"),
     "transactions.value is 'quantity_price', but its columns say otherwise"),
    (lambda m: m["transactions"]["columns"].update(basket="X"), "transactions.columns"),
    (lambda m: m["transactions"]["columns"].update(customer="InvoiceNo"),
     "takes one column for two roles"),
    (lambda m: m["transactions"].update(date_read="mdy|?|%m|1"), "date_read"),
    (lambda m: m["transactions"].update(date_format="dd/mm"), "has no strftime code"),
    (lambda m: m["config"]["spec"]["returns_only"].update(frequency="monetary_x"),
     "returns_only.frequency 'monetary_x' is not a clustered feature"),
    (lambda m: m["quality"].update(n_returns_only=4), "n_returns_only"),
    (lambda m: m["config"]["spec"].pop("returns_only"),
     "no rule that sets them apart"),
])
def test_forged_aggregation_blocks_are_refused(log_fit, change, message):
    with pytest.raises(ModelFileError, match=message):
        model_from_bytes(_changed(log_fit[0].model, change), name="m.custseg")


def test_a_format_3_file_with_a_log_block_is_refused(log_fit):
    data = forge(model_bytes(log_fit[0].model),
                 manifest_change=lambda m: m.__setitem__("format_version", 3))
    with pytest.raises(ModelFileError, match="format version 3, but model.json holds "
                                             "transactions, which only format 4 has"):
        model_from_bytes(data, name="m.custseg")


def test_a_model_without_returns_only_customers_names_new_ones(tmp_path):
    path = tmp_path / "plain.csv"
    write_log(path, returns_only=0)
    model = api.fit_transactions(path, params={"n_clusters": 3}).model
    assert [s.id for s in model.segments if s.id < 0] == []
    assert model.names[-2] == "Returns only"
    assert model.segment(-2).strategy == model.rulebook.returns_only["strategy"]
    assert model.segment(-2).size == 0
    back = model_from_bytes(model_bytes(model))
    row = pd.DataFrame({"customer_id": ["z"], "recency_days": [None], "frequency": [0],
                        "monetary": [-3.5], "tenure_days": [None], "first_purchase": [None],
                        "last_purchase": [None], "avg_order_value": [None],
                        "returns_value": [3.5]})
    scored = api.score(back, row)
    assert scored[["segment_id", "segment_name", "confidence", "row_status"]
                  ].iloc[0].tolist() == [-2, "Returns only", 1.0, "ok"]


def test_the_rulebook_words_the_returns_only(tmp_path):
    from custseg.segments.profile import Rulebook, RulebookError

    text = default_text().replace('strategy = "Check the returns first',
                                  'strategy = "Call them first. Check the returns first')
    book = Rulebook.from_toml(text)
    assert book.returns_only["strategy"].startswith("Call them first.")
    path = tmp_path / "log.csv"
    write_log(path)
    model = api.fit_transactions(path, params={"n_clusters": 3}, rulebook=book).model
    assert model.segment(-2).strategy.startswith("Call them first.")
    clash = text + '\n[[rules]]\nname = "Returns only"\nwhen = { frequency = "low" }\n' \
        'description = "x"\nstrategy = "y"\n'
    with pytest.raises(RulebookError, match="the name of the returns only"):
        Rulebook.from_toml(clash)


def default_text() -> str:
    from importlib.resources import files

    return files("custseg").joinpath("rules.toml").read_text(encoding="utf-8")
