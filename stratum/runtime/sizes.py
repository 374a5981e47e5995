"""Measured size in bytes of the values tasks produce."""

from __future__ import annotations

import sys
from typing import Any


def nbytes(value: Any, _depth: int = 0) -> int:
    """Approximate memory held by ``value`` (arrays, frames, sparse, containers).

    Shallow for objects it does not know (fitted estimators count their arrays
    one level deep), never raises.
    """
    try:
        if value is None:
            return 0
        if hasattr(value, "memory_usage") and hasattr(value, "columns"):  # pandas
            return int(value.memory_usage(index=True, deep=False).sum())
        if hasattr(value, "memory_usage") and hasattr(value, "dtype"):  # Series
            return int(value.memory_usage(index=True, deep=False))
        if hasattr(value, "estimated_size"):  # polars
            return int(value.estimated_size())
        if hasattr(value, "nbytes") and isinstance(value.nbytes, int):
            return int(value.nbytes)
        if hasattr(value, "data") and hasattr(value, "indptr"):  # scipy.sparse
            return int(value.data.nbytes + value.indices.nbytes + value.indptr.nbytes)
        if _depth < 2 and isinstance(value, (list, tuple)):
            return sum(nbytes(v, _depth + 1) for v in value)
        if _depth < 2 and isinstance(value, dict):
            return sum(nbytes(v, _depth + 1) for v in value.values())
        if _depth < 1 and hasattr(value, "__dict__"):
            return sys.getsizeof(value) + sum(
                nbytes(v, _depth + 1) for v in vars(value).values()
            )
        return sys.getsizeof(value)
    except Exception:
        return 0
