"""The number of threads a native kernel may use in the calling thread.

The runtime gives each worker a share of the machine's cores (see
``runtime.budget``) and records it here; stratum's Rust kernels size their
rayon pools from it, so task parallelism and kernel threads never add up to
more busy threads than cores. Outside the runtime the budget is every core.
This module is the one place that counts cores.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
from pathlib import Path

_local = threading.local()


def available_cores() -> int:
    """The cores this process may use: its CPU affinity, capped by a CPU quota
    of its cgroup (a container given 2 CPUs on a 64-core host gets 2)."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0)) or 1
    else:
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))


@functools.cache
def cgroup_cpu_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """CPUs allowed by the cgroup CPU quota (v2 ``cpu.max``, v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), or None when unlimited."""
    base = Path(root)
    try:
        quota, period = (base / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    for folder in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        try:
            quota = int((base / folder / "cpu.cfs_quota_us").read_text())
            period = int((base / folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return None if quota <= 0 or period <= 0 else quota / period
    return None


def effective_n_jobs(n_jobs: int | None) -> int:
    """scikit-learn's convention: None -> 1, -1 -> all cores, -2 -> all but one."""
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, available_cores() + 1 + n_jobs)
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning")
    return int(n_jobs)


def thread_budget() -> int:
    """Threads the calling thread's kernels may use (at least 1): the runtime's
    share for this thread, else every core, capped by ``STRATUM_NUM_THREADS``."""
    budget = getattr(_local, "n_threads", None) or available_cores()
    cap = os.environ.get("STRATUM_NUM_THREADS", "").strip()
    return min(budget, max(1, int(cap))) if cap.isdigit() else budget


def runtime_budget() -> int | None:
    """The calling thread's budget if the runtime set one (a worker, a task),
    else None."""
    return None if getattr(_local, "n_threads", None) is None else thread_budget()


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
