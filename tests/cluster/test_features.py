from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from custseg.cluster.features import DEFAULT_FEATURES, FeatureEncoding, check_features, fit_encoding
from custseg.errors import ParameterError


def test_check_features():
    assert check_features(None) == DEFAULT_FEATURES
    assert check_features("spending_score, annual_income") == ("annual_income", "spending_score")
    with pytest.raises(ParameterError, match="unknown feature 'height'"):
        check_features(["height"])
    with pytest.raises(ParameterError, match=r"switched on, it is one-hot .*\(use_gender\)$"):
        check_features(["gender"])
    with pytest.raises(ParameterError, match="at least one feature"):
        check_features("")
    with pytest.raises(ParameterError, match="names a feature twice"):
        check_features(["age", "age"])


def test_standardised():
    values = pd.DataFrame({"age": [20.0, 40.0, 60.0], "annual_income": [10.0, 10.0, 10.0]})
    enc = fit_encoding(values, ["age", "annual_income"])
    X = enc.transform(values)
    assert X[:, 0] == pytest.approx([-1.2247, 0.0, 1.2247], abs=1e-4)
    assert X[:, 1].tolist() == [0.0, 0.0, 0.0]  # constant feature: scale 1, harmless
    assert enc.to_original(X) == pytest.approx(values.to_numpy())


def test_gender_is_plain_one_hot():
    values = pd.DataFrame({"age": [20.0, 40.0, 30.0], "gender": ["Male", "Female", "Other"]})
    enc = fit_encoding(values, ["age"], use_gender=True)
    assert enc.columns == ("age", "gender=Female", "gender=Male", "gender=Other")
    X = enc.transform(values)
    assert X[:, 1:].tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert np.linalg.norm(X[0, 1:] - X[1, 1:]) == pytest.approx(math.sqrt(2))
    other = enc.transform(pd.DataFrame({"age": [30.0], "gender": ["Other"]}))
    assert other[0, 1:].tolist() == [0.0, 0.0, 1.0]
    never_seen = enc.transform(pd.DataFrame({"age": [30.0], "gender": ["Unknown"]}))
    assert never_seen[0, 1:].tolist() == [0.0, 0.0, 0.0]


def test_round_trip_dict():
    enc = FeatureEncoding(("age",), (30.0,), (5.0,), ("Female", "Male"))
    assert FeatureEncoding.from_dict(enc.to_dict()) == enc


def test_use_gender_without_a_gender_column():
    with pytest.raises(ParameterError, match="needs a gender column"):
        fit_encoding(pd.DataFrame({"age": [1.0, 2.0]}), ["age"], use_gender=True)
