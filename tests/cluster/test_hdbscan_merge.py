"""HDBSCAN's merge distance: scikit-learn's own selection where it works, no crash where
it does not (scikit-learn 1.9 with NumPy 2.4, issue #33219)."""

import numpy as np
import pytest
from sklearn.cluster import HDBSCAN

from custseg.cluster.algorithms import get_algorithm
from custseg.cluster.hdbscan_merge import merging_hdbscan, tree_to_labels
from custseg.cluster.segmenter import Segmenter


def three_blobs(seed: int = 0) -> np.ndarray:
    """Two tight groups 0.6 apart and a third 6 away, in scaled units."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [0.6, 0.0], [6.0, 6.0]])
    return np.vstack([c + rng.normal(0, 0.08, (60, 2)) for c in centres])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("min_cluster_size", [5, 15, 40])
def test_with_no_merge_distance_the_selection_is_scikit_learns(seed, min_cluster_size):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(c, 0.5, (150, 3)) for c in (0.0, 2.0, 5.0)])
    native = HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit(X)
    labels, probabilities = tree_to_labels(native._single_linkage_tree_, min_cluster_size, 0.0)
    np.testing.assert_array_equal(labels, native.labels_)
    np.testing.assert_allclose(probabilities, native.probabilities_)


def test_scikit_learns_own_merge_distance_still_crashes_here():
    # when this fails, scikit-learn is fixed: compare with it at ε > 0 and consider
    # dropping MergingHDBSCAN
    with pytest.raises(TypeError, match="0-dimensional"):
        HDBSCAN(min_cluster_size=10, cluster_selection_epsilon=1.0, copy=True).fit(three_blobs())


def test_a_merge_distance_merges_the_groups_closer_than_it():
    X = three_blobs()
    apart = merging_hdbscan()(min_cluster_size=10, copy=True).fit(X)
    merged = merging_hdbscan()(min_cluster_size=10, cluster_selection_epsilon=1.0,
                               copy=True).fit(X)
    assert len(set(apart.labels_[:120]) - {-1}) == 2  # the close pair, apart
    assert len(set(merged.labels_[:120]) - {-1}) == 1  # merged into one segment
    assert set(merged.labels_[120:]) - {-1} == {merged.labels_[150]}  # the far one alone
    assert merged.labels_[0] != merged.labels_[150]
    assert merged.probabilities_.shape == (180,)
    assert np.all((merged.probabilities_ >= 0) & (merged.probabilities_ <= 1))
    assert np.all(merged.probabilities_[merged.labels_ == -1] == 0)


def test_a_merge_distance_beyond_every_group_keeps_the_top_ones():
    merged = merging_hdbscan()(min_cluster_size=10, cluster_selection_epsilon=5.0,
                               copy=True).fit(three_blobs())
    # no single segment is allowed: the two children of the root stay
    assert len(set(merged.labels_) - {-1}) == 2


def test_the_registry_builds_the_merging_clusterer_and_the_segmenter_fits_it():
    spec = get_algorithm("hdbscan")
    built = spec.make({"cluster_selection_epsilon": 0.55}, 0)
    assert isinstance(built, HDBSCAN) and built.cluster_selection_epsilon == 0.55
    seg = Segmenter(algorithm="hdbscan", params={"min_cluster_size": 10,
                                                 "cluster_selection_epsilon": 1.0})
    labels = seg.fit(three_blobs()).labels_
    assert len(labels) == 180
    assert len(set(labels) - {-1}) == 2


# ------------------------------------------------ the advice of a degenerate outcome


def two_close_and_one_far(seed: int = 0) -> np.ndarray:
    """Two groups of 470 0.8 apart and one of 40 far away: three segments, none holding
    more than half the customers, until a merge distance joins the close pair."""
    rng = np.random.default_rng(seed)
    return np.vstack([np.asarray(c) + rng.normal(0, 0.1, (k, 2))
                      for c, k in (([0.0, 0.0], 470), ([0.8, 0.0], 470), ([6.0, 6.0], 40))])


def hdbscan_warnings(X, **params) -> list[str]:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Segmenter(algorithm="hdbscan", params=params).fit(X)
    return [str(w.message) for w in caught if str(w.message).startswith("HDBSCAN")]


def test_one_segment_of_nearly_everyone_made_by_the_merge_distance_says_lower_it():
    X = two_close_and_one_far()
    assert hdbscan_warnings(X, min_cluster_size=10) == []  # 470, 470 and 40
    assert hdbscan_warnings(X, min_cluster_size=10, cluster_selection_epsilon=0.3) == [
        "HDBSCAN put 95.9% of the customers in one segment; the others barely separate: "
        "lower the merge distance (cluster_selection_epsilon=0.3): it joined 3 segments "
        "into 2."]


def test_everyone_in_noise_is_never_the_merge_distances_doing():
    """A merge distance only joins segments found without it (and takes customers out of
    noise into the segment they join): where everyone is noise with it, everyone is
    noise without it, and the advice names the settings that decide it."""
    X = np.random.default_rng(0).normal(0, 1, (300, 2))  # one blob, no split of 200
    assert hdbscan_warnings(X, min_cluster_size=200) == [
        "HDBSCAN put every customer in noise: no segment was found; lower "
        "min_cluster_size or min_samples."]
    for epsilon in (0.3, 1.0, 5.0):
        assert hdbscan_warnings(X, min_cluster_size=200, cluster_selection_epsilon=epsilon) \
            == [f"HDBSCAN put every customer in noise: no segment was found; lower "
                f"min_cluster_size or min_samples; the merge distance "
                f"(cluster_selection_epsilon={epsilon:g}) is not the cause: it only joins "
                f"segments found."]
    # and the merge never leaves more customers in noise, nor fewer than two segments
    X = two_close_and_one_far(1)
    apart = merging_hdbscan()(min_cluster_size=10, copy=True).fit(X).labels_
    for epsilon in (0.3, 1.0, 5.0):
        merged = merging_hdbscan()(min_cluster_size=10, cluster_selection_epsilon=epsilon,
                                   copy=True).fit(X).labels_
        assert np.sum(merged == -1) <= np.sum(apart == -1)
        assert len(set(merged) - {-1}) == 2


def test_the_coarse_advice_names_the_merge_distance_only_where_it_can_be_the_cause():
    from custseg.cluster.segmenter import degenerate_warnings

    spec = get_algorithm("hdbscan")
    nearly_all = np.r_[np.zeros(950, int), np.ones(50, int)]
    params = spec.resolve({"min_cluster_size": 10})
    assert degenerate_warnings(nearly_all, spec, params) == [
        "HDBSCAN put 95.0% of the customers in one segment; the others barely separate: "
        "lower min_cluster_size."]  # no merge distance: nothing to lower there
    merging = spec.resolve({"min_cluster_size": 10, "cluster_selection_epsilon": 0.5})
    said = degenerate_warnings(nearly_all, spec, merging, unmerged=nearly_all)
    assert said[0].endswith(": lower min_cluster_size; the merge distance "
                            "(cluster_selection_epsilon=0.5) is not the cause: without it "
                            "they separate no better.")
    unmerged = np.repeat(np.arange(4), 250)
    said = degenerate_warnings(nearly_all, spec, merging, unmerged=unmerged)
    assert said[0].endswith(": lower the merge distance (cluster_selection_epsilon=0.5): it "
                            "joined 4 segments into 2.")
    # the labels alone (a suggestion's): either may help
    assert degenerate_warnings(nearly_all, spec, merging)[0].endswith(
        ": lower min_cluster_size, or lower the merge distance (cluster_selection_epsilon=0.5).")
