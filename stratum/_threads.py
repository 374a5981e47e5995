"""The number of threads a native kernel may use in the calling thread.

The runtime gives each worker a share of the machine's cores (see
``runtime.budget``) and records it here; stratum's Rust kernels size their
rayon pools from it, so task parallelism and kernel threads never add up to
more busy threads than cores. Outside the runtime the budget is every core.
"""

from __future__ import annotations

import contextlib
import os
import threading

_local = threading.local()


def available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def thread_budget() -> int:
    """Threads the calling thread's kernels may use (at least 1)."""
    return getattr(_local, "n_threads", None) or available_cores()


def set_thread_budget(n_threads: int | None) -> None:
    """Set the calling thread's budget (None: every core)."""
    _local.n_threads = None if n_threads is None else max(1, int(n_threads))


@contextlib.contextmanager
def thread_budget_scope(n_threads: int | None):
    """Temporarily set the calling thread's budget."""
    previous = getattr(_local, "n_threads", None)
    set_thread_budget(n_threads)
    try:
        yield
    finally:
        _local.n_threads = previous
