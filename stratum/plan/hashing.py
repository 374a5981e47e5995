"""Buffer fingerprints: the native Rust kernel when usable, else pure Python.

Both backends give identical digests (see ``_hash_py``). The native kernel is
used when ``stratum._native`` imports, the ``STRATUM_NATIVE`` environment
variable is not "0"/"false"/"no"/"off", and ``get_config()["native"]`` is
true. ``STRATUM_NUM_THREADS`` caps the number of threads the native kernel
uses (default: the CPUs available to the process).
"""

from __future__ import annotations

import os

from .._config import get_config
from .._threads import available_cores
from . import _hash_py

try:
    from stratum import _native
except ImportError:  # extension not built (e.g. running from a source tree)
    _native = None

NATIVE_AVAILABLE: bool = _native is not None

_FALSE = ("0", "false", "no", "off")


def _native_enabled() -> bool:
    if not NATIVE_AVAILABLE:
        return False
    if os.environ.get("STRATUM_NATIVE", "").strip().lower() in _FALSE:
        return False
    return bool(get_config().get("native", True))


def _n_threads() -> int:
    n = available_cores()
    cap = os.environ.get("STRATUM_NUM_THREADS", "").strip()
    if cap:
        try:
            n = min(n, max(1, int(cap)))
        except ValueError:
            pass
    return max(1, n)


def backend() -> str:
    """Which implementation ``fingerprint_buffer`` uses now: "native" or "python"."""
    return "native" if _native_enabled() else "python"


def fingerprint_buffer(data) -> bytes:
    """16-byte content fingerprint of a C-contiguous buffer (raw bytes)."""
    if _native_enabled():
        return _native.fingerprint_buffer(data, _n_threads())
    return _hash_py.fingerprint_buffer(data)
