"""One CPU budget for task parallelism and the libraries' own threads.

With ``n_jobs`` worker threads on ``cores`` cores, each worker lets BLAS and
OpenMP (scikit-learn, LightGBM, XGBoost) use ``cores // n_jobs`` threads, so
there are never more busy threads than cores. OpenMP's thread count is a
per-thread setting, hence the limit is applied in each worker when it starts.
"""

from __future__ import annotations

import contextlib
import os

from threadpoolctl import threadpool_limits

from .._threads import available_cores, set_thread_budget, thread_budget_scope


def threads_per_worker(n_jobs: int) -> int:
    return max(1, available_cores() // max(1, n_jobs))


def _openmp_limit() -> int | None:
    """``OMP_NUM_THREADS`` as the user set it (its first level), if any."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def library_threads(n_threads: int) -> int:
    """The BLAS/OpenMP threads of a worker given ``n_threads`` cores: never
    more than the user's ``OMP_NUM_THREADS``."""
    limit = _openmp_limit()
    return n_threads if limit is None else min(n_threads, limit)


def limit_library_threads(n_threads: int, scoped: bool = False):
    """Limit BLAS/OpenMP threads (and no more than ``OMP_NUM_THREADS``), and
    stratum's kernels, of the calling thread to ``n_threads``.

    With ``scoped=True``, return a context manager restoring the previous
    limits on exit.
    """
    if scoped:
        return _scoped_limits(n_threads)
    set_thread_budget(n_threads)
    threadpool_limits(limits=library_threads(n_threads))
    return None


@contextlib.contextmanager
def _scoped_limits(n_threads: int):
    with thread_budget_scope(n_threads):
        if n_threads >= available_cores():
            yield
        else:
            with threadpool_limits(limits=library_threads(n_threads)):
                yield
