"""The values computed by a batch, keyed by task key, and what it cost."""

from __future__ import annotations

import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from . import heap
from .sizes import nbytes
from .spill import SpillDir, Spilled


class TaskFailed(Exception):
    """Raised when a value is requested whose computation failed."""

    def __init__(self, failure: Failure):
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class Failure:
    """A failed computation: the original exception and where it happened."""

    error: BaseException
    label: str
    traceback: str

    @property
    def message(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"

    @classmethod
    def capture(cls, error: BaseException, label: str) -> Failure:
        if isinstance(error, TaskFailed):
            return error.failure
        tb = "".join(traceback.format_exception(error))
        return cls(error=error, label=label, traceback=tb)


class Handle:
    """A value held outside the driver's heap: in shared memory written by a
    worker process, or in a cluster's object store.

    The store keeps the handle and loads the value when asked (``get``).
    ``local`` handles occupy this machine's memory and count toward the
    memory budget; ``discard`` frees what the handle holds.
    """

    nbytes: int = 0
    local: bool = True

    def load(self) -> Any:
        raise NotImplementedError

    def discard(self) -> None:
        """Free the value (it is no longer needed by the driver)."""


@dataclass
class TaskStat:
    key: tuple
    kind: str
    label: str
    fold: int | None
    side: str | None
    mode: str | None
    seconds: float
    status: str  # "ok", "error", "skipped", "timeout", "cancelled"
    how: str  # "scheduled" or "inline"
    nbytes: int = 0
    thread: str = ""
    implementation: str = ""
    placement: str = "local"


@dataclass
class Store:
    """Values by key; a failure is stored as a ``Failure`` and re-raised on get.

    The store knows the size of what it holds (``bytes_in_use``, ``peak_bytes``)
    and lets the executor release a value once its last consumer is done.
    """

    values: dict[tuple, Any] = field(default_factory=dict)
    stats: list[TaskStat] = field(default_factory=list)
    # task key -> which implementation computed it (see lower.registry)
    implementations: dict[tuple, str] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    sizes: dict[tuple, int] = field(default_factory=dict)
    bytes_in_use: int = 0
    peak_bytes: int = 0
    released: int = 0
    hits: int = 0
    budget: int | None = None
    spill_dir: Any = None
    spilled: int = 0
    schedules: list[dict] = field(default_factory=list)
    reuse: Any = None  # a Reuse: caches of earlier batches, and what may go there
    reused: int = 0
    # keys read after the run (fitted states a frontend installs): kept when
    # no task reads them any more
    kept: set = field(default_factory=set)

    def __contains__(self, key: tuple) -> bool:
        if key in self.values:
            return True
        if self.reuse is None:
            return False
        found, value = self.reuse.lookup(key)
        if found:
            self.put(key, value, offer=False)
            self.reused += 1
        return found

    def get(self, key: tuple) -> Any:
        if key not in self.values and key not in self:  # may load from a cache
            raise KeyError(key)
        value = self.values[key]
        if isinstance(value, Failure):
            raise TaskFailed(value)
        if isinstance(value, Spilled):
            return SpillDir.read(value)
        if isinstance(value, Handle):
            return value.load()
        return value

    def hit(self, key: tuple) -> Any:
        """``get`` for a memoized lookup (counted as a reuse)."""
        self.hits += 1
        return self.get(key)

    def put(self, key: tuple, value: Any, offer: bool = True) -> int:
        """Store ``value`` unless the key is already set; return its size.

        A new value is also offered to the caches of later batches."""
        with self.lock:
            if key in self.values:
                return self.sizes.get(key, 0)
            self.values[key] = value
            if isinstance(value, Handle):
                size = value.nbytes
                self.bytes_in_use += size if value.local else 0
            else:
                size = 0 if isinstance(value, Failure) else nbytes(value)
                self.bytes_in_use += size
            self.sizes[key] = size
            self.peak_bytes = max(self.peak_bytes, self.bytes_in_use)
        if self.reuse is not None and not isinstance(value, Failure):
            if offer and not (isinstance(value, Handle) and not value.local):
                # (fetching from a cluster only to cache it: no)
                loaded = value.load() if isinstance(value, Handle) else value
                self.reuse.offer(key, loaded, size)
            self.reuse.fit(self.bytes_in_use, self.peak_bytes, self.budget)
        return size

    def release(self, key: tuple) -> None:
        """Forget a computed value (failures are kept: they are small and final)."""
        with self.lock:
            value = self.values.get(key)
            if value is None or isinstance(value, Failure):
                return
            del self.values[key]
            size = self.sizes.pop(key, 0)
            if isinstance(value, Spilled):
                os.remove(value.path)
            elif isinstance(value, Handle):
                value.discard()
                self.bytes_in_use -= size if value.local else 0
            else:
                self.bytes_in_use -= size
            self.released += 1
        if self.reuse is not None:
            self.reuse.released(key)

    def over_budget(self, need: int = 0) -> int:
        """Bytes over the budget once ``need`` more are taken: by the store's
        own count, or by the process's resident set when that is larger (the
        budget is the process's, whatever holds the memory)."""
        if self.budget is None:
            return 0
        return max(self.bytes_in_use, heap.rss()) + need - self.budget

    def need(self, deps) -> int:
        """Bytes a task reading ``deps`` may take: its spilled inputs, loaded
        back, and an output as large as its largest input."""
        sizes = [self.sizes.get(dep, 0) for dep in deps]
        spilled = sum(
            size
            for dep, size in zip(deps, sizes)
            if isinstance(self.values.get(dep), Spilled)
        )
        return spilled + max(sizes, default=0)

    def spill(self, protect: set, need: int = 0) -> None:
        """Make room for ``need`` more bytes within the budget: the session's
        values no batch holds leave memory first, then the store's values
        are written to disk, largest first, except those in ``protect``
        (inputs of running tasks)."""
        if self.budget is None:
            return
        with self.lock:
            over = self.over_budget(need)
            if over > 0 and self.reuse is not None:  # earlier batches' first
                over -= self.reuse.shed(over)
            if over <= 0:
                return
            if self.spill_dir is None:
                self.spill_dir = SpillDir()
            candidates = sorted(
                (
                    (size, key)
                    for key, size in self.sizes.items()
                    if key not in protect
                    and size > 0
                    and key in self.values
                    and not isinstance(self.values[key], (Failure, Spilled))
                    and getattr(self.values[key], "local", True)
                ),
                reverse=True,
            )
            for size, key in candidates:
                if over <= 0:
                    break
                over -= size
                value = self.values[key]
                if isinstance(value, Handle):
                    handle, value = value, value.load()
                    self.values[key] = self.spill_dir.write(value, size)
                    handle.discard()
                else:
                    self.values[key] = self.spill_dir.write(value, size)
                self.bytes_in_use -= size
                self.spilled += 1
                if self.reuse is not None:  # the session must not keep it either
                    self.reuse.released(key)
            if self.reuse is not None:
                self.reuse.fit(self.bytes_in_use, self.peak_bytes, self.budget)
        heap.trim()

    def close(self) -> None:
        for value in self.values.values():
            if isinstance(value, Handle):
                value.discard()
        if self.reuse is not None:
            self.reuse.close(self.peak_bytes, self.budget)
        if self.spill_dir is not None:
            self.spill_dir.close()
            self.spill_dir = None

    def failure(self, key: tuple) -> Failure | None:
        value = self.values.get(key)
        return value if isinstance(value, Failure) else None

    def find(self, key: tuple) -> Any:
        """The value under ``key``, or None when it is missing or failed."""
        if key not in self or self.failure(key) is not None:
            return None
        return self.get(key)

    def record(
        self,
        key,
        kind,
        label,
        split,
        seconds,
        status,
        how,
        thread: str | None = None,
        placement: str = "local",
    ) -> None:
        fold = getattr(split, "number", None)
        side = getattr(split, "side", None)
        mode = key[3] if len(key) > 3 and kind == "node" else None
        size = self.sizes.get(key, 0)
        thread = thread or threading.current_thread().name
        if self.reuse is not None and status == "ok":
            self.reuse.cost(key, seconds)
        impl = self.implementations.get(key, "")
        self.stats.append(
            TaskStat(
                key,
                kind,
                label,
                fold,
                side,
                mode,
                seconds,
                status,
                how,
                size,
                thread,
                impl,
                placement,
            )
        )


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
