"""Runtime: executes the task graph and owns the computed values."""

from .executor import Executor, SequentialExecutor, get_executor
from .store import Failure, Store, TaskFailed, Timer

__all__ = [
    "Executor",
    "Failure",
    "SequentialExecutor",
    "Store",
    "TaskFailed",
    "Timer",
    "get_executor",
]
