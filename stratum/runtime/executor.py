"""Executors run a task graph into a store. The interface is one method."""

from __future__ import annotations

from collections import deque
from typing import Iterable, Protocol

from ..lower import Task
from .store import Failure, Store, Timer


class Executor(Protocol):
    def run(self, tasks: dict[tuple, Task], store: Store) -> None:
        """Compute every task of ``tasks`` not already in ``store``."""


def topological_order(tasks: dict[tuple, Task]) -> list[tuple]:
    """Kahn's algorithm over the tasks' dependencies inside ``tasks``."""
    indegree = {k: 0 for k in tasks}
    children: dict[tuple, list[tuple]] = {k: [] for k in tasks}
    for key, task in tasks.items():
        for dep in task.deps:
            if dep in tasks:
                indegree[key] += 1
                children[dep].append(key)
    ready = deque(k for k, d in indegree.items() if d == 0)
    order = []
    while ready:
        key = ready.popleft()
        order.append(key)
        for child in children[key]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) != len(tasks):
        raise ValueError("The task graph has a cycle")
    return order


def run_task(task: Task, store: Store) -> None:
    """Run one task whose dependencies are done, storing its value or failure."""
    failed = next((f for d in task.deps if (f := store.failure(d)) is not None), None)
    if failed is not None:
        store.put(task.key, failed)
        store.record(task.key, task.kind, task.label, task.split, 0.0, "skipped", "scheduled")
        return
    with Timer() as t:
        try:
            value = task.fn()
            status = "ok"
        except Exception as error:  # the failure belongs to the dependants
            value = Failure.capture(error, task.label)
            status = "error"
    store.put(task.key, value)
    store.record(task.key, task.kind, task.label, task.split, t.seconds, status, "scheduled")


class SequentialExecutor:
    """Runs tasks one after another, in dependency order."""

    def run(self, tasks: dict[tuple, Task], store: Store) -> None:
        for key in topological_order(tasks):
            if key not in store:
                run_task(tasks[key], store)


def get_executor(name: str) -> Executor:
    if name == "sequential":
        return SequentialExecutor()
    raise ValueError(f"Unknown backend {name!r}")


__all__: Iterable[str] = ["Executor", "SequentialExecutor", "get_executor", "run_task"]
