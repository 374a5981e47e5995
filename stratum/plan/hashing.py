"""Buffer fingerprints: the native Rust kernel when built, else pure Python.

Both backends give identical digests (see ``_hash_py``). The native kernel is
used when ``stratum._native`` imports and the ``STRATUM_NATIVE`` environment
variable is not "0"/"false"/"no"/"off"; it uses the calling thread's kernel
budget (``stratum._threads.thread_budget``).
"""

from __future__ import annotations

import os

from .._threads import thread_budget
from . import _hash_py

try:
    from stratum import _native
except ImportError:  # extension not built (e.g. running from a source tree)
    _native = None

NATIVE_AVAILABLE: bool = _native is not None

_FALSE = ("0", "false", "no", "off")


def backend() -> str:
    """Which implementation ``fingerprint_buffer`` uses now: "native" or "python"."""
    disabled = os.environ.get("STRATUM_NATIVE", "").strip().lower() in _FALSE
    return "native" if NATIVE_AVAILABLE and not disabled else "python"


def fingerprint_buffer(data) -> bytes:
    """16-byte content fingerprint of a C-contiguous buffer (raw bytes)."""
    if backend() == "native":
        return _native.fingerprint_buffer(data, thread_budget())
    return _hash_py.fingerprint_buffer(data)
