"""``backend="ray"``: tasks run as Ray tasks, on one machine or a cluster.

The scheduler is the local one (order, release, timeouts, Ctrl-C, progress,
statistics); each task is shipped with the protocol of ``runtime.remote``:

- the batch is pickled once and ``ray.put`` once per run; a worker unpickles
  it once and keeps it (by token) for the following tasks;
- a task's inputs are passed as object references, so intermediates stay in
  Ray's object store and move node to node without going through the driver;
- a task returns three objects: a small ``Outcome`` (status, failure,
  timings, sizes, where it ran; a score task's scores), its value, and what
  else it wrote (fitted state). All three are task returns, owned by the
  driver: Ray can rebuild them from lineage and retries the task
  (``max_retries``) when a worker or node dies;
- only the outcomes come back to the driver; values are fetched when asked
  for (the refit's fitted state, ``Store.get``).

Ray is optional: ``pip install "stratum-ml[ray]"`` (``pip install ".[ray]"`` in a
checkout).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

import cloudpickle

from .._extras import install_hint
from ..lower import Task
from .budget import limit_library_threads
from .remote import (
    ContextCache,
    Outcome,
    crashed,
    execute,
    gather_inputs,
    store_outcome,
)
from .scheduler import Scheduler
from .store import Handle, Store

# A task whose estimated memory is above this asks Ray for that much memory.
_MEMORY_REQUEST_FLOOR = 256 * 2**20


def import_ray():
    try:
        import ray
    except ImportError:
        raise ImportError(
            f'backend="ray" needs Ray: {install_hint("ray")} (or pip install ray)'
        ) from None
    return ray


def connect(address: str | None = None, timeout: float = 60.0) -> Any:
    """Connect to the Ray cluster at ``address`` ("auto", "host:port",
    "ray://host:port"), or with None start a new local Ray of this process's
    own: never another process's cluster (neither the address file a
    cluster leaves behind, possibly stale, nor ``RAY_ADDRESS`` is followed).
    A process already connected keeps its connection.

    Connecting fails within ``timeout`` seconds with an error naming the
    address: an address nobody listens on fails at once, and ``ray.init``
    runs in a helper thread, so that a connection that hangs (a cluster that
    just died) neither outlives the limit nor blocks SIGTERM and Ctrl-C,
    which the calling thread keeps handling. A local Ray starts in the
    calling thread: the processes it spawns die with the thread that
    spawned them (Linux's parent-death signal is per thread).
    """
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if address in (None, "local"):
        _init(ray, "local")
        return ray
    _check_reachable(address, timeout)
    outcome: dict[str, BaseException] = {}

    def attach() -> None:
        try:
            _init(ray, address)
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error

    thread = threading.Thread(target=attach, name="stratum-ray-connect", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while thread.is_alive():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"stratum could not connect to the Ray cluster at {address!r} "
                f"within {timeout:g} s (ray_connect_timeout / "
                "STRATUM_RAY_CONNECT_TIMEOUT)"
            )
        thread.join(0.1)
    if "error" in outcome:
        raise outcome["error"]
    return ray


def _init(ray: Any, address: str) -> None:
    quiet = _NotMainThreadNote()
    worker_log = logging.getLogger("ray._private.worker")
    worker_log.addFilter(quiet)
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            logging_level="WARNING",
            ignore_reinit_error=True,
        )
    finally:
        worker_log.removeFilter(quiet)


class _NotMainThreadNote(logging.Filter):
    """Ray's note that it sets no SIGTERM handler off the main thread: when
    it attaches from the helper thread, the calling thread keeps Python's
    own handling, on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "not the main thread" not in record.getMessage()


def _check_reachable(address: str, timeout: float) -> None:
    """Fail at once, naming ``address``, when nothing listens there (an
    "auto" address found in a stale file included)."""
    hostport = address.removeprefix("ray://")
    if address == "auto":
        try:
            from ray._private.services import get_ray_address_from_environment

            hostport = get_ray_address_from_environment("auto", None)
        except Exception as error:
            raise ConnectionError(
                f"stratum found no Ray cluster at {address!r}: {error}"
            ) from None
    if hostport in (None, "local"):  # a new local Ray
        return
    host, _, port = hostport.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=min(timeout, 10)).close()
    except (OSError, ValueError) as error:
        where = repr(address) if hostport == address else f"{address!r} ({hostport})"
        raise ConnectionError(
            f"stratum cannot reach the Ray cluster at {where}: {error}"
        ) from None


class RayValue(Handle):
    """A value in Ray's object store (``part``: one entry of a dict)."""

    local = False

    def __init__(self, ref, nbytes: int = 0, part: Any = None):
        self.ref = ref
        self.nbytes = nbytes
        self.part = part

    def load(self) -> Any:
        value = import_ray().get(self.ref)
        return value if self.part is None else value[self.part]

    def discard(self) -> None:
        self.ref = None


_contexts = ContextCache(keep=2)
_threads = {"n": None}


def _load_on_ray(box: list, token: str) -> None:
    """A Ray task: make this worker hold the batch."""
    import ray

    if token not in _contexts.items:
        _contexts.get(token, ray.get(box[0]))


def _run_on_ray(
    box: list, token: str, n_threads: int, pinned, key, keys, parts, *values
):
    """A Ray task: run ``key`` of the batch in ``box`` on ``values``
    (``parts[i]``: the entry of ``values[i]`` to take, for fitted states);
    with the library threads ``pinned`` if it is a pinned task."""
    import ray

    if _threads["n"] != n_threads:
        limit_library_threads(n_threads)
        _threads["n"] = n_threads
    context = _contexts.items.get(token)
    if context is None:
        context = _contexts.get(token, ray.get(box[0]))
    inputs = {
        k: v if part is None else v[part] for k, part, v in zip(keys, parts, values)
    }
    outcome = execute(context, key, inputs, pinned)
    del inputs, values
    node = ray.get_runtime_context().get_node_id()[:8]
    ip = ray.util.get_node_ip_address()
    outcome.where = f"{ip} node {node} pid {os.getpid()}"
    if outcome.status != "ok":
        return outcome, None, None
    value = outcome.outputs.pop(key)
    extras = outcome.outputs
    outcome.outputs = {}
    outcome.written = list(extras)
    if context.task(key).kind == "score":  # small, and always read by the driver
        outcome.outputs = {key: value}
        value = None
    return outcome, value, extras


class RayWorkers:
    """Submits a run's tasks to Ray, at most ``slots`` at a time."""

    def __init__(
        self,
        n_jobs: int,
        context,
        address: str | None,
        pinned=None,
        connect_timeout: float = 60.0,
    ):
        if context is None or not hasattr(context, "task"):
            raise ValueError(
                "backend='ray' needs the batch the tasks belong to "
                "(Executor.run(tasks, store, context=batch))"
            )
        self.ray = ray = connect(address, connect_timeout)
        cpus = int(ray.cluster_resources().get("CPU", 1)) or 1
        self.slots = n_jobs if n_jobs > 1 else cpus
        self.library_threads = self.slot_threads = 1  # a task reserves one CPU
        # A pinned task reserves the CPUs of its threads (no more than a node has).
        self.pinned = pinned
        node_cpus = [
            int(node.get("Resources", {}).get("CPU", 0))
            for node in ray.nodes()
            if node.get("Alive")
        ]
        self.pinned_cpus = (
            min(pinned.threads, max(node_cpus, default=1) or 1) if pinned else 1
        )
        self.token = uuid.uuid4().hex
        self.box = [ray.put(cloudpickle.dumps(context))]
        self.task_of = context.task
        self.remote = ray.remote(num_returns=3, max_retries=3, retry_exceptions=False)(
            _run_on_ray
        )
        # Workers start and load the batch before the clock starts, as the
        # worker processes of backend="processes" do.
        load = ray.remote(num_cpus=1)(_load_on_ray)
        ray.get(
            [load.remote(self.box, self.token) for _ in range(min(self.slots, cpus))]
        )
        self.exported: dict[tuple, Any] = {}  # driver-side values, put once
        self.pending: dict[Any, tuple] = {}  # meta ref -> (value ref, extras ref)

    def _ref(self, key: tuple, value) -> tuple[Any, Any]:
        if isinstance(value, RayValue):
            return value.ref, value.part
        ref = self.exported.get(key)
        if ref is None:  # computed on the driver (X and y) or reused
            ref = self.exported[key] = self.ray.put(value)
        return ref, None

    def submit(self, task: Task, store: Store):
        inputs = gather_inputs(task, store, self.task_of)
        keys = tuple(inputs)
        pairs = [self._ref(k, v) for k, v in inputs.items()]
        refs = [ref for ref, _ in pairs]
        parts = tuple(part for _, part in pairs)
        need = sum(store.sizes.get(k, 0) for k in keys)
        pinned = self.pinned if task.threads is not None else None
        options: dict = {"num_cpus": 1 if pinned is None else self.pinned_cpus}
        if need * 2 > _MEMORY_REQUEST_FLOOR:
            options["memory"] = need * 2
        meta, value, extras = self.remote.options(**options).remote(
            self.box, self.token, 1, pinned, task.key, keys, parts, *refs
        )
        self.pending[meta] = (value, extras)
        return meta

    def wait(self, handles: list, timeout: float) -> list:
        ready, rest = self.ray.wait(handles, num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = self.ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        return ready

    def complete(self, task: Task, meta, store: Store):
        value_ref, extras_ref = self.pending.pop(meta)
        try:
            outcome: Outcome = self.ray.get(meta)
        except Exception as error:  # the worker or its node died, retries spent
            detail = f"{type(error).__name__}: {str(error).splitlines()[0]}"
            return crashed(task, detail, "ray", store)
        if outcome.status == "ok":
            sizes = outcome.sizes
            if task.key not in outcome.outputs:
                outcome.outputs[task.key] = RayValue(value_ref, sizes.get(task.key, 0))
            for k in outcome.written:
                outcome.outputs[k] = RayValue(extras_ref, sizes.get(k, 0), part=k)
        return store_outcome(task, outcome, store, outcome.where, thread="ray")

    def abandon(self, meta) -> None:
        """Cancel a task; a running one is stopped by killing its worker
        (Ray starts another, which loads the batch again)."""
        self.pending.pop(meta, None)
        try:
            self.ray.cancel(meta, force=True)
        except Exception:
            pass

    def close(self) -> None:
        for meta in list(self.pending):
            self.abandon(meta)
        self.exported.clear()
        self.box = []


class RayScheduler(Scheduler):
    """The scheduler of ``backend="ray"``.

    ``n_jobs`` > 1 caps the tasks in flight; otherwise there are as many as
    the cluster has CPUs.
    """

    def __init__(
        self,
        ray_address: str | None = None,
        connect_timeout: float = 60.0,
        **options,
    ):
        super().__init__(**options)
        self.ray_address = ray_address
        self.connect_timeout = connect_timeout
        import_ray()  # fail early, with the installation hint

    def workers(self, context, store: Store, pinned=None) -> RayWorkers:
        return RayWorkers(
            self.n_jobs, context, self.ray_address, pinned, self.connect_timeout
        )


__all__ = ["RayScheduler", "RayValue", "RayWorkers", "connect", "import_ray"]
