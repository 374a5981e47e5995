"""Shared helpers of the tabular kernels: the native module, thread budget and
the memory layout of dense tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._threads import thread_budget

try:
    from .. import _native
except ImportError:  # pragma: no cover - source tree without the extension
    _native = None

__all__ = ["native", "n_threads", "table_buffer", "is_float_table"]


def native():
    """The compiled module, or None when it is not built."""
    return _native if _native is not None and hasattr(_native, "column_stats") else None


def n_threads() -> int:
    """Threads the calling thread's kernels may use."""
    return thread_budget()


def table_buffer(X: np.ndarray) -> tuple[np.ndarray, str] | None:
    """A C-contiguous view of a 2-d float64 table and its layout ("C" or "F"),
    or None when the table is neither C- nor F-contiguous or not float64."""
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype != np.float64:
        return None
    if not X.dtype.isnative:
        return None
    if X.flags.c_contiguous:
        return X, "C"
    if X.flags.f_contiguous:
        return X.T, "F"
    return None


def is_float_table(X, kinds: str = "f") -> bool:
    """Whether ``X`` is a numpy array or DataFrame whose validation gives a
    contiguous float64 table without surprises (``kinds``: accepted numpy
    dtype kinds besides float64)."""
    if isinstance(X, np.ndarray):
        if X.ndim != 2 or not (X.flags.c_contiguous or X.flags.f_contiguous):
            return False
        return X.dtype == np.float64 or (X.dtype.kind in kinds and X.dtype.kind != "f")
    if isinstance(X, pd.DataFrame):
        return X.shape[1] > 0 and all(
            isinstance(dt, np.dtype)
            and (dt == np.float64 or (dt.kind in kinds and dt.kind != "f"))
            for dt in X.dtypes
        )
    return False
