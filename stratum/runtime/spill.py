"""Spilling intermediates to local disk when the memory budget is exceeded."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

import joblib


@dataclass(frozen=True)
class Spilled:
    """A value written to disk; the store loads it back when asked."""

    path: str
    nbytes: int


class SpillDir:
    """A private directory of spilled values, removed at close (or when it is
    garbage-collected, or at the latest when the interpreter exits)."""

    def __init__(self, parent: str | None = None):
        self.path = tempfile.mkdtemp(prefix="stratum-spill-", dir=parent)
        self.bytes_written = 0
        self.count = 0
        self._remove = weakref.finalize(self, shutil.rmtree, self.path, True)

    def write(self, value: Any, nbytes: int) -> Spilled:
        path = os.path.join(self.path, uuid.uuid4().hex + ".joblib")
        tmp = path + ".tmp"
        joblib.dump(value, tmp)
        os.replace(tmp, path)
        self.bytes_written += os.path.getsize(path)
        self.count += 1
        return Spilled(path, nbytes)

    @staticmethod
    def read(spilled: Spilled) -> Any:
        return joblib.load(spilled.path)

    def close(self) -> None:
        self._remove()
