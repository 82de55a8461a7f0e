"""Issue 14's adversarial pass: the degenerate-fit warnings name the algorithm by its
registry label, as every other human text does ("K-Means", not "kmeans")."""

from __future__ import annotations

import numpy as np

from custseg.cluster.algorithms import get_algorithm
from custseg.cluster.labels import NOISE
from custseg.cluster.segmenter import degenerate_warnings


def test_degenerate_warnings_name_the_algorithm_by_its_label():
    many = np.repeat(np.arange(30), 4)  # 30 segments of 4: too many, too small
    said = degenerate_warnings(many, get_algorithm("kmeans"))
    assert said[0].startswith("K-Means found 30 segments, more than 20")
    assert said[1].startswith("K-Means: 30 segments hold fewer than 5 customers (too few to "
                              "act on; the smallest: 4, 4, 4, 4, 4 …)")
    share = degenerate_warnings(np.repeat(np.arange(3), [1000, 990, 12]), get_algorithm("kmeans"))
    assert share == ["K-Means: 1 segment holds fewer than 21 customers (1% of the customers; "
                     "its size: 12): " + get_algorithm("kmeans").fix_for("fine") + "."]
    noise = degenerate_warnings(np.full(50, NOISE), get_algorithm("hdbscan"))
    assert noise[0].startswith("HDBSCAN put every customer in noise")
    single = degenerate_warnings(np.zeros(50, dtype=int), get_algorithm("dbscan"))
    assert single[0].startswith("DBSCAN found a single segment")
