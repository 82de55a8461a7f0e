"""The two exact neighbour searches of the vote (issue 16, scoring speed at 17 features):
the float32 screen on BLAS (:class:`BlockScreen`) finds exactly the neighbours the
cKDTree finds and a plain argsort over every distance finds — same indices, distances,
labels, confidences and atypical flags — across dimensions, neighbour counts, ties,
duplicates, tiny reference sets, far-out rows and the memo. No assertion here measures
time (the speed is in benchmarks/)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custseg.cluster.assignment import (
    SCREEN_MIN_FEATURES,
    AssignmentMemo,
    BlockScreen,
    NeighbourVote,
    vote,
)

FIELDS = ("labels", "confidence", "atypical", "distance")


def reference_neighbours(X: np.ndarray, R: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every distance, then a stable argsort: nearest first, lowest index among ties."""
    sq = ((X[:, None, :] - R[None, :, :]) ** 2).sum(axis=2)
    order = np.argsort(sq, axis=1, kind="stable")[:, :k]
    return np.sqrt(np.take_along_axis(sq, order, axis=1)), order


def votes(*, search: str, R: np.ndarray, labels: np.ndarray, k: int, **kw) -> NeighbourVote:
    return NeighbourVote(R, labels, k, search=search, **kw)


def assert_same_assignment(a, b, *, distance_rtol: float = 0.0) -> None:
    for name in ("labels", "confidence", "atypical"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    np.testing.assert_allclose(a.distance, b.distance, rtol=distance_rtol, atol=0)


def skewed_table(n: int, seed: int) -> np.ndarray:
    """17 credit-card-like columns (lognormal money with many zeros, shares in [0, 1],
    counts), log1p-transformed and standardised as a fitted model would."""
    rng = np.random.default_rng(seed)
    columns = []
    for j in range(17):
        if j % 3 == 0:
            values = rng.lognormal(6, 1.2, n)
            values[rng.random(n) < 0.1 + 0.03 * j] = 0.0
            values = np.log1p(values)
        elif j % 3 == 1:
            values = np.where(rng.random(n) < 0.4, 0.0, rng.beta(1.0, 4.0, n)).round(6)
        else:
            values = np.log1p(rng.geometric(0.2, n) * (rng.random(n) < 0.6))
        columns.append(values)
    X = np.column_stack(columns)
    return (X - X.mean(axis=0)) / X.std(axis=0)


def mixture(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 2.0, (8, d))
    return centres[rng.integers(0, 8, n)] + rng.normal(size=(n, d))


# ---------------------------------------------------------------- against every distance


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=st.integers(1, 20), m=st.integers(1, 120), k=st.integers(1, 10),
       grid=st.booleans(), seed=st.integers(0, 2**16))
def test_the_screen_finds_what_every_distance_finds(d, m, k, grid, seed):
    rng = np.random.default_rng(seed)
    if grid:  # small whole numbers: exact ties and duplicate points galore
        R = rng.integers(-2, 3, size=(m, d)).astype(float)
        X = rng.integers(-3, 4, size=(40, d)).astype(float)
    else:
        R = rng.normal(size=(m, d)) * rng.lognormal(0, 1, d)
        X = rng.normal(size=(40, d)) * 2
    kk = min(k, m)
    dist, ind = votes(search="screen", R=R, labels=np.zeros(m, int), k=k).query(X)
    want_dist, want_ind = reference_neighbours(X, R, kk)
    assert dist.shape == ind.shape == (40, kk)
    np.testing.assert_allclose(dist, want_dist, rtol=1e-13, atol=0)
    if grid:  # whole numbers: every distance is exact, ties resolved to the lowest index
        assert np.array_equal(dist, want_dist)
        assert np.array_equal(ind, want_ind)
    else:  # distinct neighbours whose own distances are those returned
        own = np.sqrt(((X[:, None, :] - R[ind]) ** 2).sum(axis=2))
        np.testing.assert_allclose(own, dist, rtol=1e-13, atol=0)
        assert all(len(set(row)) == kk for row in ind.tolist())


@pytest.mark.parametrize("d", range(1, 21))
@pytest.mark.parametrize("k", [1, 3, 10])
def test_the_screen_and_the_tree_agree_at_every_dimension(d, k):
    rng = np.random.default_rng(d * 100 + k)
    R = rng.normal(size=(700, d))
    labels = rng.integers(0, 4, 700)
    X = rng.normal(size=(600, d)) * 1.3
    tree = votes(search="tree", R=R, labels=labels, k=k, atypical_threshold=0.9)
    screen = votes(search="screen", R=R, labels=labels, k=k, atypical_threshold=0.9)
    t_dist, t_ind = tree.query(X)
    s_dist, s_ind = screen.query(X)
    assert np.array_equal(s_ind, t_ind)
    # the same sums up to 7 features; beyond, the tree's may differ in the last bit
    np.testing.assert_allclose(s_dist, t_dist, rtol=0 if d <= 7 else 4e-16 * d, atol=0)
    assert_same_assignment(screen.assign_rows(X), tree.assign_rows(X),
                           distance_rtol=0 if d <= 7 else 4e-16 * d)


@pytest.mark.parametrize("shape", ["skewed", "mixture"])
def test_seventeen_features_as_a_fitted_model_has_them(shape):
    """The issue's case: 17 features, a reference set of thousands, k=3; the atypical
    threshold set as a fit sets it (a quantile of nearest distances)."""
    if shape == "skewed":
        R, X = skewed_table(4_000, seed=1), skewed_table(3_000, seed=2)
    else:
        R, X = mixture(4_000, 17, seed=1), mixture(3_000, 17, seed=2)
    labels = np.random.default_rng(3).integers(0, 5, len(R))
    tree = votes(search="tree", R=R, labels=labels, k=3)
    nearest = tree.query(X[:500], 1)[0][:, 0]
    threshold = float(np.quantile(nearest, 0.9))
    tree = votes(search="tree", R=R, labels=labels, k=3, atypical_threshold=threshold)
    auto = votes(search="auto", R=R, labels=labels, k=3, atypical_threshold=threshold)
    assert auto.screens and not tree.screens
    got, want = auto.assign(X), tree.assign(X)
    assert_same_assignment(got, want, distance_rtol=1e-15)
    assert 0.05 < got.atypical.mean() < 0.2  # the flag is exercised, not all False
    # the vote over the screen's neighbours is the module's vote, tie rule included
    _, ind = auto.query(X)
    codes, share = vote(auto.codes[ind], len(auto.classes))
    assert np.array_equal(got.labels, auto.classes[codes])
    assert np.array_equal(got.confidence, share)


def test_duplicate_reference_points_and_exact_ties_resolve_to_the_lowest_index():
    base = np.eye(9)  # nine points at the same distance from the origin
    R = np.vstack([base, base, np.full((1, 9), 5.0)])  # each twice, and one far away
    labels = np.array([0] * 9 + [1] * 9 + [2])
    screen = votes(search="screen", R=R, labels=labels, k=4)
    dist, ind = screen.query(np.zeros((3, 9)))
    assert ind.tolist() == [[0, 1, 2, 3]] * 3
    assert np.array_equal(dist, np.ones((3, 4)))


@pytest.mark.parametrize("m", [1, 2, 3, 7, 33])
def test_tiny_reference_sets_lower_the_neighbours(m):
    rng = np.random.default_rng(m)
    R = rng.normal(size=(m, 17))
    labels = np.arange(m) % 2
    X = rng.normal(size=(50, 17))
    screen = votes(search="screen", R=R, labels=labels, k=10)
    dist, ind = screen.query(X)
    want_dist, want_ind = reference_neighbours(X, R, min(10, m))
    assert ind.shape == (50, min(10, m))
    assert np.array_equal(ind, want_ind)
    np.testing.assert_allclose(dist, want_dist, rtol=1e-14, atol=0)


def test_rows_too_far_for_float32_go_to_the_tree_and_come_back_in_place():
    rng = np.random.default_rng(5)
    R = rng.normal(size=(500, 17))
    labels = rng.integers(0, 3, 500)
    X = rng.normal(size=(300, 17))
    X[7] = 1e17  # would overflow float32 products
    X[40] = 3e5  # far beyond the reference radius: the margin would be too wide
    X[41, 3] = -1e300
    tree = votes(search="tree", R=R, labels=labels, k=3)
    screen = votes(search="screen", R=R, labels=labels, k=3)
    t_dist, t_ind = tree.query(X)
    s_dist, s_ind = screen.query(X)
    assert np.array_equal(s_ind, t_ind)
    np.testing.assert_allclose(s_dist, t_dist, rtol=1e-15, atol=0)


def test_large_coordinates_within_float32_and_the_padding_rows():
    """Coordinates near the screen's limit (1e11): the padding that fills the last tile
    (200 points in a tile of 224) stays above every real value, never a neighbour."""
    rng = np.random.default_rng(8)
    R = rng.normal(size=(200, 17)) * 1e11
    X = R[:50] + rng.normal(size=(50, 17)) * 1e9
    screen = votes(search="screen", R=R, labels=np.zeros(200, int), k=5)
    assert len(screen.query(X[:1])[1][0]) == 5 and screen._screen.usable
    assert len(screen._screen.rows) > len(R)
    dist, ind = screen.query(X)
    want_dist, want_ind = reference_neighbours(X, R, 5)
    assert np.array_equal(ind, want_ind)
    np.testing.assert_allclose(dist, want_dist, rtol=1e-13, atol=0)


def test_a_reference_set_beyond_float32_is_left_to_the_tree():
    R = np.random.default_rng(0).normal(size=(200, 9)) * 1e20
    screen = votes(search="screen", R=R, labels=np.zeros(200, int), k=2)
    X = R[:10] * 0.5
    assert np.array_equal(screen.query(X)[1], reference_neighbours(X, R, 2)[1])
    assert screen._screen is not None and not screen._screen.usable


# ---------------------------------------------------------------- what the search is for


def test_auto_keeps_the_tree_below_the_feature_threshold():
    rng = np.random.default_rng(0)
    for d, screens in [(3, False), (SCREEN_MIN_FEATURES - 1, False),
                       (SCREEN_MIN_FEATURES, True), (17, True)]:
        assert votes(search="auto", R=rng.normal(size=(50, d)), labels=np.zeros(50, int),
                     k=3).screens is screens
    with pytest.raises(ValueError, match="search must be auto, tree or screen"):
        votes(search="ball", R=rng.normal(size=(5, 2)), labels=np.zeros(5, int), k=1)


def test_threads_blocks_and_the_memo_change_nothing():
    """Many blocks on several threads or one; distinct rows and a memo across batches."""
    R = skewed_table(2_000, seed=4)
    labels = np.random.default_rng(0).integers(0, 4, len(R))
    probe = skewed_table(6_000, seed=5).round(1)  # rounded: many repeated rows
    probe = np.vstack([probe, probe[:6_000]])  # 12,000 rows: deduplicated
    one = votes(search="screen", R=R, labels=labels, k=3, workers=1)
    many = votes(search="screen", R=R, labels=labels, k=3, workers=4)
    assert len(probe) > 10 * BlockScreen(R, fallback=None).block
    direct = one.assign_rows(probe)
    assert_same_assignment(many.assign_rows(probe), direct)
    assert_same_assignment(many.assign(probe), direct)
    memo = AssignmentMemo(limit=4_000)
    batched = [many.assign(part, memo) for part in np.array_split(probe, 5)]
    for name in FIELDS:
        assert np.array_equal(np.concatenate([getattr(b, name) for b in batched]),
                              getattr(direct, name)), name
    assert 0 < len(memo) <= 4_000
    tree = votes(search="tree", R=R, labels=labels, k=3)
    assert_same_assignment(direct, tree.assign_rows(probe), distance_rtol=1e-15)


def test_the_screen_keeps_its_memory_to_a_block_of_products():
    """A block's products are reference × block float32 (at most 32 MB a thread); the
    whole distance matrix never exists."""
    R = mixture(20_000, 17, seed=1)
    X = mixture(4_000, 17, seed=2)
    screen = BlockScreen(R, fallback=None)
    assert len(screen.rows) * screen.block <= BlockScreen.BLOCK_FLOATS
    tracemalloc.start()
    screen.query(X, 3, workers=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    full = len(X) * len(R) * 4  # the whole float32 matrix: 320 MB
    assert peak < 60 * 2**20 < full


def test_neighbours_closer_than_float32_can_tell_are_told_apart():
    """Reference points spread over a radius of thousands, each query with two
    candidates in different directions, 1.0 and 1.0 + 1e-7 away: float32 cannot order
    them (its step in the screened value is about 0.25 there), so only the rounding
    margin and the float64 refinement get the nearest right — the nearer one is given
    the larger index, so no tie rule hides an error."""
    rng = np.random.default_rng(11)
    d, pairs = 17, 400
    spread = rng.normal(size=(2_000, d)) * 2_000
    X = rng.normal(size=(pairs, d)) * 500

    def unit() -> np.ndarray:
        u = rng.normal(size=(pairs, d))
        return u / np.linalg.norm(u, axis=1, keepdims=True)

    farther = X + unit() * (1.0 + 1e-7)
    nearer = X + unit()
    R = np.vstack([spread, farther, nearer])  # the nearer ones last
    screen = votes(search="screen", R=R, labels=np.zeros(len(R), int), k=1)
    dist, ind = screen.query(X)
    assert np.array_equal(ind[:, 0], len(spread) + pairs + np.arange(pairs))
    np.testing.assert_allclose(dist[:, 0], 1.0, rtol=1e-12)
    _, ind2 = screen.query(X, 2)
    assert np.array_equal(ind2[:, 1], len(spread) + np.arange(pairs))


@pytest.mark.parametrize("search", ["tree", "screen"])
@pytest.mark.parametrize("d", [3, 17])
def test_rows_whose_squared_distance_overflows_get_the_neighbours_of_their_direction(search, d):
    """At 1e200 the squared distance is past float64: the tree found no neighbour and
    returned the index one past the last point (score and predict exited 1). Far out,
    the nearest points are those furthest along the row's direction; ranked without
    squaring, they are the ones the same row scaled down by 1e190 finds."""
    rng = np.random.default_rng(d)
    points = rng.normal(size=(400, d))
    labels = rng.integers(0, 4, 400)
    vote_ = NeighbourVote(points, labels, 3, atypical_threshold=5.0, search=search)
    direction = rng.normal(size=(6, d))
    far = direction * 1e200
    dist, ind = vote_.query(far)
    _, expected = reference_neighbours(direction * 1e10, points, 3)
    assert (ind == expected).all() and (ind < len(points)).all()
    norm = np.linalg.norm(direction, axis=1) * 1e200
    assert np.allclose(dist[:, 0], norm, rtol=1e-6)
    placed = vote_.assign(np.vstack([far, points[:2], np.full((1, d), -1e300)]))
    assert placed.atypical.tolist() == [True] * 6 + [False, False, True]
    assert np.isin(placed.labels, labels).all()
