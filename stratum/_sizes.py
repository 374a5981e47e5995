"""Memory sizes: parsing ``"4GB"`` and the default budgets (no heavy imports:
the configuration checks its options with these at import time)."""

from __future__ import annotations

import os
import re
from typing import Any

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
