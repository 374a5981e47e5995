"""Physical plan: cross-validation lowered into per-fold tasks."""

from .contexts import PREP, Split, state_key, task_key
from .cv import Lowering, Task

__all__ = ["PREP", "Lowering", "Split", "Task", "state_key", "task_key"]
