"""The values computed by a batch, keyed by task key, and what it cost."""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any


class TaskFailed(Exception):
    """Raised when a value is requested whose computation failed."""

    def __init__(self, failure: "Failure"):
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
    def capture(cls, error: BaseException, label: str) -> "Failure":
        if isinstance(error, TaskFailed):
            return error.failure
        tb = "".join(traceback.format_exception(error))
        return cls(error=error, label=label, traceback=tb)


@dataclass
class TaskStat:
    key: tuple
    kind: str
    label: str
    fold: int | None
    side: str | None
    mode: str | None
    seconds: float
    status: str
    how: str  # "scheduled" or "inline"


@dataclass
class Store:
    """Values by key; a failure is stored as a ``Failure`` and re-raised on get."""

    values: dict[tuple, Any] = field(default_factory=dict)
    stats: list[TaskStat] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __contains__(self, key: tuple) -> bool:
        return key in self.values

    def get(self, key: tuple) -> Any:
        value = self.values[key]
        if isinstance(value, Failure):
            raise TaskFailed(value)
        return value

    def put(self, key: tuple, value: Any) -> None:
        with self.lock:
            self.values.setdefault(key, value)

    def failure(self, key: tuple) -> Failure | None:
        value = self.values.get(key)
        return value if isinstance(value, Failure) else None

    def record(self, key, kind, label, split, seconds, status, how) -> None:
        fold = getattr(split, "number", None)
        side = getattr(split, "side", None)
        mode = key[3] if len(key) > 3 else None
        self.stats.append(
            TaskStat(key, kind, label, fold, side, mode, seconds, status, how)
        )


class Timer:
    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
