"""Physical plan: cross-validation lowered into per-fold tasks."""

from .contexts import PREP, Split, state_key, task_key
from .cv import Lowering, NodeRunner, Task

__all__ = ["PREP", "Lowering", "NodeRunner", "Split", "Task", "state_key", "task_key"]
