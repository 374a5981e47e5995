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


def available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def threads_per_worker(n_jobs: int) -> int:
    return max(1, available_cores() // max(1, n_jobs))


def limit_library_threads(n_threads: int, scoped: bool = False):
    """Limit BLAS/OpenMP threads of the calling thread to ``n_threads``.

    With ``scoped=True``, return a context manager restoring the previous
    limits on exit (no-op when the limit is the whole machine).
    """
    if scoped:
        if n_threads >= available_cores():
            return contextlib.nullcontext()
        return threadpool_limits(limits=n_threads)
    threadpool_limits(limits=n_threads)
    return None
