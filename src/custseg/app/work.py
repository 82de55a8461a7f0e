"""Long fits: estimated before they start, run in a worker thread, cancellable.

A fit estimated to take more than :func:`live_budget` seconds (two by default) is not
run on every move of a control: the changes wait for the sidebar's Apply button, which
says the estimate, and the fit then runs in a worker thread while the page keeps
showing the previous segmentation, with a progress bar and a Cancel button in the main
area. Streamlit stops a script only at its next ``st`` call, so a fit in the script's
own thread could not be cancelled half-way; a worker thread cannot be stopped either,
so Cancel abandons it: the previous segmentation stays, and the abandoned fit's result,
when it comes, is never shown (it only warms the fit cache, so applying the very same
settings again later finds it done).

The estimate (:func:`estimate`): the registry's own estimate of the clusterer's fit
(:meth:`~custseg.cluster.algorithms.AlgorithmSpec.duration`, on the rows the clusterer
sees) plus :data:`REST_S_PER_ROW` seconds per customer for the rest of a fit (the
assigner, metrics, rules, profiles), scaled as the registry scales for width. On the
machine custseg is developed on (2 shared cores, busy), the 200,000-customer demo
measured 2.5 to 7 s a fit for every algorithm (estimated 3.5 to 7.4 s); at 20,000
customers HDBSCAN and hierarchical clustering took 7 and 10 s (estimated 2.6 and 3.0:
they wait for Apply) and the others stay live. K-Prototypes' registry estimate counts
every iteration, so it waits even on 2,000 customers (5.4 s estimated, 1.1 s measured).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from custseg.errors import CustsegError

#: The worker thread's name; Streamlit's caches log that such a thread has no script
#: context on every call, which is expected here (it draws nothing): not logged.
THREAD_NAME = "custseg-fit"


class _NoContextNote(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != THREAD_NAME or "ScriptRunContext" not in record.getMessage()


logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
    _NoContextNote())

#: Seconds a fit may be estimated to take and still follow every move of a control.
LIVE_FIT_SECONDS = 2.0
#: Environment variable that sets :data:`LIVE_FIT_SECONDS` (0: every fit waits for Apply).
LIVE_ENV = "CUSTSEG_LIVE_FIT_SECONDS"
#: Seconds per customer of a fit beyond the clusterer's own (three features; measured
#: on the 200,000-customer demo: 1.4 to 3.6 s beyond the registry's estimate).
REST_S_PER_ROW = 1e-5
#: Rows the estimate encodes to measure the clustering space (its width, distances).
ESTIMATE_ROWS = 5_000


def live_budget() -> float:
    """:data:`LIVE_FIT_SECONDS`, or the number in ``CUSTSEG_LIVE_FIT_SECONDS``."""
    text = os.environ.get(LIVE_ENV, "").strip()
    if not text:
        return LIVE_FIT_SECONDS
    try:
        value = float(text)
    except ValueError:
        return LIVE_FIT_SECONDS
    return value if math.isfinite(value) and value >= 0 else LIVE_FIT_SECONDS


def estimate(values, config) -> float | None:
    """Seconds a fit of ``config`` on the valid rows ``values`` will take, or None when
    it cannot be told (the fit itself then says what is wrong, at once)."""
    from custseg.cluster.algorithms import get_algorithm
    from custseg.cluster.features import fit_encoding
    from custseg.model.segmentation import fitted_transforms

    try:
        cfg = config.resolved()
        spec = get_algorithm(cfg.algorithm)
        n = len(values)
        if n == 0:
            return None
        sample = values.sample(min(n, ESTIMATE_ROWS), random_state=0) if n > ESTIMATE_ROWS \
            else values
        encoding = fit_encoding(sample, cfg.features, cfg.use_gender,
                                fitted_transforms(sample, cfg), cfg.categorical)
        X = encoding.transform(sample)
        if not np.isfinite(X).all():
            return None
        cap = cfg.sample_size if isinstance(cfg.sample_size, int) else spec.fit_sample
        rows = min(n, cap or n)
        timing = spec.duration(X, cfg.params, rows=rows)
        clusterer = timing.seconds if timing is not None else 0.0
        wide = max(1.0, X.shape[1] / 3) ** 0.5
        return float(clusterer + REST_S_PER_ROW * n * wide)
    except (CustsegError, ValueError, KeyError, TypeError):
        return None


@dataclass(eq=False)
class Job:
    """One fit running in a worker thread for the settings ``ident``.

    ``cancelled`` is set by Cancel; the thread then runs to its end (a thread cannot be
    stopped) and its result is dropped.
    """

    ident: tuple
    seconds: float
    rows: int
    started: float = field(default_factory=time.monotonic)
    result: Any = None
    error: BaseException | None = None
    cancelled: bool = False
    thread: threading.Thread | None = None
    _done: threading.Event = field(default_factory=threading.Event)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def progress(self) -> float:
        """A share of the estimate, short of 1 until the fit has ended."""
        if self.done:
            return 1.0
        return min(0.95, self.elapsed / max(self.seconds, 0.1))


def start(ident: tuple, seconds: float, rows: int, run, *args) -> Job:
    """``run(*args)`` in a daemon thread, as a :class:`Job` for ``ident``."""
    job = Job(ident, seconds, rows)

    def target() -> None:
        try:
            job.result = run(*args)
        except BaseException as exc:  # kept for the script thread, which shows it
            job.error = exc
        finally:
            job._done.set()

    job.thread = threading.Thread(target=target, name=THREAD_NAME, daemon=True)
    job.thread.start()
    return job
