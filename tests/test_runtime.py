"""The executor: dependency order, failures confined to dependants."""

import pytest

from stratum.lower import Task
from stratum.runtime import SequentialExecutor, Store, TaskFailed
from stratum.runtime.executor import topological_order


def make_tasks(spec, log, fail=()):
    tasks = {}
    for name, deps in spec.items():
        def fn(name=name):
            log.append(name)
            if name in fail:
                raise RuntimeError(f"{name} broke")
            return name.upper()

        tasks[(name,)] = Task(key=(name,), fn=fn, deps=tuple((d,) for d in deps), label=name)
    return tasks


def test_runs_in_dependency_order():
    log = []
    spec = {"d": ["b", "c"], "b": ["a"], "c": ["a"], "a": []}
    store = Store()
    SequentialExecutor().run(make_tasks(spec, log), store)
    assert log.index("a") < log.index("b") < log.index("d")
    assert log.index("c") < log.index("d")
    assert store.get(("d",)) == "D"


def test_failure_marks_only_dependants():
    log = []
    spec = {"a": [], "b": ["a"], "c": ["b"], "x": [], "y": ["x"]}
    store = Store()
    SequentialExecutor().run(make_tasks(spec, log, fail={"b"}), store)
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
    SequentialExecutor().run(make_tasks({"a": [], "b": ["a"]}, log), store)
    assert log == ["b"]
