"""How many threads the native code of a fit may use.

scikit-learn's K-Means, its pairwise distances and the BLAS under the Gaussian mixture run
parallel loops (OpenMP, OpenBLAS) that synchronise their threads many times per fit. On a
machine whose cores are busy with other work, every synchronisation waits for a thread
that is not running: a K-Means fit of 2,000 customers measured 0.04 s on one thread and
1–6 s on two, on a two-core machine shared with other processes; 200,000 customers took
1.0 s on one thread and 4.7 s on two. custseg's fits are sized (by their samples and the
time estimate of :mod:`custseg.cluster.algorithms`) to be quick on one core, so their
native code runs on :data:`FIT_THREADS` threads: the same speed on an idle machine within
a factor of the cores, and no collapse on a busy one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

#: Threads the native libraries (OpenMP, BLAS) may use inside a fit, its metrics, its
#: stability refits and the suggestions; None leaves them at their own default (every
#: core). The assigner's neighbour searches are not affected: the cKDTree's queries do
#: not synchronise, and the many-feature screen runs its own threads, BLAS on one each.
FIT_THREADS: int | None = 1


@contextmanager
def fit_threads() -> Iterator[None]:
    """Within the block (or the decorated function), native thread pools use at most
    :data:`FIT_THREADS` threads; nested uses are harmless."""
    if FIT_THREADS is None:
        yield
        return
    # scikit-learn's clusterers load the OpenMP runtime on import; a limit reaches only
    # the libraries already loaded
    import sklearn.cluster  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=FIT_THREADS):
        yield
