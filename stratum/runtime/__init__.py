"""Runtime: executes the task graph and owns the computed values."""

from .scheduler import (
    BatchTimeout,
    Cancelled,
    ConfigurationTimeout,
    Executor,
    Scheduler,
    SequentialExecutor,
    effective_n_jobs,
    get_executor,
)
from .progress import Progress
from .store import Failure, Store, TaskFailed, Timer

__all__ = [
    "BatchTimeout",
    "Cancelled",
    "ConfigurationTimeout",
    "Executor",
    "Failure",
    "Progress",
    "Scheduler",
    "SequentialExecutor",
    "Store",
    "TaskFailed",
    "Timer",
    "effective_n_jobs",
    "get_executor",
]
