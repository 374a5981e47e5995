"""Running one task away from the driver: the protocol every remote backend
(worker processes, Ray) shares.

The driver ships a task's key and the values of its inputs (``Task.inputs``);
the worker holds a copy of the batch (``context``, pickled once per batch,
whose ``task(key)`` returns the task), runs the task against a private store
holding only those inputs, and returns an ``Outcome``: the values of the
task's outputs (``Task.outputs``), or the failure, with the timing and the
statistics of what it computed inline. Only the outputs' values are large.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from ..lower import Task
from . import lightgbm_threads
from .sizes import nbytes
from .store import Failure, Handle, Spilled, Store, TaskStat


class RemoteError(Exception):
    """An exception raised on a worker that could not be sent back as is."""


class WorkerDied(RuntimeError):
    """The worker running a task died (crash, out of memory, killed)."""


@dataclass
class Outcome:
    """What a worker sends back for one task."""

    status: str  # "ok" or "error"
    outputs: dict = field(default_factory=dict)  # key -> value (or payload)
    failure: Failure | None = None
    seconds: float = 0.0
    stats: list[TaskStat] = field(default_factory=list)  # computed inline
    where: str = ""  # host and pid that ran it
    sizes: dict = field(default_factory=dict)  # key -> bytes of the outputs
    written: list = field(default_factory=list)  # keys returned apart (Ray)
    implementations: dict = field(default_factory=dict)  # key -> what ran


def input_keys(task: Task, task_of=None) -> tuple:
    """``task.inputs``, plus what its dependencies were seen writing when they
    ran (a dynamic node's chosen branch is only known then)."""
    keys = list(task.inputs)
    if task_of is not None:
        for dep in task.deps:
            try:
                keys.extend(task_of(dep).writes)
            except KeyError:
                pass
    return tuple(dict.fromkeys(keys))


def gather_inputs(task: Task, store: Store, task_of=None) -> dict:
    """The values (or handles) of ``task``'s inputs held by ``store``.

    Keys the store does not hold (never computed, or not reusable) are left
    out: the task then computes them inline, which is correct, only slower.
    """
    out = {}
    for key in input_keys(task, task_of):
        if key not in store:
            continue
        value = store.values[key]
        if isinstance(value, Spilled):
            value = store.get(key)
        out[key] = value
    return out


def is_state(key: tuple) -> bool:
    """Whether ``key`` is the fitted state of a step (``lower.state_key``)."""
    return len(key) == 4 and key[2] == "state"


def where() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


def execute(context: Any, key: tuple, inputs: dict, pinned=None) -> Outcome:
    """Run the task ``key`` of ``context`` on ``inputs`` (in a worker); a
    pinned task (``Task.threads``) with the library threads ``pinned``
    (``budget.LibraryThreads``), if given."""
    task = context.task(key)
    if "lightgbm.sklearn" in sys.modules:  # it sizes its own team
        lightgbm_threads.install()
    store = Store()
    for k, value in inputs.items():
        store.put(k, value, offer=False)
    threads = contextlib.nullcontext()
    if pinned is not None and task.threads is not None:
        threads = pinned.scope()
    start = time.perf_counter()
    try:
        with threads:
            value = task.fn(store)
    except Exception as error:  # the failure belongs to the dependants
        failure = _sendable(Failure.capture(error, task.label))
        return Outcome(
            "error",
            implementations=store.implementations,
            failure=failure,
            seconds=time.perf_counter() - start,
            stats=store.stats,
            where=where(),
        )
    seconds = time.perf_counter() - start
    outputs = {key: value}
    for extra in task.writes:
        if extra in store.values:
            outputs[extra] = store.get(extra)
    for extra in list(store.values):  # fitted inline, e.g. a dynamic branch
        if is_state(extra) and extra not in inputs and extra not in outputs:
            outputs[extra] = store.get(extra)
    sizes = {k: store.sizes.get(k, 0) for k in outputs}
    sizes[key] = store.sizes.get(key) or _size(value)
    return Outcome(
        "ok",
        outputs=outputs,
        seconds=seconds,
        stats=store.stats,
        where=where(),
        sizes=sizes,
        implementations=store.implementations,
    )


def _size(value: Any) -> int:
    return nbytes(value)


def _sendable(failure: Failure) -> Failure:
    """The failure itself if it pickles, else its message and traceback."""
    try:
        cloudpickle.dumps(failure)
        return failure
    except Exception:
        error = RemoteError(failure.message)
        return Failure(error=error, label=failure.label, traceback=failure.traceback)


def unsendable(task: Task, error: BaseException) -> Outcome:
    """The outcome of a task whose value cannot be sent back."""
    wrapped = RemoteError(
        f"the value of {task.label} cannot be sent between processes: "
        f"{type(error).__name__}: {error}"
    )
    return Outcome("error", failure=Failure.capture(wrapped, task.label), where=where())


def store_outcome(
    task: Task, outcome: Outcome, store: Store, placement: str, thread: str = ""
) -> tuple[str, float]:
    """Put a worker's outcome for ``task`` into the driver's store."""
    if outcome.status == "ok":
        for key, value in outcome.outputs.items():
            store.put(key, value)
        extra = [k for k in outcome.outputs if k not in task.outputs]
        if extra:  # consumers of this task read them too (``input_keys``)
            task.writes = (*task.writes, *extra)
    else:
        for key in task.outputs:
            store.put(key, outcome.failure)
    store.implementations.update(outcome.implementations)
    for stat in outcome.stats:
        stat.placement = placement
        stat.thread = thread or stat.thread
        store.stats.append(stat)
    store.record(
        task.key,
        task.kind,
        task.label,
        task.split,
        outcome.seconds,
        outcome.status,
        "scheduled",
        thread=thread or outcome.where,
        placement=placement,
    )
    return outcome.status, outcome.seconds


def crashed(task: Task, detail: str, placement: str, store: Store) -> tuple[str, float]:
    """Fail ``task`` because its worker died."""
    error = WorkerDied(f"the worker running {task.label} died ({detail})")
    outcome = Outcome("error", failure=Failure.capture(error, task.label))
    return store_outcome(task, outcome, store, placement, thread=placement)


class ContextCache:
    """A worker's copies of the batches it runs tasks for, by token."""

    def __init__(self, keep: int = 2):
        self.keep = keep
        self.items: dict[str, Any] = {}
        self.lock = threading.Lock()

    def get(self, token: str, blob_or_value: Any) -> Any:
        with self.lock:
            context = self.items.get(token)
            if context is None:
                context = blob_or_value
                if isinstance(context, (bytes, bytearray, memoryview)):
                    context = cloudpickle.loads(context)
                self.items[token] = context
                while len(self.items) > self.keep:
                    self.items.pop(next(iter(self.items)))
            return context


__all__ = [
    "ContextCache",
    "Handle",
    "Outcome",
    "RemoteError",
    "WorkerDied",
    "crashed",
    "execute",
    "gather_inputs",
    "input_keys",
    "store_outcome",
    "unsendable",
]
