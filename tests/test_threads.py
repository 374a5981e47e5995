"""Results do not depend on ``n_jobs``: steps whose results depend on their
thread count are pinned to the caller's library threads (``lower.threads``),
and the scheduler runs them with those threads, holding as many slots."""

from __future__ import annotations

import threading
import time

import numpy as np
import pipelines as P
import pytest
import skrub
from lightgbm import LGBMRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

import stratum
from stratum._threads import available_cores, thread_budget
from stratum.kernels import StringEncoder as NativeStringEncoder
from stratum.lower import Task
from stratum.lower.threads import pinning
from stratum.runtime import Scheduler, Store

pytestmark = pytest.mark.stratum_only


# -- which steps are pinned ------------------------------------------------------


def test_thread_sensitive_estimators_are_found_at_any_depth():
    assert pinning([Ridge()]).startswith("Ridge: ")
    assert pinning([HistGradientBoostingRegressor(), StandardScaler()]) is None
    # stratum's kernel subclasses skrub's StringEncoder
    assert pinning([NativeStringEncoder()]).startswith("StringEncoder: ")
    # the lbfgs default measured identical; newton-cholesky and choices are not
    assert pinning([LogisticRegression()]) is None
    assert pinning([LogisticRegression(solver="newton-cholesky")]) is not None


def _tasks_by_label(res) -> dict:
    out: dict = {}
    for task in res._batch.driver.lowering.tasks.values():
        label = task.label if task.kind == "node" else "score"
        out.setdefault(label, set()).add(task.threads is not None)
    return out


def test_pinned_steps_in_a_batch_and_in_explain():
    X, y = P.house_xy(log_target=True)
    tv = skrub.TableVectorizer(high_cardinality=P.string_encoder())
    X = X.skb.apply(tv).skb.apply(SimpleImputer())
    models = skrub.choose_from(
        {
            "ridge": make_pipeline(StandardScaler(), Ridge()),
            "hgb": HistGradientBoostingRegressor(max_iter=5),
        },
        name="model",
    )
    res = stratum.search({"p": X.skb.apply(models, y=y)}, cv=2, refit=False)
    tasks = _tasks_by_label(res)
    # the StringEncoder inside the TableVectorizer, the Ridge inside a Pipeline
    assert tasks["<Apply TableVectorizer>"] == {True}
    assert tasks["<Apply SimpleImputer>"] == {False}
    assert tasks["<Apply Pipeline>"] == {True}
    assert tasks["<Apply HistGradientBoostingRegressor>"] == {False}
    assert tasks["score"] == {True, False}  # Ridge's predictions, HGB's
    text = res.explain()
    assert "pinned steps" in text
    assert "<Apply TableVectorizer>: StringEncoder: randomized SVD" in text
    assert "<Apply Pipeline>: Ridge: " in text
    stats = res.stats_
    tv_rows = stats[stats["label"] == "<Apply TableVectorizer>"]
    assert len(tv_rows) and tv_rows["pinned"].all()


def test_control_flow_is_pinned_by_its_branches():
    # the chosen branch is fitted inside the if_else's own task
    X, y = P.house_xy()
    X = P.numeric_only(X).skb.apply(SimpleImputer())
    ridge = X.skb.apply(Ridge(), y=y)
    hgb = X.skb.apply(HistGradientBoostingRegressor(max_iter=5), y=y)
    pred = skrub.var("use_ridge", True).skb.if_else(ridge, hgb)
    text = stratum.explain([pred], cv=2)  # lowered, not run
    assert "branch <Apply Ridge>: Ridge: " in text


# -- the scheduler runs them with the caller's threads ----------------------------


def _blas_threads() -> int:
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_pinned_tasks_get_the_callers_threads_and_hold_every_slot():
    np.ones(10) @ np.ones(10)  # BLAS loaded
    cores = available_cores()
    running: list = []
    seen: dict = {}
    overlaps: list = []
    lock = threading.Lock()

    def probe(name):
        def fn(store):
            with lock:
                overlaps.append((name, tuple(running)))
                running.append(name)
            seen[name] = (_blas_threads(), thread_budget())
            time.sleep(0.05)
            with lock:
                running.remove(name)
            return name

        return fn

    tasks = {}
    for i in range(6):
        key = (f"t{i}",)
        pinned = "Ridge: why" if i % 2 == 0 else None
        tasks[key] = Task(key=key, fn=probe(key[0]), label="t", threads=pinned)
    with threadpool_limits(cores):
        Scheduler(n_jobs=2).run(tasks, store := Store())
        after = _blas_threads()
    assert all(store.get(k) == k[0] for k in tasks)
    share = max(1, cores // 2)
    for i in range(6):
        blas, budget = seen[f"t{i}"]
        assert (blas, budget) == ((cores, cores) if i % 2 == 0 else (share, share))
    if cores > 1:  # a pinned task holds both slots: it never runs beside another
        for name, others in overlaps:
            pinned = int(name[1:]) % 2 == 0
            assert not others if pinned else all(int(o[1:]) % 2 for o in others)
    assert after == cores  # the run gave the process its BLAS threads back
    schedule = store.schedules[-1]
    assert schedule["pinned_tasks"] == 3 and schedule["pinned_threads"] == cores


# -- end to end: n_jobs 1, 2, -1 and plain skrub give the same bits -------------------


def _w1_like():
    """W1's prep "b" and two of its models on a small house-price table whose
    street names and postcodes go to a StringEncoder (800 rows, 2 folds: the
    smallest size found where n_jobs=2 gave other scores without pinning)."""
    data = skrub.var("houses", P.houses(n_rows=800))
    X = data.drop(columns=["price"]).skb.mark_as_X()
    y = data["price"].skb.apply_func(np.log1p).skb.mark_as_y()
    tv = skrub.TableVectorizer(high_cardinality=P.string_encoder(30))
    X = X.skb.apply(tv).skb.apply(SimpleImputer(strategy="median"))
    ridge = Ridge(alpha=1.0)
    lgbm = LGBMRegressor(n_estimators=10, n_jobs=1, random_state=0, verbose=-1)
    return {"ridge": X.skb.apply(ridge, y=y), "lightgbm": X.skb.apply(lgbm, y=y)}


def _split_scores(search) -> np.ndarray:
    cv = search.cv_results_
    return np.array([cv[f"split{i}_test_score"] for i in range(2)])


def test_scores_do_not_depend_on_n_jobs_and_are_skrubs(monkeypatch):
    # As plain skrub runs: every core for the libraries (the test session
    # otherwise limits them to one thread, and OMP_NUM_THREADS to 1).
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with threadpool_limits(available_cores()):
        with stratum.config_context(engine="skrub"):
            expected = {
                name: _split_scores(pred.skb.make_grid_search(cv=2, fitted=True))
                for name, pred in _w1_like().items()
            }
        for n_jobs in (1, 2, -1):
            with stratum.Session():  # nothing reused from the previous n_jobs
                res = stratum.search(_w1_like(), cv=2, refit=False, n_jobs=n_jobs)
            assert (res.results_["status"] == "ok").all()
            for name, scores in expected.items():
                got = _split_scores(res.searches_[name])
                assert np.array_equal(got, scores), (n_jobs, name, got - scores)
    assert res.stats_["pinned"].any()
