"""Measured size in bytes of the values tasks produce."""

from __future__ import annotations

import pickle
import sys
from typing import Any

# Python objects (strings) of an object column whose sizes are sampled.
_SAMPLE = 64


def nbytes(value: Any, _depth: int = 0) -> int:
    """Approximate memory held by ``value`` (arrays, frames, sparse, containers).

    The Python objects of pandas object columns (strings) count by a sample
    of their sizes; other objects (fitted estimators, boosters held by native
    libraries) by the size of their pickle, arrays counted without copying
    them. Never raises.
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
        if _is_lightgbm_model(value):
            return _lightgbm_bytes(value)
        if hasattr(value, "__dict__"):
            try:
                return _pickled_bytes(value)
            except Exception:  # unpicklable: its attributes, two levels deep
                return sys.getsizeof(value) + sum(
                    nbytes(v, _depth + 1) for v in vars(value).values()
                )
        return sys.getsizeof(value)
    except Exception:
        return 0


# A LightGBM tree node's share of its model's text (what pickling writes),
# measured on default models: pickling it to count would take 0.1 ms a tree.
_LIGHTGBM_NODE_BYTES = 48


def _is_lightgbm_model(value: Any) -> bool:
    return type(value).__module__.startswith("lightgbm") and hasattr(value, "_Booster")


def _lightgbm_bytes(value: Any) -> int:
    """A fitted LightGBM estimator, from its number of trees and leaves."""
    booster = value._Booster
    if booster is None:
        return sys.getsizeof(value)
    leaves = int(value.get_params().get("num_leaves") or 31)
    return booster.num_trees() * (2 * leaves - 1) * _LIGHTGBM_NODE_BYTES


def _pickled_bytes(value: Any) -> int:
    """The size of ``value``'s pickle, its large buffers (arrays) counted
    out of band rather than copied."""
    sizes = []

    def buffer(view: pickle.PickleBuffer) -> None:
        sizes.append(view.raw().nbytes)

    stream = pickle.dumps(value, protocol=5, buffer_callback=buffer)
    return len(stream) + sum(sizes)


def _objects_bytes(column) -> int:
    """The Python objects of an object column: its length times the mean
    size of evenly spaced samples (the pointers are counted by pandas)."""
    n = len(column)
    if n == 0:
        return 0
    step = max(1, n // _SAMPLE)
    sample = column.iloc[::step].tolist()
    return int(n * sum(sys.getsizeof(v) for v in sample) / len(sample))
