"""Measured size in bytes of the values tasks produce."""

from __future__ import annotations

import sys
from typing import Any

# Python objects (strings) of an object column whose sizes are sampled.
_SAMPLE = 64


def nbytes(value: Any, _depth: int = 0) -> int:
    """Approximate memory held by ``value`` (arrays, frames, sparse, containers).

    The Python objects of pandas object columns (strings) count by a sample
    of their sizes; shallow for objects it does not know (fitted estimators
    count their attributes two levels deep), never raises.
    """
    try:
        if value is None:
            return 0
        if hasattr(value, "memory_usage") and hasattr(value, "columns"):  # pandas
            shallow = int(value.memory_usage(index=True, deep=False).sum())
            return shallow + sum(
                _objects_bytes(value.iloc[:, i])
                for i, dtype in enumerate(value.dtypes)
                if str(dtype) == "object"
            )
        if hasattr(value, "memory_usage") and hasattr(value, "dtype"):  # Series
            shallow = int(value.memory_usage(index=True, deep=False))
            return shallow + (
                _objects_bytes(value) if str(value.dtype) == "object" else 0
            )
        if hasattr(value, "estimated_size"):  # polars
            return int(value.estimated_size())
        if hasattr(value, "nbytes") and isinstance(value.nbytes, int):
            return int(value.nbytes)
        if hasattr(value, "data") and hasattr(value, "indptr"):  # scipy.sparse
            return int(value.data.nbytes + value.indices.nbytes + value.indptr.nbytes)
        if _depth < 2 and isinstance(value, (list, tuple)):
            return sum(nbytes(v, _depth + 1) for v in value)
        if _depth < 2 and isinstance(value, dict):
            return sys.getsizeof(value) + sum(
                nbytes(k, _depth + 1) + nbytes(v, _depth + 1) for k, v in value.items()
            )
        if _depth < 2 and hasattr(value, "__dict__"):
            return sys.getsizeof(value) + sum(
                nbytes(v, _depth + 1) for v in vars(value).values()
            )
        return sys.getsizeof(value)
    except Exception:
        return 0


def _objects_bytes(column) -> int:
    """The Python objects of an object column: its length times the mean
    size of evenly spaced samples (the pointers are counted by pandas)."""
    n = len(column)
    if n == 0:
        return 0
    step = max(1, n // _SAMPLE)
    sample = column.iloc[::step].tolist()
    return int(n * sum(sys.getsizeof(v) for v in sample) / len(sample))
