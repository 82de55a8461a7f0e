from __future__ import annotations

import pytest

from custseg.cluster.algorithms import ALGORITHMS, get_algorithm
from custseg.errors import ParameterError


def test_registry_has_the_seven_algorithms_and_rfm_scoring():
    assert list(ALGORITHMS) == ["kmeans", "dbscan", "agglomerative", "gmm", "hdbscan", "birch",
                               "kprototypes", "rfm"]
    assert [n for n, s in ALGORITHMS.items() if s.scored] == ["rfm"]
    assert ALGORITHMS["rfm"].scores_roles == ("recency", "frequency", "monetary")


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_every_parameter_is_described_and_defaults_are_valid(name):
    spec = get_algorithm(name)
    for p in spec.params:
        assert p.help.endswith(".")
        assert p.coerce(p.default) == p.default
    estimator = spec.make({}, random_state=0)
    params = estimator.get_params()
    for p in spec.params:
        assert params[p.name] == p.default  # registry names are scikit-learn's


def test_coerce_strings_and_ranges():
    spec = get_algorithm("dbscan")
    assert spec.resolve({"eps": "0.3", "min_samples": "7"}) == {"eps": 0.3, "min_samples": 7}
    with pytest.raises(ParameterError, match=r"eps='9' is out of range; eps takes 0.01 to 5"):
        spec.resolve({"eps": "9"})
    with pytest.raises(ParameterError, match="min_samples='2.5' must be a whole number"):
        spec.resolve({"min_samples": "2.5"})
    with pytest.raises(ParameterError, match="no parameter 'n_clusters'; its parameters are eps"):
        spec.resolve({"n_clusters": 3})


def test_choice_and_optional_parameters():
    assert get_algorithm("agglomerative").resolve({"linkage": "average"})["linkage"] == "average"
    with pytest.raises(ParameterError, match="choose one of ward, complete, average, single"):
        get_algorithm("agglomerative").resolve({"linkage": "centroid"})
    assert get_algorithm("hdbscan").resolve({"min_samples": "auto"})["min_samples"] is None


def test_unknown_algorithm():
    with pytest.raises(ParameterError, match="unknown algorithm 'kmedoids'; choose one of kmeans"):
        get_algorithm("kmedoids")

