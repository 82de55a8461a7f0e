from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import estimator_checks_generator

from custseg.cluster.algorithms import ALGORITHMS
from custseg.cluster.assigner import KNNAssigner
from custseg.cluster.assignment import vote
from custseg.cluster.segmenter import Segmenter
from custseg.errors import NotEnoughDataError, ParameterError

# Checks we do not run, each with its reason (scikit-learn would only skip it anyway
# unless SCIPY_ARRAY_API is set).
NOT_RUN = {
    "check_array_api_input": "custseg computes on NumPy arrays only; array-API inputs "
    "(CuPy, torch) are out of scope for a CPU segmentation tool",
}


def _check_name(check) -> str:
    return getattr(check, "func", check).__name__


#: Checks not run on an algorithm whose segments are scores and a map (RFM), with the
#: reason: on a bare matrix it labels each row by its columns' quintiles, which are not
#: the blobs scikit-learn's clustering check looks for (by design).
NOT_RUN_SCORED = {
    "check_clustering": "quintile cells of each column are not clusters; RFM is tested "
    "on RFM tables (tests/model/test_rfm_model.py)",
}
ESTIMATORS = [Segmenter(algorithm=name) for name in ALGORITHMS] + [KNNAssigner()]
SKLEARN_CHECKS = [
    pytest.param(est, check, id=f"{getattr(est, 'algorithm', 'assigner')}-{_check_name(check)}")
    for estimator in ESTIMATORS
    for est, check in estimator_checks_generator(estimator)
    if _check_name(check) not in NOT_RUN
    and not (getattr(est, "algorithm", "") in ALGORITHMS
             and ALGORITHMS[est.algorithm].scored and _check_name(check) in NOT_RUN_SCORED)
]
#: The algorithms that cluster (all but those whose segments are scores and a map).
CLUSTERERS = [name for name, spec in ALGORITHMS.items() if not spec.scored]


# Every estimator (the Segmenter with each algorithm, and the KNN assigner), through
# scikit-learn's common estimator checks.
@pytest.mark.parametrize(("estimator", "check"), SKLEARN_CHECKS)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_sklearn_checks_are_all_collected():
    assert len(SKLEARN_CHECKS) >= len(ESTIMATORS) * 40


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=600, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=0.6,
                      random_state=0)
    return X, y


def test_vote_majority_share_and_tie_break():
    codes, share = vote(np.array([[2, 2, 1], [3, 1, 2], [0, 1, 1], [1, 0, 0], [3, 2, 2, 3]][:4]), 4)
    assert codes.tolist() == [2, 3, 1, 0]  # the three-way tie goes to the nearest
    assert share.tolist() == pytest.approx([2 / 3, 1 / 3, 2 / 3, 2 / 3])
    codes, share = vote(np.array([[3, 2, 2, 3]]), 4)
    assert codes.tolist() == [3] and share.tolist() == [0.5]  # 2-2 tie: nearest first


def test_assigner_neighbours_exclude_self_and_match_brute_force():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = rng.integers(0, 3, 300)
    knn = KNNAssigner(n_neighbors=3).fit(X, y)
    dist, ind = knn.kneighbors(X[:5])
    brute = np.sort(np.linalg.norm(X[:5, None] - X[None], axis=2), axis=1)[:, :3]
    assert dist == pytest.approx(brute)
    own_dist, own_ind = knn.kneighbors(n_neighbors=1)
    assert not np.any(own_ind[:, 0] == np.arange(300))
    assert own_dist[:, 0] == pytest.approx(brute[:, 1].tolist() + [] if False else
                                           np.sort(np.linalg.norm(X[:, None] - X[None], axis=2),
                                                   axis=1)[:, 1])
    proba = knn.predict_proba(X[:10])
    assert proba.sum(axis=1) == pytest.approx(1.0)
    assert (knn.classes_[proba.argmax(axis=1)] == knn.predict(X[:10])).mean() >= 0.9


@pytest.mark.parametrize("name", CLUSTERERS)
def test_recovers_clear_blobs(blobs, name):
    X, y = blobs
    params = {"kmeans": {"n_clusters": 3}, "agglomerative": {"n_clusters": 3},
              "gmm": {"n_components": 3}, "birch": {"n_clusters": 3},
              "dbscan": {"eps": 0.8}, "hdbscan": {"min_cluster_size": 30},
              "kprototypes": {"n_clusters": 3}}[name]
    seg = Segmenter(algorithm=name, params=params).fit(X)
    found = seg.labels_[seg.labels_ >= 0]
    assert len(np.unique(found)) == 3
    # ids are 0, 1, 2 by decreasing size
    sizes = np.bincount(found)
    assert sizes.tolist() == sorted(sizes.tolist(), reverse=True)
    # new points near each centre land in that centre's segment
    centres = np.array([[0, 0], [6, 0], [0, 6]])
    assert len(set(seg.predict(centres + 0.1).tolist())) == 3
    assert seg.fidelity_.cv_agreement > 0.95
    if ALGORITHMS[name].predicts_natively:
        assert seg.fidelity_.native_agreement > 0.95
    else:
        assert seg.fidelity_.native_agreement is None


def test_confidence_atypical_and_proba(blobs):
    X, _ = blobs
    seg = Segmenter(params={"n_clusters": 3}).fit(X)
    result = seg.assign(np.array([[0.0, 0.0], [40.0, 40.0]]))
    assert result.confidence[0] == 1.0
    assert result.atypical.tolist() == [False, True]
    assert result.distance[1] > 30
    proba = seg.predict_proba(np.array([[0.0, 0.0]]))
    assert proba.shape == (1, 3)
    assert proba.sum() == pytest.approx(1.0)
    # about 1% of the training customers are beyond the threshold, by its definition
    train = seg.assigner_.kneighbors(n_neighbors=1)[0][:, 0]
    assert np.mean(train > seg.atypical_threshold_) == pytest.approx(0.01, abs=0.005)


def test_noise_keeps_label_minus_one(blobs):
    X, _ = blobs
    X = np.vstack([X, [[20, 20], [-20, 20]]])
    seg = Segmenter(algorithm="dbscan", params={"eps": 0.8}).fit(X)
    assert seg.labels_[-2:].tolist() == [-1, -1]
    assert -1 in seg.classes_
    assert seg.predict(np.array([[20.1, 20.0]])).tolist() == [-1]


def test_sample_and_reference_are_bounded(blobs):
    X, _ = blobs
    seg = Segmenter(algorithm="agglomerative", params={"n_clusters": 3}, sample_size=200,
                    reference_size=90).fit(X)
    assert seg.n_fit_rows_ == 200
    assert len(seg.sample_indices_) == 200
    assert len(seg.reference_X_) == pytest.approx(90, abs=3)
    assert len(seg.labels_) == 600
    assert np.bincount(seg.reference_labels_).min() >= 25  # every segment kept
    default = Segmenter(algorithm="agglomerative").fit(X)
    assert default.n_fit_rows_ == 600  # below the default cap of 10,000


def test_deterministic_for_a_seed(blobs):
    X, _ = blobs
    a = Segmenter(algorithm="gmm", random_state=3, sample_size=300).fit(X)
    b = Segmenter(algorithm="gmm", random_state=3, sample_size=300).fit(X)
    assert np.array_equal(a.labels_, b.labels_)


def test_state_round_trip_predicts_identically(blobs):
    X, _ = blobs
    seg = Segmenter(algorithm="hdbscan").fit(X)
    again = Segmenter.from_state(*seg.state())
    probe = np.random.default_rng(0).normal(2, 4, size=(500, 2))
    a, b = seg.assign(probe), again.assign(probe)
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.atypical, b.atypical)
    assert np.array_equal(a.confidence, b.confidence)


def test_degenerate_outcomes_warn(blobs):
    X, _ = blobs
    with pytest.warns(UserWarning, match="put every customer in noise"):
        Segmenter(algorithm="dbscan", params={"eps": 0.01, "min_samples": 50}).fit(X)


def test_errors_name_the_fix(blobs):
    X, _ = blobs
    with pytest.raises(NotEnoughDataError, match="n_clusters=5 asks for more segments than"):
        Segmenter().fit(X[:4])
    with pytest.raises(ParameterError, match="n_neighbors must be a whole number"):
        Segmenter(n_neighbors=0).fit(X)
    with pytest.raises(ParameterError, match="sample_size must be"):
        Segmenter(sample_size="half").fit(X)


def test_distinct_rows_and_the_memo_change_nothing(blobs):
    from custseg.cluster.assignment import AssignmentMemo

    X, _ = blobs
    seg = Segmenter(params={"n_clusters": 3}).fit(X)
    rng = np.random.default_rng(1)
    probe = rng.normal(2, 3, size=(30_000, 2)).round(1)  # many repeated rows
    direct = seg.vote_.assign_rows(probe)
    deduplicated = seg.assign(probe)
    memo = AssignmentMemo(limit=5_000)
    batched = [seg.assign(part, memo) for part in np.array_split(probe, 6)]
    for field in ("labels", "confidence", "atypical", "distance"):
        expected = getattr(direct, field)
        assert np.array_equal(getattr(deduplicated, field), expected)
        assert np.array_equal(np.concatenate([getattr(b, field) for b in batched]), expected)
    assert 0 < len(memo) <= 5_000  # bounded: once full, rows are assigned, not remembered
