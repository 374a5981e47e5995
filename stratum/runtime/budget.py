"""One CPU budget for task parallelism and the libraries' own threads.

With ``n_jobs`` worker threads on ``cores`` cores, each worker lets BLAS and
OpenMP (scikit-learn, LightGBM, XGBoost) use ``cores // n_jobs`` threads, so
there are never more busy threads than cores. OpenMP's thread count is a
per-thread setting, hence the limit is applied in each worker when it starts.
"""

from __future__ import annotations

import contextlib

from threadpoolctl import threadpool_limits

from .._threads import available_cores, set_thread_budget, thread_budget_scope


def threads_per_worker(n_jobs: int) -> int:
    return max(1, available_cores() // max(1, n_jobs))


def limit_library_threads(n_threads: int, scoped: bool = False):
    """Limit BLAS/OpenMP threads, and stratum's kernels, of the calling thread
    to ``n_threads``.

    With ``scoped=True``, return a context manager restoring the previous
    limits on exit.
    """
    if scoped:
        return _scoped_limits(n_threads)
    set_thread_budget(n_threads)
    threadpool_limits(limits=n_threads)
    return None


@contextlib.contextmanager
def _scoped_limits(n_threads: int):
    with thread_budget_scope(n_threads):
        if n_threads >= available_cores():
            yield
        else:
            with threadpool_limits(limits=n_threads):
                yield
