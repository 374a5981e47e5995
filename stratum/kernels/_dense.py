"""Shared helpers of the tabular kernels: the native module, thread budget and
the memory layout of dense tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import _assert_all_finite

from .._threads import thread_budget

try:
    from .. import _native
except ImportError:  # pragma: no cover - source tree without the extension
    _native = None

__all__ = [
    "native",
    "n_threads",
    "table_buffer",
    "is_float_table",
    "frame_dtypes",
    "check_finite",
    "features_differ",
    "new_array_for",
]


def native():
    """The compiled module, or None when it is not built."""
    return _native if _native is not None and hasattr(_native, "column_stats") else None


def n_threads() -> int:
    """Threads the calling thread's kernels may use."""
    return thread_budget()


def table_buffer(X: np.ndarray) -> tuple[np.ndarray, str] | None:
    """A C-contiguous view of a 2-d float64/float32 table and its layout ("C"
    or "F"), or None when the table is neither C- nor F-contiguous or of
    another type."""
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        return None
    if X.dtype not in (np.float64, np.float32):
        return None
    if not X.dtype.isnative:
        return None
    if X.flags.c_contiguous:
        return X, "C"
    if X.flags.f_contiguous:
        return X.T, "F"
    return None


def frame_dtypes(X) -> frozenset | None:
    """The column types of a DataFrame (None for anything else): building
    ``X.dtypes`` costs tens of microseconds, so callers reuse it."""
    return frozenset(X.dtypes) if isinstance(X, pd.DataFrame) else None


def is_float_table(
    X, kinds: str = "", float32: bool = False, dtypes: frozenset | None = None
) -> bool:
    """Whether ``X`` is a numpy array or DataFrame whose validation gives a
    contiguous float64 table without surprises (``kinds``: other numpy dtype
    kinds accepted, converted to float64 by validation; ``float32``: float32
    tables too, all columns of the same type; ``dtypes``: the DataFrame's
    ``frame_dtypes``, if known)."""
    floats = (np.float64, np.float32) if float32 else (np.float64,)

    def ok(dt) -> bool:
        return isinstance(dt, np.dtype) and (
            dt in floats or (dt.kind in kinds and dt.kind != "f")
        )

    if isinstance(X, np.ndarray):
        if X.ndim != 2 or not (X.flags.c_contiguous or X.flags.f_contiguous):
            return False
        return ok(X.dtype)
    if isinstance(X, pd.DataFrame):
        dtypes = frame_dtypes(X) if dtypes is None else dtypes
        if np.dtype(np.float32) in dtypes and len(dtypes) > 1:
            return False  # validation would give float64
        return X.shape[1] > 0 and all(ok(dt) for dt in dtypes)
    return False


def check_finite(estimator, X) -> None:
    """Raise scikit-learn's error for infinite values in ``X`` (validation
    runs with ``ensure_all_finite=False`` and the kernels report infinities,
    or what may be one, such as an infinite sum)."""
    _assert_all_finite(
        X, allow_nan=True, input_name="X", estimator_name=type(estimator).__name__
    )


def new_array_for(X: np.ndarray, X_in, dtypes: frozenset | None = None) -> np.ndarray:
    """The array a copying transform of ``X`` writes its result into.

    ``X`` is the validated version of the user's ``X_in``. When validation
    had to build a new array (another dtype, a DataFrame of several dtypes),
    scikit-learn transforms that array in place and so can we; otherwise the
    result goes to a new array of ``X``'s type and memory layout, which is
    what scikit-learn's copy (``order="K"``) gives. ``dtypes``: ``X_in``'s
    ``frame_dtypes``, if known.
    """
    if isinstance(X_in, np.ndarray):
        fresh = X is not X_in and not np.may_share_memory(X, X_in)
    elif isinstance(X_in, pd.DataFrame):
        dtypes = frame_dtypes(X_in) if dtypes is None else dtypes
        fresh = len(dtypes) > 1 or X.dtype not in dtypes
    else:
        fresh = False
    if fresh and X.flags.writeable and table_buffer(X) is not None:
        return X
    return np.empty_like(X)


def features_differ(estimator, X) -> bool:
    """Whether a table has another number of columns than at fit time.

    scikit-learn's validation rejects infinite values before it compares
    the number of features; validating without the finiteness check would
    raise the second error where scikit-learn raises the first, so such
    input goes to scikit-learn's transform.
    """
    return X.shape[1] != getattr(estimator, "n_features_in_", X.shape[1])
