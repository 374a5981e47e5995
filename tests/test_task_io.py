"""Tasks declare their inputs and outputs completely.

A task run as a worker runs it (``runtime.remote.execute``), against a
private store holding only its declared inputs (its dependencies' values and
the fitted state they wrote), must recompute nothing (no other task's value,
no fit) and give the values the threaded run computed: this is what lets
worker processes and Ray nodes run a task with only what the driver ships.
"""

import joblib
import numpy as np
import pipelines as P
import pytest

from stratum.frontend.skrub.inputs import search_object
from stratum.frontend.skrub.searches import prepare_batch
from stratum.options import ExecutionOptions
from stratum.runtime import Scheduler, Store
from stratum.runtime.remote import execute, gather_inputs, store_outcome
from stratum.runtime.scheduler import skip_if_failed, topological_order

CASES = [
    "hp_tv_ridge",
    "hp_model_dict_choice",
    "hp_apply_func",
    "hp_choice_if_else",
    "hp_dataop_match",
    "hp_deferred_estimator",
    "hp_freeze_after_fit",
    "hp_eval_mode",
    "hp_mark_as_x_kfold",
    "rv_text_logreg",
    "rv_binary_roc_auc",
    "rv_optional_pca",
]


def _batch(pipelines: dict, scoring=None, return_train_score=True):
    """A batch run on threads, keeping every value, and what was computed
    before its tasks ran (X and y)."""
    items = [
        (
            name,
            op.skb.clone(),
            dict(op.skb.get_data()),
            search_object(3, scoring, None, None, False, np.nan, return_train_score),
        )
        for name, op in pipelines.items()
    ]
    batch = prepare_batch(items, ExecutionOptions.resolve(n_jobs=1, progress=False))
    prepared = dict(batch.driver.store.values)
    batch.driver.executor = Scheduler(n_jobs=1, release=False)
    batch.driver.execute()
    return batch, prepared


def _same(a, b) -> bool:
    if joblib.hash(a) == joblib.hash(b):
        return True
    try:
        np.testing.assert_equal(a, b)
        return True
    except AssertionError:
        return False


def _check_every_task(batch, prepared) -> int:
    """Run every task as a worker would (its inputs only, ``remote.execute``)
    in dependency order; compare with the threaded run."""
    tasks = batch.driver.lowering.tasks
    reference = batch.driver.store
    driver = Store()
    for key, value in prepared.items():
        driver.put(key, value, offer=False)
    checked = 0
    for key in topological_order(tasks):
        task = tasks[key]
        if key in driver.values or skip_if_failed(task, driver):
            continue
        inputs = gather_inputs(task, driver, batch.driver.task)
        outcome = execute(batch.driver, key, inputs)
        if outcome.status != "ok":
            assert reference.failure(key) is not None, outcome.failure.traceback
            store_outcome(task, outcome, driver, "test")
            continue
        recomputed = [s.label for s in outcome.stats if s.key in tasks]
        assert not recomputed, f"{task.label} recomputed {recomputed}"
        refitted = [k for k in outcome.outputs if k not in task.outputs]
        assert not refitted or batch.driver.plan[key[0]].flags.dynamic, (
            f"{task.label} fitted {refitted} (not its declared outputs)"
        )
        store_outcome(task, outcome, driver, "test")
        for k in task.outputs:
            assert k in driver.values, f"{task.label} did not write {k}"
            assert _same(driver.values[k], reference.values[k]), (
                f"{task.label}: {k} differs from the threaded run"
            )
        checked += 1
    return checked


@pytest.mark.parametrize("name", CASES)
def test_each_task_runs_on_its_declared_inputs_only(name):
    case = P.CASES[name]
    batch, prepared = _batch({name: case.build()}, scoring=case.scoring)
    run = batch.runs[0]
    if run.fallback is not None:
        pytest.skip(run.fallback)
    assert run.error is None
    assert _check_every_task(batch, prepared) > 0


def test_no_fit_is_repeated_on_declared_inputs():
    pipelines = {n: P.prefix_then_model(m) for n, m in P.batch_models().items()}
    batch, prepared = _batch(pipelines, scoring="r2")
    P.CountingScaler.reset()
    assert _check_every_task(batch, prepared) > 0
    # Every fit task of the scaler fits once (3 folds), nothing else fits it.
    fits = [
        t
        for t in batch.driver.lowering.tasks.values()
        if "CountingScaler" in t.label and t.writes
    ]
    assert P.CountingScaler.n_fits == len(fits) == 3
