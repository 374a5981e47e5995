"""The parallel, memory-bounded runtime against the sequential one, end to end."""

import io
import time

import numpy as np
import pipelines as P
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

import stratum
from stratum.runtime import Progress

GRID_SAMPLE = [
    "hp_tv_ridge",
    "hp_tv_hgb",
    "hp_model_dict_choice",
    "hp_optional_scaler",
    "hp_lgbm",
    "hp_imputer_scaler_choices",
]


def batch():
    return {name: P.build(name) for name in GRID_SAMPLE}


def scores(res):
    table = res.results_.sort_values(["pipeline", "_candidate"])
    return table["mean_test_score"].to_numpy()


@pytest.fixture(scope="module")
def seq():
    return stratum.search(batch(), cv=3, refit=False, n_jobs=1)


def test_threads_give_the_sequential_results(seq):
    # conftest pins BLAS/OpenMP to one thread, the per-task budget of n_jobs=2
    # on this machine: numerically the same environment for every task.
    par = stratum.search(batch(), cv=3, refit=False, n_jobs=2)
    np.testing.assert_array_equal(scores(seq), scores(par))
    assert par.stats_["thread"].str.startswith("stratum").any()
    assert (par.results_["status"] == "ok").all()


def test_spilling_under_a_tiny_budget_is_exact_and_holds_less(seq):
    full = seq
    tiny = stratum.search(batch(), cv=3, refit=False, memory_budget="50KB")
    np.testing.assert_array_equal(scores(full), scores(tiny))
    assert tiny._batch.driver.store.spilled > 0
    assert tiny._batch.driver.store.peak_bytes < full._batch.driver.store.peak_bytes
    assert "spilled to disk" in tiny.explain()


def test_the_budget_counts_the_process_resident_set(seq):
    """A budget the batch's own values stay under, but the process's resident
    set does not: values are spilled all the same (the budget is the
    process's), and the scores do not change."""
    from stratum.runtime import heap

    budget = heap.rss()  # the process already holds this much
    assert budget > 10 * seq._batch.driver.store.peak_bytes
    res = stratum.search(batch(), cv=3, refit=False, n_jobs=2, memory_budget=budget)
    store = res._batch.driver.store
    assert store.peak_bytes < budget and store.spilled > 0
    np.testing.assert_array_equal(scores(seq), scores(res))


class SlowRegressor(RegressorMixin, BaseEstimator):
    def __init__(self, seconds=1.0):
        self.seconds = seconds

    def fit(self, X, y):
        time.sleep(self.seconds)
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def _numeric(X):
    return P.numeric_only(X).skb.apply(SimpleImputer())


def _with_model(model):
    X, y = P.house_xy()
    return _numeric(X).skb.apply(StandardScaler()).skb.apply(model, y=y)


def test_configuration_timeout_marks_only_the_slow_configuration():
    res = stratum.search(
        {"slow": _with_model(SlowRegressor(0.6)), "fast": _with_model(Ridge())},
        cv=3,
        refit=False,
        config_timeout=1.0,
    )
    by_name = res.results_.set_index("pipeline")
    assert by_name.loc["slow", "status"] == "timeout"
    assert "timeout" in by_name.loc["slow", "error"]
    assert by_name.loc["fast", "status"] == "ok"
    assert np.isfinite(by_name.loc["fast", "mean_test_score"])


class FoldFailScaler(StandardScaler):
    """Fits on the full data (previews) but raises on cross-validation folds."""

    calls = 0

    def fit(self, X, y=None, **kw):
        FoldFailScaler.calls += 1
        if len(X) < P.N_HOUSES:
            raise ValueError("shared step broke")
        return super().fit(X, y, **kw)


def test_shared_prefix_failure_fails_exactly_its_dependants():
    def shared(model):
        X, y = P.house_xy()
        return _numeric(X).skb.apply(FoldFailScaler()).skb.apply(model, y=y)

    pipelines = {
        "a": shared(Ridge()),
        "b": shared(Ridge(alpha=10.0)),
        "c": _with_model(Ridge()),
    }
    FoldFailScaler.calls = 0
    res = stratum.search(pipelines, cv=3, refit=False, n_jobs=2)
    by_name = res.results_.set_index("pipeline")
    for name in ("a", "b"):
        assert by_name.loc[name, "status"] == "error"
        assert "FoldFailScaler" in by_name.loc[name, "error"]
        assert "shared step broke" in by_name.loc[name, "error"]
    assert by_name.loc["c", "status"] == "ok"
    assert FoldFailScaler.calls == 3  # the shared step ran once per fold
    stats = res.stats_
    assert (stats["status"] == "skipped").any()
    assert (
        not stats[stats["label"].str.contains("FoldFailScaler")]["status"]
        .eq("ok")
        .any()
    )


def test_stats_have_sizes_and_heavy_hitters(seq):
    res = seq
    stats = res.stats_
    assert {"seconds", "nbytes", "status", "how", "thread"} <= set(stats.columns)
    assert (stats["nbytes"] > 0).any()
    assert "where time went" in res.explain()


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_line_on_a_terminal_after_the_delay():
    out = FakeTTY()
    p = Progress(3, enabled=True, delay=0.0, stream=out)
    for status in ("ok", "error", "ok"):
        p.update(status, 2**20)
    p.close()
    text = out.getvalue()
    assert text.startswith("\r[stratum] [") and text.endswith("\n")
    assert "3/3 tasks" in text and "1 failed" in text
    quiet = FakeTTY()
    p = Progress(3, enabled=True, delay=60.0, stream=quiet)
    p.update("ok")
    assert quiet.getvalue() == ""
    off = FakeTTY()
    p = Progress(3, enabled=False, delay=0.0, stream=off)
    p.update("ok")
    assert off.getvalue() == ""


def test_progress_lines_in_a_log_every_interval():
    log = io.StringIO()  # not a terminal: whole lines, at most every interval
    p = Progress(4, enabled=True, delay=0.0, stream=log, interval=0.0)
    for status in ("ok", "ok", "error", "ok"):
        p.update(status)
    p.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 4 and "\r" not in log.getvalue()
    assert lines[0].startswith("[stratum] 1/4 tasks, 0 failed")
    assert lines[-1].startswith("[stratum] 4/4 tasks, 1 failed")
    slow = io.StringIO()
    p = Progress(4, enabled=True, delay=0.0, stream=slow, interval=60.0)
    p.update("ok")
    p.update("ok")
    assert slow.getvalue() == ""  # the first line comes after the interval
    p.update("ok")
    p.update("ok")
    assert slow.getvalue() == ""  # a batch shorter than the interval: silent


def test_library_threads_never_exceed_the_users_openmp_setting(monkeypatch):
    from stratum.runtime.budget import library_threads, threads_per_worker

    cores = threads_per_worker(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert library_threads(cores) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3,1")  # nested levels: the first
    assert library_threads(2) == 2 and library_threads(8) == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert library_threads(cores) == cores
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    res = stratum.search({"a": P.build("hp_tv_ridge")}, cv=2, refit=False, n_jobs=1)
    assert "on 1 worker(s), 1 library thread(s) per task" in res.explain()


@pytest.mark.parametrize(
    "files, cpus",
    [
        ({"cpu.max": "200000 100000\n"}, 2.0),  # cgroup v2
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        (
            {
                "cpu,cpuacct/cpu.cfs_quota_us": "300000",
                "cpu,cpuacct/cpu.cfs_period_us": "100000",
            },
            3.0,
        ),
        ({}, None),  # no cgroup file system
    ],
)
def test_cgroup_cpu_quota(tmp_path, files, cpus):
    from stratum._threads import cgroup_cpu_quota

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_quota(str(tmp_path)) == cpus


def test_available_cores_honour_a_cgroup_quota(monkeypatch):
    import os

    from stratum import _threads
    from stratum._threads import effective_n_jobs

    affinity = len(os.sched_getaffinity(0))
    monkeypatch.setattr(_threads, "cgroup_cpu_quota", lambda: None)
    assert _threads.available_cores() == affinity
    assert effective_n_jobs(-1) == affinity
    monkeypatch.setattr(_threads, "cgroup_cpu_quota", lambda: 0.5)
    assert _threads.available_cores() == 1 and effective_n_jobs(-1) == 1
    monkeypatch.setattr(_threads, "cgroup_cpu_quota", lambda: 1000.0)
    assert _threads.available_cores() == affinity  # never above the affinity
