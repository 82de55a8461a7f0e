"""One customer's distance to the known customers, against theirs to each other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.api import customer_features, predict_one, predict_typicality
from custseg.errors import CustsegError
from custseg.model.typicality import Typicality, confidence_level, neighbour_scale, outside_segment


@pytest.fixture(scope="module")
def mall_model(mall_path):
    return custseg.fit(pd.read_csv(mall_path), params={"n_clusters": 5})


def test_the_issues_atypical_customer(mall_model):
    values = {"age": 95, "annual_income": 500, "spending_score": 100}
    result = predict_one(mall_model, values=values)
    typical = predict_typicality(mall_model, values=values)
    assert result["atypical"] and typical.atypical
    assert typical.distance == pytest.approx(float(mall_model.fitted.assign(
        mall_model.encoding.transform(pd.DataFrame([values]))).distance[0]))
    assert typical.limit == mall_model.fitted.atypical_threshold
    assert typical.share_closer == 1.0 and typical.ratio > 20
    assert typical.level() == "atypical"
    assert confidence_level(result["confidence"], result["atypical"]) == "low"
    assert typical.words().endswith("further than any known customer is from its nearest "
                                    "neighbour, beyond the 99% the model calls atypical.")
    outside = outside_segment(customer_features(mall_model, values=values),
                              mall_model.segment(result["segment_id"]))
    assert [o.split(" is ")[0] for o in outside] == ["Age (years) 95", "Annual income (k$) 500",
                                                     "Spending score (points) 100"]


def test_a_known_customer_is_typical(mall_model, mall_path):
    row = pd.read_csv(mall_path).iloc[10]
    values = {"age": row["Age"], "annual_income": row["Annual Income (k$)"],
              "spending_score": row["Spending Score (1-100)"]}
    typical = predict_typicality(mall_model, values=values)
    assert typical.distance == 0 and typical.level() == "typical"
    assert typical.words() == "The customer is identical to a known customer."


def test_the_scale_is_the_known_customers_nearest_neighbour_distances(mall_model):
    scale = neighbour_scale(mall_model)
    points = mall_model.fitted.reference_X
    d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(d, np.inf)
    assert np.allclose(scale, np.sort(d.min(axis=1)))
    # the atypical threshold is the 99th percentile of the same distances
    assert mall_model.fitted.atypical_threshold == pytest.approx(np.quantile(scale, 0.99))


@pytest.mark.parametrize(("confidence", "atypical", "level"), [
    (1.0, False, "high"), (2 / 3, False, "medium"), (1 / 3, False, "low"),
    (1.0, True, "low")])
def test_confidence_levels(confidence, atypical, level):
    assert confidence_level(confidence, atypical) == level


def test_words_for_a_near_and_an_unusual_customer():
    near = Typicality(distance=0.1, typical=0.2, limit=1.0, share_closer=0.3, atypical=False)
    assert near.words() == ("Its nearest known customer is nearer than is typical between "
                            "neighbouring known customers (0.5× the typical distance); 30% "
                            "of known customers have a neighbour nearer than that.")
    far = Typicality(distance=0.7, typical=0.2, limit=1.0, share_closer=0.95, atypical=False)
    assert far.level() == "unusual"
    assert far.words().startswith("Its nearest known customer is 3.5× as far as is typical")


def test_an_invalid_customer_is_refused(mall_model):
    with pytest.raises(CustsegError, match=r"age: -5 years is outside 16–100 years"):
        predict_typicality(mall_model, values={"age": -5, "annual_income": 50,
                                               "spending_score": 50})
