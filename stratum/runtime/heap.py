"""The process's memory as the operating system sees it: resident bytes now,
and giving freed heap pages back.

The store's byte counts are estimates of what values hold; what a batch costs
the machine is the process's resident set. glibc's allocator keeps freed
memory for reuse instead of returning it (most of all after large arrays,
which raise its thresholds), so between tasks the resident set stays at its
high-water mark unless the heap is trimmed: ``trim`` returns the free pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
import time

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss() -> int:
    """Resident bytes of this process now (0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()
_lock = threading.Lock()
_last = [0.0]


def trim(min_interval: float = 0.0) -> bool:
    """Give the heap's free pages back to the system (glibc); at most once
    per ``min_interval`` seconds. Whether it ran."""
    if _TRIM is None:
        return False
    now = time.monotonic()
    with _lock:
        if now - _last[0] < min_interval:
            return False
        _last[0] = now
    _TRIM(0)
    return True
