"""Executors run a task graph into a store. The interface is one method.

``Scheduler`` runs ready tasks on ``n_jobs`` worker threads (the main thread
when ``n_jobs == 1``), longest remaining path first, releases a value as soon as
its last consumer is done, applies time limits, and survives Ctrl-C with
partial results. numpy, scipy, scikit-learn's and boosting libraries' kernels
and stratum's Rust kernels release the GIL, so threads run them in parallel.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Protocol

from .._threads import effective_n_jobs
from ..lower import Task
from .budget import library_threads, limit_library_threads, threads_per_worker
from .progress import Progress
from .store import Failure, Store, Timer


class Executor(Protocol):
    def run(self, tasks: dict[tuple, Task], store: Store, context=None) -> None:
        """Compute every task of ``tasks`` not already in ``store``.

        ``context`` is what a task needs to run elsewhere: a picklable object
        whose ``task(key)`` returns the task (see ``runtime.remote``).
        """


class Workers(Protocol):
    """Where a scheduler's tasks run: threads, processes, a cluster.

    The scheduler decides what runs when; ``submit`` starts a task whose
    inputs are in ``store`` and returns a handle, ``wait`` returns the handles
    that are done, and ``complete`` puts a done task's outputs into ``store``
    and returns its status.
    """

    slots: int

    def submit(self, task: Task, store: Store) -> object: ...

    def wait(self, handles: list, timeout: float) -> list: ...

    def complete(self, task: Task, handle: object, store: Store) -> str: ...

    # ``complete`` may also return (status, seconds the task ran on its worker)

    def abandon(self, handle: object) -> None: ...

    def close(self) -> None: ...


class ThreadWorkers:
    """``n_jobs`` threads sharing the driver's store."""

    def __init__(self, n_jobs: int):
        self.slots = n_jobs
        self.library_threads = library_threads(threads_per_worker(n_jobs))
        self.pool = ThreadPoolExecutor(
            n_jobs,
            thread_name_prefix="stratum",
            initializer=limit_library_threads,
            initargs=(threads_per_worker(n_jobs),),
        )

    def submit(self, task: Task, store: Store):
        return self.pool.submit(run_task, task, store)

    def wait(self, handles: list, timeout: float) -> list:
        done, _ = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return list(done)

    def complete(self, task: Task, handle, store: Store) -> str:
        return handle.result()

    def abandon(self, handle) -> None:
        handle.cancel()  # a running thread cannot be stopped: it is left to finish

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class BatchTimeout(TimeoutError):
    """The batch ran past its time limit; the task was not run."""


class ConfigurationTimeout(TimeoutError):
    """Every configuration needing this task ran past its time limit."""


class Cancelled(Exception):
    """The batch was interrupted before this task ran."""


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


def estimated_cost(task: Task) -> float:
    """A prior for a task's duration, for ordering only (not for results)."""
    if task.kind == "score":
        return 2.0
    if task.label.startswith("<Apply"):
        return 10.0 if "fit" in (task.key[3] or "") else 3.0
    return 1.0


def critical_path(tasks: dict[tuple, Task], order: list[tuple]) -> dict[tuple, float]:
    """Longest estimated path from each task to the end of the graph."""
    children: dict[tuple, list[tuple]] = {k: [] for k in tasks}
    for key, task in tasks.items():
        for dep in task.deps:
            if dep in tasks:
                children[dep].append(key)
    length: dict[tuple, float] = {}
    for key in reversed(order):
        below = max((length[c] for c in children[key]), default=0.0)
        length[key] = estimated_cost(tasks[key]) + below
    return length


def skip_if_failed(task: Task, store: Store) -> bool:
    """Fail ``task`` without running it if one of its dependencies failed."""
    failed = next((f for d in task.deps if (f := store.failure(d)) is not None), None)
    if failed is None:
        return False
    store.put(task.key, failed)
    store.record(
        task.key, task.kind, task.label, task.split, 0.0, "skipped", "scheduled"
    )
    return True


def run_task(task: Task, store: Store) -> str:
    """Run one task whose dependencies are done, storing its value or failure."""
    if skip_if_failed(task, store):
        return "skipped"
    with Timer() as t:
        try:
            value = task.fn(store)
            status = "ok"
        except Exception as error:  # the failure belongs to the dependants
            value = Failure.capture(error, task.label)
            status = "error"
    store.put(task.key, value)
    if status != "ok":  # what the task would have written fails with it
        for key in task.writes:
            store.put(key, value)
    store.record(
        task.key, task.kind, task.label, task.split, t.seconds, status, "scheduled"
    )
    return status


class Scheduler:
    """Runs a task graph, ``n_jobs`` tasks at a time.

    Parameters
    ----------
    n_jobs : int
        Worker threads (scikit-learn's convention: -1 = all cores).
    timeout : float, optional
        Seconds for the whole batch; tasks not started by then fail with
        ``BatchTimeout`` and so do their dependants.
    config_timeout : float, optional
        Seconds of task time per configuration (a configuration's tasks,
        shared ones included, as if it ran alone). A configuration past it
        stops: tasks only it needs are not run (a running one is abandoned).
    release : bool
        Drop a node's value once every task consuming it is done.
    progress : bool
        Show a progress line (on a terminal, for batches over 2 seconds).
    """

    def __init__(
        self, n_jobs=1, timeout=None, config_timeout=None, release=True, progress=False
    ):
        self.n_jobs = effective_n_jobs(n_jobs)
        self.timeout = timeout
        self.config_timeout = config_timeout
        self.release = release
        self.progress = progress

    def workers(self, context, store: Store) -> Workers | None:
        """The workers of one ``run`` (None: run tasks in the calling thread)."""
        return ThreadWorkers(self.n_jobs) if self.n_jobs > 1 else None

    def run(self, tasks: dict[tuple, Task], store: Store, context=None) -> None:
        todo = {k: t for k, t in tasks.items() if k not in store}
        if not todo:
            return
        order = topological_order(todo)
        priority = critical_path(todo, order)
        children: dict[tuple, list[tuple]] = {k: [] for k in todo}
        indegree = {k: 0 for k in todo}
        consumers: dict[tuple, int] = {}
        for key, task in todo.items():
            for dep in task.deps:
                consumers[dep] = consumers.get(dep, 0) + 1
                if dep in todo:
                    indegree[key] += 1
                    children[dep].append(key)
        ready = [(-priority[k], i, k) for i, k in enumerate(order) if indegree[k] == 0]
        heapq.heapify(ready)
        cost: dict = {}
        timed_out: set = set()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        remaining: dict = {}
        for task in todo.values():
            for user in task.users:
                remaining[user] = remaining.get(user, 0) + 1
        progress = Progress(
            len(todo), enabled=self.progress, configurations=len(remaining)
        )
        self.wall_start = time.monotonic()
        running: dict = {}
        started: dict = {}
        pool = None
        slots = self.n_jobs

        def finish(key: tuple, status: str, seconds: float) -> None:
            task = todo[key]
            finished = 0
            for user in task.users:
                cost[user] = cost.get(user, 0.0) + seconds
                if self.config_timeout is not None and cost[user] > self.config_timeout:
                    timed_out.add(user)
                remaining[user] -= 1
                finished += remaining[user] == 0
            progress.update(status, store.bytes_in_use, finished)
            for child in children[key]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, (-priority[child], len(ready), child))
            if self.release:
                for dep in task.deps:
                    consumers[dep] -= 1
                    if (
                        consumers[dep] == 0
                        and dep in tasks
                        and tasks[dep].kind == "node"
                    ):
                        store.release(dep)

        def fail(key: tuple, error: BaseException, status: str) -> None:
            task = todo[key]
            store.put(key, Failure.capture(error, task.label))
            store.record(
                key, task.kind, task.label, task.split, 0.0, status, "scheduled"
            )
            finish(key, status, 0.0)

        def blocked(key: tuple) -> BaseException | None:
            if deadline is not None and time.monotonic() > deadline:
                return BatchTimeout(
                    f"the batch ran past its timeout of {self.timeout}s"
                )
            users = todo[key].users
            if users and users <= timed_out:
                return ConfigurationTimeout(
                    f"the configuration ran past its timeout of {self.config_timeout}s"
                )
            return None

        try:
            pool = self.workers(context, store)
            slots = self.n_jobs if pool is None else pool.slots
            with limit_library_threads(threads_per_worker(self.n_jobs), scoped=True):
                while ready or running:
                    while ready and len(running) < slots:
                        _, _, key = heapq.heappop(ready)
                        reason = blocked(key)
                        if reason is not None:
                            fail(key, reason, "timeout")
                            continue
                        need = self._estimate(todo[key], store)
                        if (
                            store.budget is not None
                            and store.bytes_in_use + need > store.budget
                        ):
                            if running:  # let running work finish and free memory first
                                heapq.heappush(ready, (-priority[key], -1, key))
                                break
                            store.spill(set(todo[key].deps), need)
                        if pool is None:
                            with Timer() as t:
                                status = run_task(todo[key], store)
                            finish(key, status, t.seconds)
                            if (
                                store.budget is not None
                                and store.bytes_in_use > store.budget
                            ):
                                store.spill(set())
                        elif skip_if_failed(todo[key], store):
                            finish(key, "skipped", 0.0)
                        else:
                            running[pool.submit(todo[key], store)] = key
                            started[key] = time.monotonic()
                    if not running:
                        continue
                    for handle in pool.wait(list(running), 0.2):
                        key = running.pop(handle)
                        status = pool.complete(todo[key], handle, store)
                        seconds = time.monotonic() - started.pop(key)
                        if isinstance(status, tuple):  # the worker's own time
                            status, seconds = status
                        finish(key, status, seconds)
                    if store.budget is not None and store.bytes_in_use > store.budget:
                        store.spill({d for k in running.values() for d in todo[k].deps})
                    self._abandon_late(
                        pool, running, started, todo, cost, timed_out, deadline, fail
                    )
        except KeyboardInterrupt:
            for handle in running:
                pool.abandon(handle)
            for key in list(todo):
                if key not in store:
                    store.put(
                        key, Failure.capture(Cancelled("interrupted"), todo[key].label)
                    )
        finally:
            if pool is not None:
                pool.close()
            progress.close()
            store.schedules.append(
                {
                    "n_jobs": slots,
                    "library_threads": getattr(
                        pool,
                        "library_threads",
                        library_threads(threads_per_worker(self.n_jobs)),
                    ),
                    "tasks": len(todo),
                    "wall": time.monotonic() - self.wall_start,
                }
            )

    @staticmethod
    def _estimate(task: Task, store: Store) -> int:
        """Estimated output size before running: the size of its inputs."""
        return sum(store.sizes.get(dep, 0) for dep in task.deps)

    def _abandon_late(
        self, pool, running, started, todo, cost, timed_out, deadline, fail
    ):
        """Stop waiting for tasks that only serve configurations past their time."""
        if self.config_timeout is None and deadline is None:
            return
        now = time.monotonic()
        for future, key in list(running.items()):
            elapsed = now - started[key]
            users = todo[key].users
            over_config = (
                self.config_timeout is not None
                and users
                and all(
                    u in timed_out or cost.get(u, 0.0) + elapsed > self.config_timeout
                    for u in users
                )
            )
            over_batch = deadline is not None and now > deadline
            if over_config or over_batch:
                pool.abandon(future)
                running.pop(future)
                started.pop(key)
                timed_out.update(users if over_config else ())
                error = (
                    ConfigurationTimeout(
                        "the configuration ran past its timeout of "
                        f"{self.config_timeout}s"
                    )
                    if over_config
                    else BatchTimeout(
                        f"the batch ran past its timeout of {self.timeout}s"
                    )
                )
                fail(key, error, "timeout")


class SequentialExecutor(Scheduler):
    """Runs tasks one after another in the calling thread."""

    def __init__(self, **kwargs):
        super().__init__(n_jobs=1, **kwargs)


__all__ = [
    "BatchTimeout",
    "Cancelled",
    "ConfigurationTimeout",
    "Executor",
    "Scheduler",
    "SequentialExecutor",
    "run_task",
]
