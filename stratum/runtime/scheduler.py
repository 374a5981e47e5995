"""Executors run a task graph into a store. The interface is one method.

``Scheduler`` runs ready tasks on ``n_jobs`` worker threads (the main thread
when ``n_jobs == 1``), depth first from the results, fold by fold (so that
a value's consumers run while it is in memory: ``depth_first_rank``),
releases a value (and the fitted state a fit wrote) as soon as its last
reader is done, applies time limits,
and survives Ctrl-C with partial results. numpy, scipy, scikit-learn's and
boosting libraries' kernels and stratum's Rust kernels release the GIL, so
threads run them in parallel. After a task, the heap's free pages go back to
the system (``runtime.heap``), so that memory a task freed does not keep the
process's resident set at its high-water mark.

Each worker slot stands for ``cores // n_jobs`` cores, and its tasks' libraries
get as many threads (``runtime.budget``). A pinned task (``Task.threads``)
runs with the caller's library threads instead, so that its results do not
depend on ``n_jobs``; it holds as many slots as those threads need, and waits
for them to be free, so that there are never more busy threads than cores.
Any other task gets no more library threads than its share of the cores
other processes leave free (``runtime.contention``).
"""

from __future__ import annotations

import heapq
import sys
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

from .._threads import effective_n_jobs
from ..lower import Task
from . import heap, lightgbm_threads
from .budget import (
    LibraryThreads,
    library_threads,
    limit_library_threads,
    limit_worker_thread,
    restore,
    threads_per_worker,
    worker_threads,
)
from .contention import process_load
from .progress import Progress
from .store import Failure, Store, Timer

# The heap is trimmed at most this often (a trim takes about a millisecond).
TRIM_SECONDS = 0.05


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
    and returns its status. A pinned task (``Task.threads``) must run with
    the ``LibraryThreads`` the workers were given.
    """

    slots: int  # tasks that may run at once
    slot_threads: int  # the library threads each slot's task gets

    def submit(self, task: Task, store: Store) -> object: ...

    def wait(self, handles: list, timeout: float) -> list: ...

    def complete(self, task: Task, handle: object, store: Store) -> str: ...

    # ``complete`` may also return (status, seconds the task ran on its worker)

    def abandon(self, handle: object) -> None: ...

    def close(self) -> None: ...


class ThreadWorkers:
    """``n_jobs`` threads sharing the driver's store.

    A pinned task sets its thread's own libraries (OpenMP, stratum's kernels)
    to the pinned counts while it runs; the process's BLAS pool is set by the
    scheduler's thread (``submit``/``complete`` run there) while any pinned
    task runs.
    """

    def __init__(self, n_jobs: int, pinned: LibraryThreads | None = None):
        self.slots = n_jobs
        self.slot_threads = threads_per_worker(n_jobs)
        self.load = process_load()
        self.contended = 0  # tasks given fewer threads: other processes busy
        self.library_threads = library_threads(self.slot_threads)
        self.pinned = pinned
        self.pinned_handles: set = set()  # running pinned tasks
        self.raised: list = []  # the process's libraries set for them
        self.pool = ThreadPoolExecutor(
            n_jobs,
            thread_name_prefix="stratum",
            initializer=limit_worker_thread,
            initargs=(self.slot_threads,),
        )

    def submit(self, task: Task, store: Store):
        if task.threads is None or self.pinned is None:
            # Never more library threads than the cores others leave free.
            free = self.load.free_cores() // self.slots
            threads = max(1, min(self.slot_threads, free))
            self.contended += threads < self.slot_threads
            return self.pool.submit(run_task_with_threads, task, store, threads)
        if not self.pinned_handles:
            self.raised = self.pinned.apply(per_thread=False)
        handle = self.pool.submit(run_pinned, task, store, self.pinned)
        self.pinned_handles.add(handle)
        return handle

    def wait(self, handles: list, timeout: float) -> list:
        done, _ = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return list(done)

    def complete(self, task: Task, handle, store: Store) -> str:
        self._unpin(handle)
        return handle.result()

    def abandon(self, handle) -> None:
        handle.cancel()  # a running thread cannot be stopped: it is left to finish
        self._unpin(handle)

    def _unpin(self, handle) -> None:
        """The process's BLAS pool goes back to the workers' share once no
        pinned task runs."""
        if handle in self.pinned_handles:
            self.pinned_handles.discard(handle)
            if not self.pinned_handles:
                restore(self.raised)
                self.raised = []

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        restore(self.raised)
        self.raised = []
        self.pinned_handles.clear()


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


def depth_first_rank(tasks: dict[tuple, Task], order: list[tuple]) -> dict[tuple, int]:
    """Each task's place in the order the scheduler prefers among ready tasks.

    The results (the tasks nothing depends on), fold by fold, each right
    after what it needs that comes before it in no other result's turn (its
    dependencies, depth first, in their order). A fold's values are then
    consumed before the next fold's are computed, and a model is scored
    before the next one is fitted: skrub's own order, with shared work done
    once. ``order`` is a topological order of ``tasks``.
    """
    position = {key: i for i, key in enumerate(order)}
    has_children = {d for task in tasks.values() for d in task.deps if d in tasks}

    def fold(key: tuple) -> int:
        split = tasks[key].split
        return -1 if split is None or split.number is None else split.number

    sinks = sorted(
        (k for k in tasks if k not in has_children),
        key=lambda k: (fold(k), position[k]),
    )
    rank: dict[tuple, int] = {}
    for sink in sinks:
        stack = [(sink, False)]
        while stack:
            key, expanded = stack.pop()
            if key in rank:
                continue
            if expanded:
                rank[key] = len(rank)
                continue
            stack.append((key, True))
            stack.extend((d, False) for d in reversed(tasks[key].deps) if d in tasks)
    return rank


def skip_if_failed(task: Task, store: Store) -> bool:
    """Fail ``task`` without running it if one of its dependencies failed
    (not one it only waits for: ``Task.soft``)."""
    hard = (d for d in task.deps if d not in task.soft)
    failed = next((f for d in hard if (f := store.failure(d)) is not None), None)
    if failed is None:
        return False
    store.put(task.key, failed)
    store.record(
        task.key, task.kind, task.label, task.split, 0.0, "skipped", "scheduled"
    )
    return True


def run_task_with_threads(task: Task, store: Store, n_threads: int) -> str:
    """``run_task`` in a worker thread whose libraries get ``n_threads``."""
    worker_threads(n_threads)
    return run_task(task, store)


def run_pinned(task: Task, store: Store, pinned: LibraryThreads) -> str:
    """``run_task`` in a worker thread, with the pinned library threads."""
    with pinned.scope(per_thread=True):
        return run_task(task, store)


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


@dataclass
class RunState:
    """Everything one ``Scheduler.run`` knows about its tasks, in one place.

    A task is *waiting* until its dependencies inside ``todo`` are done, then
    *ready* (in a heap, by ``depth_first_rank``), then *running* (on a
    worker, or in the calling thread), then done: its value or failure is in
    the store, which is the only record of completion.

    A running task *holds* worker slots: one, or for a pinned task as many as
    its library threads need (``slots_for``). A ready task starts when the
    slots it needs are free; while a pinned task waits for its slots, the
    tasks after it that fit in the free ones start (so no slot idles), and it
    starts once the running tasks leave it enough (when no other ready task
    fits, they drain).
    """

    store: Store  # values and failures: the record of what is done
    graph: dict[tuple, Task]  # every task of the run (inputs may be done already)
    todo: dict[tuple, Task]  # the tasks to run: those not in the store
    children: dict[tuple, list[tuple]]  # key -> tasks that depend on it
    waiting: dict[tuple, int]  # key -> its dependencies not done yet
    consumers: dict[tuple, int]  # input key -> tasks still to read it
    rank: dict[tuple, int]  # key -> its place among ready tasks (first: 0)
    ready: list  # heap of (rank, key)
    remaining: dict  # configuration -> its tasks not done yet
    cost: dict = field(default_factory=dict)  # configuration -> task seconds
    timed_out: set = field(default_factory=set)  # configurations past their time
    running: dict = field(default_factory=dict)  # worker handle -> key
    started: dict = field(default_factory=dict)  # key -> monotonic start time
    deadline: float | None = None  # no task starts after it (batch timeout)
    progress: Progress | None = None
    slots: int = 1  # worker slots: tasks that may run at once
    slot_threads: int = 1  # the library threads of a task holding one slot
    pinned: LibraryThreads | None = None  # the library threads of pinned tasks
    contended: int = 0  # tasks run with fewer threads: other processes busy
    held: dict = field(default_factory=dict)  # running key -> slots it holds
    pinned_started: int = 0  # pinned tasks started (for the run's summary)
    slot_seconds: float = 0.0  # seconds x slots held of the finished tasks
    writers: dict = field(default_factory=dict)  # written key -> its task's key

    @classmethod
    def of(cls, tasks: dict[tuple, Task], store: Store) -> RunState:
        todo = {k: t for k, t in tasks.items() if k not in store}
        order = topological_order(todo)
        children: dict[tuple, list[tuple]] = {k: [] for k in todo}
        waiting = {k: 0 for k in todo}
        consumers: dict[tuple, int] = {}
        remaining: dict = {}
        for key, task in todo.items():
            for read in task.inputs:  # values, and the fitted states written
                consumers[read] = consumers.get(read, 0) + 1
            for dep in task.deps:
                if dep in todo:
                    waiting[key] += 1
                    children[dep].append(key)
            for user in task.users:
                remaining[user] = remaining.get(user, 0) + 1
        rank = depth_first_rank(todo, order)
        ready = [(rank[k], k) for k in order if not waiting[k]]
        heapq.heapify(ready)
        state = cls(
            store, tasks, todo, children, waiting, consumers, rank, ready, remaining
        )
        state.writers = {w: k for k, task in tasks.items() for w in task.writes}
        return state

    def pop_ready(self) -> tuple:
        return heapq.heappop(self.ready)[-1]

    def push_back(self, key: tuple) -> None:
        """Return a task to its place in the ready queue (it could not start)."""
        heapq.heappush(self.ready, (self.rank[key], key))

    def done(self, key: tuple, seconds: float, config_timeout: float | None) -> int:
        """Mark ``key`` done after ``seconds``: charge its configurations, make
        its children ready. Returns how many configurations it completed."""
        finished = 0
        for user in self.todo[key].users:
            self.cost[user] = self.cost.get(user, 0.0) + seconds
            if config_timeout is not None and self.cost[user] > config_timeout:
                self.timed_out.add(user)
            self.remaining[user] -= 1
            finished += self.remaining[user] == 0
        for child in self.children[key]:
            self.waiting[child] -= 1
            if self.waiting[child] == 0:
                heapq.heappush(self.ready, (self.rank[child], child))
        return finished

    def slots_for(self, key: tuple) -> int:
        """Slots ``key`` holds while it runs: one, or for a pinned task enough
        for its threads (all of them at most)."""
        if self.todo[key].threads is None or self.pinned is None:
            return 1
        need = -(-self.pinned.threads // max(1, self.slot_threads))
        return max(1, min(self.slots, need))

    def free_slots(self) -> int:
        return self.slots - sum(self.held.values())

    def releasable(self, key: tuple) -> bool:
        """Whether ``key`` may be forgotten once no task left reads it: a
        step's value or what its fit wrote (its fitted state, a family's Gram
        or bins), unless the frontend reads it after the run (``store.kept``).
        A score is the run's result: kept."""
        task = self.graph.get(key) or self.graph.get(self.writers.get(key))
        return task is not None and task.kind == "node" and key not in self.store.kept

    def unread(self, key: tuple) -> list[tuple]:
        """The inputs of ``key`` that no task left to run reads any more."""
        out = []
        for read in self.todo[key].inputs:
            self.consumers[read] -= 1
            if self.consumers[read] == 0:
                out.append(read)
        return out


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

    def workers(
        self, context, store: Store, pinned: LibraryThreads | None = None
    ) -> Workers | None:
        """The workers of one ``run`` (None: run tasks in the calling thread),
        running pinned tasks with ``pinned``."""
        return ThreadWorkers(self.n_jobs, pinned) if self.n_jobs > 1 else None

    def run(self, tasks: dict[tuple, Task], store: Store, context=None) -> None:
        """Run ``tasks`` not in ``store`` yet, in rounds (``_rounds``), with the
        workers' share of the library threads; Ctrl-C cancels what did not
        run. The workers are closed within the limits (they restore what
        pinned tasks changed)."""
        state = RunState.of(tasks, store)
        if not state.todo:
            return
        if self.timeout is not None:
            state.deadline = time.monotonic() + self.timeout
        state.progress = progress = Progress(
            len(state.todo), enabled=self.progress, configurations=len(state.remaining)
        )
        state.pinned = LibraryThreads()  # the caller's, before limiting them
        if "lightgbm.sklearn" in sys.modules:  # it sizes its own team
            lightgbm_threads.install()
        start = time.monotonic()
        pool = None
        try:
            with limit_library_threads(threads_per_worker(self.n_jobs), scoped=True):
                try:
                    pool = self.workers(context, store, state.pinned)
                    self._size_slots(state, pool)
                    self._rounds(state, pool)
                except KeyboardInterrupt:
                    self._cancel(state, pool)
                finally:
                    if pool is not None:
                        pool.close()
        finally:
            progress.close()
            store.schedules.append(self._summary(state, pool, start))

    def _rounds(self, state: RunState, pool) -> None:
        """Each round starts ready tasks in free slots, records the ones that
        finished, spills past the memory budget and gives up on tasks past
        their time, until nothing is left."""
        while state.ready or state.running:
            self._start_ready(state, pool)
            if state.running:
                self._complete_done(state, pool)
                self._keep_within_budget(state)
                self._abandon_late(state, pool)

    def _run_here(self, state: RunState, task: Task) -> str:
        """Run ``task`` in the calling thread; one whose results do not depend
        on its thread count with no more library threads than the cores other
        processes leave free (``runtime.contention``)."""
        if task.threads is None:
            free = process_load().free_cores()
            if free < state.slot_threads:
                state.contended += 1
                with limit_library_threads(free, scoped=True):
                    return run_task(task, state.store)
        return run_task(task, state.store)

    # -- the steps of ``run`` -------------------------------------------------------
    def _size_slots(self, state: RunState, pool) -> None:
        """How many slots the run has and how many threads each stands for."""
        state.slots = self.n_jobs if pool is None else pool.slots
        state.slot_threads = getattr(pool, "slot_threads", threads_per_worker(1))

    def _start_ready(self, state: RunState, pool) -> None:
        """Start ready tasks, depth first, while there are
        free slots and memory. A task needing more slots than are free (a
        pinned one) stays ready, and the next ones that fit start meanwhile."""
        store = state.store
        waiting: list = []  # popped, but needing more slots than are free
        while state.ready and state.free_slots() > 0:
            key = state.pop_ready()
            task = state.todo[key]
            reason = self._blocked(state, key)
            if reason is not None:
                self._fail(state, key, reason, "timeout")
                continue
            slots = state.slots_for(key)
            if slots > state.free_slots():  # it waits; smaller tasks may start
                waiting.append(key)
                continue
            need = store.need(task.deps)
            if store.over_budget(need) > 0:
                if state.running:  # let running work finish and free memory first
                    state.push_back(key)
                    break
                store.spill(set(task.deps), need)
            if pool is None:
                with Timer() as t:
                    status = self._run_here(state, task)
                self._finish(state, key, status, t.seconds)
                self._keep_within_budget(state)
            elif skip_if_failed(task, store):
                self._finish(state, key, "skipped", 0.0)
            else:
                state.running[pool.submit(task, store)] = key
                state.started[key] = time.monotonic()
                state.held[key] = slots
                state.pinned_started += task.threads is not None
        for key in waiting:
            state.push_back(key)

    def _complete_done(self, state: RunState, pool) -> None:
        """Wait a little for running tasks; record those that are done."""
        for handle in pool.wait(list(state.running), 0.2):
            key = state.running.pop(handle)
            status = pool.complete(state.todo[key], handle, state.store)
            seconds = time.monotonic() - state.started.pop(key)
            if isinstance(status, tuple):  # the worker's own time
                status, seconds = status
            state.slot_seconds += seconds * state.held.pop(key)
            self._finish(state, key, status, seconds)

    @staticmethod
    def _keep_within_budget(state: RunState) -> None:
        """Spill values past the memory budget, except running tasks' inputs."""
        store = state.store
        if store.over_budget() > 0:
            todo = state.todo
            store.spill({d for k in state.running.values() for d in todo[k].deps})

    def _abandon_late(self, state: RunState, pool) -> None:
        """Stop waiting for tasks that only serve configurations past their
        time, or that run past the batch's deadline."""
        if self.config_timeout is None and state.deadline is None:
            return
        now = time.monotonic()
        for handle, key in list(state.running.items()):
            elapsed = now - state.started[key]
            users = state.todo[key].users
            over_config = (
                self.config_timeout is not None
                and users
                and all(
                    u in state.timed_out
                    or state.cost.get(u, 0.0) + elapsed > self.config_timeout
                    for u in users
                )
            )
            over_batch = state.deadline is not None and now > state.deadline
            if not (over_config or over_batch):
                continue
            pool.abandon(handle)
            state.running.pop(handle)
            state.started.pop(key)
            state.held.pop(key, None)
            if over_config:
                state.timed_out.update(users)
                error = self._config_timeout_error()
            else:
                error = self._batch_timeout_error()
            self._fail(state, key, error, "timeout")

    @staticmethod
    def _cancel(state: RunState, pool) -> None:
        """Ctrl-C: leave running tasks, fail every task not done."""
        for handle in state.running:
            pool.abandon(handle)
        for key, task in state.todo.items():
            if key not in state.store:
                state.store.put(
                    key, Failure.capture(Cancelled("interrupted"), task.label)
                )

    def _summary(self, state: RunState, pool, start: float) -> dict:
        """How the run went, for ``explain()``: workers, library threads."""
        pinned = state.pinned
        return {
            "n_jobs": self.n_jobs if pool is None else pool.slots,
            "library_threads": getattr(
                pool,
                "library_threads",
                library_threads(threads_per_worker(self.n_jobs)),
            ),
            "pinned_threads": None if pinned is None else pinned.threads,
            "pinned_tasks": state.pinned_started,
            "contended_tasks": state.contended + getattr(pool, "contended", 0),
            "slot_seconds": state.slot_seconds,
            "tasks": len(state.todo),
            "wall": time.monotonic() - start,
        }

    # -- bookkeeping --------------------------------------------------------------
    def _finish(self, state: RunState, key: tuple, status: str, seconds: float) -> None:
        """Record a done task; release the inputs nothing left to run reads."""
        finished = state.done(key, seconds, self.config_timeout)
        state.progress.update(status, state.store.bytes_in_use, finished)
        if self.release:
            for read in state.unread(key):
                if state.releasable(read):
                    state.store.release(read)
        heap.trim(min_interval=TRIM_SECONDS)

    def _fail(self, state: RunState, key: tuple, error, status: str) -> None:
        """Fail ``key`` without running it."""
        task = state.todo[key]
        state.store.put(key, Failure.capture(error, task.label))
        state.store.record(
            key, task.kind, task.label, task.split, 0.0, status, "scheduled"
        )
        self._finish(state, key, status, 0.0)

    def _blocked(self, state: RunState, key: tuple) -> BaseException | None:
        """Why ``key`` must not start (a timeout), or None."""
        if state.deadline is not None and time.monotonic() > state.deadline:
            return self._batch_timeout_error()
        users = state.todo[key].users
        if users and users <= state.timed_out:
            return self._config_timeout_error()
        return None

    def _batch_timeout_error(self) -> BatchTimeout:
        return BatchTimeout(f"the batch ran past its timeout of {self.timeout}s")

    def _config_timeout_error(self) -> ConfigurationTimeout:
        return ConfigurationTimeout(
            f"the configuration ran past its timeout of {self.config_timeout}s"
        )


__all__ = [
    "BatchTimeout",
    "Cancelled",
    "ConfigurationTimeout",
    "Executor",
    "Scheduler",
    "run_task",
]
