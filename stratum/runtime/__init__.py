"""Runtime: executes the task graph and owns the computed values."""

from .backends import make_executor
from .progress import Progress
from .scheduler import (
    BatchTimeout,
    Cancelled,
    ConfigurationTimeout,
    Executor,
    Scheduler,
)
from .store import Failure, Store, TaskFailed, Timer

__all__ = [
    "BatchTimeout",
    "Cancelled",
    "ConfigurationTimeout",
    "Executor",
    "Failure",
    "Progress",
    "Scheduler",
    "Store",
    "TaskFailed",
    "Timer",
    "make_executor",
]
