"""Spilling intermediates to local disk when the memory budget is exceeded."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from typing import Any

import joblib

_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}


def parse_bytes(value: Any) -> int | None:
    """``4GB``, ``"512 MiB"``, ``1e9`` or None -> bytes."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ValueError(f"memory budget must be positive, got {value!r}")
        return int(value)
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", str(value))
    if not match or match.group(2).upper() not in _UNITS:
        raise ValueError(f"Cannot parse a memory size from {value!r} (try '4GB')")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def default_budget(fraction: float = 0.5) -> int:
    """A fraction of the memory available now."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(int(line.split()[1]) * 1024 * fraction)
    except OSError:
        pass
    try:
        return int(
            os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") * fraction
        )
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


@dataclass(frozen=True)
class Spilled:
    """A value written to disk; the store loads it back when asked."""

    path: str
    nbytes: int


class SpillDir:
    """A private directory for one batch's spilled values, removed at close."""

    def __init__(self, parent: str | None = None):
        self.path = tempfile.mkdtemp(prefix="stratum-spill-", dir=parent)
        self.bytes_written = 0
        self.count = 0

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
        shutil.rmtree(self.path, ignore_errors=True)
