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
