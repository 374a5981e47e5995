"""LightGBM's thread team, sized by the worker's share, recorded as a direct
fit records it.

LightGBM does not follow OpenMP's per-thread setting: its scikit-learn
estimators turn ``n_jobs=None`` into the number of physical cores (and a
negative ``n_jobs`` into a count of logical ones) and start that many
threads. In a stratum worker that would put as many threads on every core as
there are workers, and, next to a busy core, teams that spin waiting for the
thread the other process displaces. So, once installed, an ``n_jobs`` that
LightGBM would size from the machine gets the calling thread's share when the
runtime set one (``_threads.runtime_budget``) and it is smaller; LightGBM's
results do not depend on it (``benchmarks/thread_invariance.py``). The model
records the threads it was trained with; the booster is given back the
count a direct fit records, so that its saved model and ``params`` are the
same. Everywhere else (no share set: user code, plain skrub) LightGBM runs
as it would.
"""

from __future__ import annotations

import threading

from .._threads import runtime_budget

_local = threading.local()
_install_lock = threading.Lock()


def install() -> None:
    """Route ``LGBMModel``'s thread count and ``lightgbm.sklearn.train``
    through this module (once)."""
    import lightgbm.sklearn as module

    with _install_lock:
        model = module.LGBMModel
        if getattr(model._process_n_jobs, "_stratum", False):
            return
        own_count, own_train = model._process_n_jobs, module.train

        def _process_n_jobs(self, n_jobs):
            n = own_count(self, n_jobs)
            budget = runtime_budget()
            used = n
            if (n_jobs is None or n_jobs < 0) and budget is not None:
                used = max(1, min(n, budget))
            _local.counts = (n, used)  # read by the fit's ``train`` next
            return used

        def train(*args, **kwargs):
            counts = getattr(_local, "counts", None)
            _local.counts = None
            booster = own_train(*args, **kwargs)
            if counts is None or counts[0] == counts[1]:
                return booster
            return _as_recorded(booster, *counts)

        _process_n_jobs._stratum = True
        _process_n_jobs.__wrapped__ = own_count
        train.__wrapped__ = own_train
        model._process_n_jobs = _process_n_jobs
        module.train = train


def _as_recorded(booster, recorded: int, used: int):
    """``booster`` saying it was trained with ``recorded`` threads."""
    import lightgbm

    text = booster.model_to_string()
    text = text.replace(f"[num_threads: {used}]", f"[num_threads: {recorded}]", 1)
    fixed = lightgbm.Booster(model_str=text)
    fixed.params = {**booster.params, "num_threads": recorded}
    fixed.best_iteration = booster.best_iteration
    fixed.best_score = booster.best_score
    return fixed
