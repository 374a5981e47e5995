"""The executor: dependency order, failures confined to dependants."""

import pytest

from stratum.lower import Split, Task
from stratum.runtime import Scheduler, Store, TaskFailed
from stratum.runtime.scheduler import topological_order


def make_tasks(spec, log, fail=()):
    tasks = {}
    for name, deps in spec.items():

        def fn(store, name=name):
            log.append(name)
            if name in fail:
                raise RuntimeError(f"{name} broke")
            return name.upper()

        tasks[(name,)] = Task(
            key=(name,), fn=fn, deps=tuple((d,) for d in deps), label=name
        )
    return tasks


def test_runs_in_dependency_order():
    log = []
    spec = {"d": ["b", "c"], "b": ["a"], "c": ["a"], "a": []}
    store = Store()
    Scheduler(n_jobs=1).run(make_tasks(spec, log), store)
    assert log.index("a") < log.index("b") < log.index("d")
    assert log.index("c") < log.index("d")
    assert store.get(("d",)) == "D"


def test_failure_marks_only_dependants():
    log = []
    spec = {"a": [], "b": ["a"], "c": ["b"], "x": [], "y": ["x"]}
    store = Store()
    Scheduler(n_jobs=1).run(make_tasks(spec, log, fail={"b"}), store)
    assert "c" not in log  # skipped, never run
    with pytest.raises(TaskFailed) as info:
        store.get(("c",))
    assert "b broke" in str(info.value)
    assert info.value.failure.label == "b"
    assert store.get(("y",)) == "Y"
    statuses = {s.label: s.status for s in store.stats}
    assert statuses == {"a": "ok", "b": "error", "c": "skipped", "x": "ok", "y": "ok"}


def test_cycle_is_reported():
    tasks = make_tasks({"a": ["b"], "b": ["a"]}, [])
    with pytest.raises(ValueError, match="cycle"):
        topological_order(tasks)


def test_values_already_in_store_are_not_recomputed():
    log = []
    store = Store()
    store.put(("a",), "cached")
    Scheduler(n_jobs=1).run(make_tasks({"a": [], "b": ["a"]}, log), store)
    assert log == ["b"]


def test_parallel_runs_everything_once_in_dependency_order():
    import threading as th

    log, lock = [], th.Lock()
    spec = {f"n{i}": ([f"n{i - 1}"] if i % 5 else []) for i in range(40)}
    tasks = make_tasks(spec, log)
    for task in tasks.values():
        inner = task.fn

        def fn(store, inner=inner):
            with lock:
                return inner(store)

        task.fn = fn
    store = Store()
    Scheduler(n_jobs=2).run(tasks, store)
    assert sorted(log) == sorted(spec)
    for name, deps in spec.items():
        for dep in deps:
            assert log.index(dep) < log.index(name)
    assert {s.status for s in store.stats} == {"ok"}


def test_values_released_after_last_consumer_but_failures_and_sinks_kept():
    log = []
    spec = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    store = Store()
    Scheduler(n_jobs=1).run(make_tasks(spec, log), store)
    assert ("a",) not in store and ("b",) not in store and ("c",) not in store
    assert store.get(("d",)) == "D"
    assert store.released == 3
    store2 = Store()
    Scheduler(n_jobs=1, release=False).run(make_tasks(spec, []), store2)
    assert all((k,) in store2 for k in spec)


def _cv_graph(log):
    """Two folds of a shared feature step, two models and a test-side
    transform, lowered model by model (as a search lowers configurations):
    each fit writes a fitted state, which the model's score reads."""
    tasks = {}

    def add(name, deps=(), fold=None, kind="node", writes=()):
        def fn(store, name=name):
            log.append(name)
            for key in writes:
                store.put(key, f"state of {name}")
            return name

        split = None if fold is None else Split(f"f{fold}", "train", fold)
        tasks[(name,)] = Task(
            key=(name,),
            fn=fn,
            deps=tuple((d,) for d in deps),
            label=name,
            kind=kind,
            split=split,
            writes=writes,
        )

    for model in "AB":
        for f in (0, 1):
            add(f"features{f}", fold=f, writes=((f"features{f}", "state"),))
            add(f"test{f}", [f"features{f}"], fold=f)
            add(f"fit{model}{f}", [f"features{f}"], f, writes=((model, f, "state"),))
            score = f"score{model}{f}"
            add(score, [f"fit{model}{f}", f"test{f}"], f, kind="score")
    for task in tasks.values():
        task.reads = tuple(w for d in task.deps for w in tasks[d].writes)
    return tasks


def test_order_is_fold_by_fold_and_each_model_is_scored_before_the_next_fit():
    log = []
    Scheduler(n_jobs=1).run(_cv_graph(log), Store())
    assert log == [
        *["features0", "fitA0", "test0", "scoreA0", "fitB0", "scoreB0"],
        *["features1", "fitA1", "test1", "scoreA1", "fitB1", "scoreB1"],
    ]


def test_fitted_states_are_released_after_their_last_reader_unless_kept():
    store = Store()
    kept = ("B", 1, "state")
    store.kept.add(kept)
    Scheduler(n_jobs=1).run(_cv_graph([]), store)
    assert sorted(k for k in store.values if k[-1] == "state") == [kept]
    assert store.get(kept) == "state of fitB1"
    assert sorted(k for k in store.values if len(k) == 1) == [
        ("scoreA0",),
        ("scoreA1",),
        ("scoreB0",),
        ("scoreB1",),
    ]
    assert store.bytes_in_use == sum(store.sizes.values())


def test_config_timeout_skips_the_rest_of_that_configuration_only():
    import time as t

    from stratum.runtime import ConfigurationTimeout

    def slow(store):
        t.sleep(0.3)
        return 1

    tasks = {
        ("slow",): Task(key=("slow",), fn=slow, label="slow", users={"A"}),
        ("after",): Task(
            key=("after",),
            fn=lambda store: 2,
            deps=(("slow",),),
            label="after",
            users={"A"},
        ),
        ("fast",): Task(key=("fast",), fn=lambda store: 3, label="fast", users={"B"}),
        ("fast2",): Task(
            key=("fast2",),
            fn=lambda store: 4,
            deps=(("fast",),),
            label="fast2",
            users={"B"},
        ),
    }
    store = Store()
    Scheduler(n_jobs=1, config_timeout=0.1).run(tasks, store)
    with pytest.raises(TaskFailed) as info:
        store.get(("after",))
    assert isinstance(info.value.failure.error, ConfigurationTimeout)
    assert store.get(("fast2",)) == 4


def test_running_task_past_the_batch_timeout_is_abandoned():
    import threading as th
    import time as t

    from stratum.runtime import BatchTimeout

    gate = th.Event()

    def hang(store):
        gate.wait(5)
        return 1

    tasks = {
        ("hang",): Task(key=("hang",), fn=hang, label="hang", users={"A"}),
        ("quick",): Task(
            key=("quick",), fn=lambda store: 2, label="quick", users={"B"}
        ),
    }
    store = Store()
    start = t.monotonic()
    Scheduler(n_jobs=2, timeout=0.5).run(tasks, store)
    gate.set()
    assert t.monotonic() - start < 3
    assert store.get(("quick",)) == 2
    with pytest.raises(TaskFailed) as info:
        store.get(("hang",))
    assert isinstance(info.value.failure.error, BatchTimeout)


def test_library_threads_are_limited_in_workers():
    import numpy as np
    from threadpoolctl import threadpool_info

    from stratum.runtime.budget import available_cores

    np.ones(10) @ np.ones(10)  # make sure BLAS is loaded
    seen = []

    def probe(store):
        seen.append(max((i["num_threads"] for i in threadpool_info()), default=1))
        return 1

    tasks = {(f"p{i}",): Task(key=(f"p{i}",), fn=probe, label="p") for i in range(4)}
    Scheduler(n_jobs=2).run(tasks, Store())
    assert seen and max(seen) <= max(1, available_cores() // 2)


def test_sizes_count_strings_fitted_models_and_boosters():
    """The store's byte counts: object columns by their strings (as pandas'
    deep count, for strings of one length), fitted estimators by their pickle,
    LightGBM boosters by trees and leaves (within 10% of their pickle when
    the trees have all their leaves, above it otherwise)."""
    import pickle

    import lightgbm
    import numpy as np
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer

    from stratum.runtime.sizes import nbytes

    words = pd.Series([f"mot{i:05d} ünïcode" for i in range(5000)])
    frame = pd.DataFrame({"text": words, "x": np.arange(5000.0)})
    assert nbytes(frame) == frame.memory_usage(index=True, deep=True).sum()
    assert nbytes(words) == words.memory_usage(index=True, deep=True)
    assert nbytes(frame.iloc[:0]) == frame.iloc[:0].memory_usage(deep=True).sum()
    tfidf = TfidfVectorizer().fit(words)
    assert nbytes(tfidf) >= len(pickle.dumps(tfidf)) * 0.9
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5000, 5)), rng.normal(size=5000)
    model = lightgbm.LGBMRegressor(n_estimators=50, verbose=-1).fit(X, y)
    assert abs(nbytes(model) / len(pickle.dumps(model)) - 1) < 0.1
    # Trees with fewer leaves than num_leaves: an upper bound.
    small = lightgbm.LGBMRegressor(n_estimators=50, verbose=-1).fit(X[:300], y[:300])
    assert len(pickle.dumps(small)) <= nbytes(small) <= 3 * len(pickle.dumps(small))
