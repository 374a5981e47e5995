"""``backend="processes"``: tasks run in a pool of worker processes.

For steps that hold the GIL (pure-Python transformers, ``deferred``
functions), threads do not run in parallel; processes do. The scheduler is the
thread scheduler's (order, release, memory budget, timeouts, Ctrl-C): only the
execution of a task is delegated, with the protocol of ``runtime.remote``.

Each worker is started from a fork server (``spawn`` where there is none;
never a plain ``fork`` of the driver, whose OpenMP and BLAS thread pools are
not fork-safe), limits its libraries' threads to its share of the cores, and
receives the pickled batch once per run. Values travel as pickle protocol 5
with their large buffers in shared memory (``runtime.transfer``): a worker's
output is written once, and read by the driver and the next workers without
another copy. A worker that dies fails its task (and so its dependants) with
``WorkerDied`` and is replaced; a task past its time limit is stopped by
killing its worker. Workers and files are removed at the end of every run,
also on errors and Ctrl-C.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import traceback
from multiprocessing import spawn
from multiprocessing.connection import wait as wait_any

import cloudpickle

from ..lower import Task
from .budget import (
    LibraryThreads,
    library_threads,
    limit_library_threads,
    threads_per_worker,
)
from .remote import (
    ContextCache,
    Outcome,
    crashed,
    execute,
    gather_inputs,
    store_outcome,
    unsendable,
)
from .scheduler import Scheduler
from .store import Store
from .transfer import SharedValue, decode, encode, new_owner, remove_files


def _context_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


_start_lock = threading.Lock()


@contextlib.contextmanager
def _without_main():
    """Start workers without re-running the user's ``__main__`` in them.

    ``spawn`` and ``forkserver`` children normally re-import the main script
    (which then needs an ``if __name__ == "__main__"`` guard). A worker needs
    nothing from it: the batch is pickled by value (cloudpickle), so the main
    module is left out of what the child prepares.
    """
    original = spawn.get_preparation_data

    def preparation_data(name):
        data = original(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    with _start_lock:
        spawn.get_preparation_data = preparation_data
        try:
            yield
        finally:
            spawn.get_preparation_data = original


def _worker_main(
    conn, blob: bytes, n_threads: int, owner: str, env: dict, pinned=None
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's
    os.environ.clear()  # the driver's environment now, not the fork server's
    os.environ.update(env)
    limit_library_threads(n_threads)
    try:
        context = ContextCache(keep=1).get(owner, blob)
    except BaseException:
        conn.send(traceback.format_exc())
        return
    del blob
    conn.send("ready")
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        key, inputs = message
        values: dict = {}
        try:
            values = {k: decode(p) for k, p in inputs.items()}
            outcome = execute(context, key, values, pinned)
        except Exception as error:  # inputs that do not unpickle, ...
            outcome = unsendable(context.task(key), error)
        del values
        if outcome.status == "ok":
            try:
                outcome.outputs = {
                    k: encode(v, owner) for k, v in outcome.outputs.items()
                }
            except Exception as error:
                outcome = unsendable(context.task(key), error)
        try:
            conn.send(outcome)
        except Exception as error:  # a failure that does not pickle after all
            conn.send(unsendable(context.task(key), error))


class _Worker:
    def __init__(self, ctx, blob: bytes, n_threads: int, owner: str, pinned=None):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main,
            args=(child, blob, n_threads, owner, dict(os.environ), pinned),
            daemon=True,
            name="stratum-worker",
        )
        with _without_main():
            self.process.start()
        child.close()

    def ready(self) -> None:
        """Wait until the worker holds the batch."""
        try:
            answer = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(timeout=1)
            answer = f"exit code {self.process.exitcode}"
        if answer != "ready":
            raise RuntimeError(
                "a worker process could not load the batch (every module "
                "defining a step must be importable, or the step defined in "
                f"__main__):\n{answer}"
            )

    @property
    def placement(self) -> str:
        return f"process {self.process.pid}"

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.process.join(timeout=None if kill else 5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class ProcessWorkers:
    """``n_jobs`` worker processes running the tasks of one run; a pinned
    task runs with the library threads ``pinned`` (the driver's)."""

    def __init__(self, n_jobs: int, context, pinned: LibraryThreads | None = None):
        if context is None or not hasattr(context, "task"):
            raise ValueError(
                "backend='processes' needs the batch the tasks belong to "
                "(Executor.run(tasks, store, context=batch))"
            )
        self.slots = n_jobs
        self.owner = new_owner()
        self.ctx = multiprocessing.get_context(_context_method())
        if self.ctx.get_start_method() == "forkserver":
            preload = ["stratum.runtime.processes", type(context).__module__]
            self.ctx.set_forkserver_preload(preload)
        self.blob = cloudpickle.dumps(context)
        self.task_of = context.task
        self.n_threads = self.slot_threads = threads_per_worker(n_jobs)
        self.library_threads = library_threads(self.n_threads)
        self.pinned = pinned
        self.idle: list[_Worker] = []
        self.busy: dict[_Worker, Task] = {}
        self.exported: dict[tuple, tuple] = {}  # driver-side values, shared once
        starting: list[_Worker] = []
        try:
            for _ in range(n_jobs):
                starting.append(self._start())
            for worker in starting:  # the clock starts once they are ready
                worker.ready()
        except BaseException:
            for worker in starting:
                worker.stop(kill=True)
            remove_files(self.owner)
            raise
        self.idle = starting

    def _start(self) -> _Worker:
        return _Worker(self.ctx, self.blob, self.n_threads, self.owner, self.pinned)

    def _replacement(self) -> _Worker:
        worker = self._start()
        worker.ready()
        return worker

    def _payload(self, key: tuple, value) -> tuple:
        if isinstance(value, SharedValue):
            return value.payload(self.owner)
        payload = self.exported.get(key)
        if payload is None:
            payload = encode(value, self.owner)
            if payload[0] == "shared":
                self.exported[key] = payload
        return payload

    def submit(self, task: Task, store: Store) -> _Worker:
        worker = self.idle.pop()
        self.busy[worker] = task
        try:
            inputs = {
                k: self._payload(k, v)
                for k, v in gather_inputs(task, store, self.task_of).items()
            }
            worker.conn.send((task.key, inputs))
        except (OSError, EOFError):
            pass  # the worker is gone: ``complete`` reports it
        return worker

    def wait(self, handles: list, timeout: float) -> list:
        by_fd = {}
        for worker in handles:
            by_fd[worker.conn] = worker
            by_fd[worker.process.sentinel] = worker
        ready = wait_any(list(by_fd), timeout=timeout)
        return list(dict.fromkeys(by_fd[r] for r in ready))

    def complete(self, task: Task, worker: _Worker, store: Store):
        del self.busy[worker]
        try:
            outcome: Outcome = worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join(timeout=1)
            code = worker.process.exitcode
            detail = f"exit code {code}" if code is not None else "no answer"
            if code is not None and code < 0:
                detail = f"killed by signal {-code}"
            status = crashed(task, detail, worker.placement, store)
            worker.stop(kill=True)
            self.idle.append(self._replacement())
            return status
        if outcome.status == "ok":
            outcome.outputs = {
                k: SharedValue(p) if p[0] == "shared" else decode(p)
                for k, p in outcome.outputs.items()
            }
        self.idle.append(worker)
        return store_outcome(task, outcome, store, worker.placement)

    def abandon(self, worker: _Worker) -> None:
        """Stop a task: its worker is killed and replaced."""
        self.busy.pop(worker, None)
        worker.stop(kill=True)
        self.idle.append(self._replacement())

    def close(self) -> None:
        for worker in list(self.busy):
            worker.stop(kill=True)
        for worker in self.idle:
            worker.stop()
        self.busy.clear()
        self.idle.clear()
        self.exported.clear()
        remove_files(self.owner)


class ProcessScheduler(Scheduler):
    """The scheduler of ``backend="processes"``: ``n_jobs`` worker processes
    (at least one), each running one task at a time."""

    def workers(self, context, store: Store, pinned=None) -> ProcessWorkers:
        return ProcessWorkers(self.n_jobs, context, pinned)


__all__ = ["ProcessScheduler", "ProcessWorkers"]
