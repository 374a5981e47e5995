"""Content fingerprints of source data (arrays, frames, sparse matrices).

Only sources are fingerprinted by content; everything downstream is keyed by
lineage. Buffers are hashed by the native kernel when it is available
(``hashing.fingerprint_buffer``), with a pure-Python fallback that gives the
same digests.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from .hashing import fingerprint_buffer

_NATIVE_KINDS = set("biufcmM")


def _hash_array(arr: np.ndarray) -> bytes:
    """Fingerprint the raw bytes of a numeric array (any layout)."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    return fingerprint_buffer(flat.view(np.uint8))


def _array_parts(arr: np.ndarray) -> list[bytes]:
    head = f"nd:{arr.dtype.str}:{arr.shape}".encode()
    if arr.dtype.kind in _NATIVE_KINDS:
        return [head, _hash_array(arr)]
    import pandas as pd

    flat = arr.reshape(-1) if arr.ndim else arr.reshape(1)
    hashed = pd.util.hash_array(flat.astype(object), categorize=False)
    return [head, _hash_array(hashed)]


def _series_parts(s: Any) -> list[bytes]:
    import pandas as pd

    head = f"col:{s.name!r}:{s.dtype}".encode()
    values = s.to_numpy() if s.dtype.kind in _NATIVE_KINDS else None
    if isinstance(s.dtype, np.dtype) and values is not None:
        return [head, _hash_array(values)]
    hashed = pd.util.hash_pandas_object(s, index=False, categorize=False).to_numpy()
    return [head, _hash_array(hashed)]


def _index_parts(index: Any) -> list[bytes]:
    import pandas as pd

    if isinstance(index, pd.RangeIndex):
        return [
            f"range:{index.start}:{index.stop}:{index.step}:{index.name!r}".encode()
        ]
    return [b"index"] + _series_parts(index.to_series(index=None))


def data_parts(obj: Any) -> list[bytes] | None:
    """Byte parts identifying ``obj`` by content, or None if not a data object."""
    if isinstance(obj, np.ndarray):
        return _array_parts(obj)
    mod = type(obj).__module__
    if mod.startswith("pandas"):
        import pandas as pd

        if isinstance(obj, pd.DataFrame):
            parts = [f"df:{obj.shape}".encode()]
            for i in range(obj.shape[1]):
                parts += _series_parts(obj.iloc[:, i])
            return parts + _index_parts(obj.index)
        if isinstance(obj, pd.Series):
            return [b"series"] + _series_parts(obj) + _index_parts(obj.index)
        if isinstance(obj, pd.Index):
            return _index_parts(obj)
        return None
    if mod.startswith("scipy.sparse"):
        csr = obj.tocsr()
        return [
            f"sparse:{type(obj).__name__}:{csr.shape}".encode(),
            *_array_parts(csr.data),
            *_array_parts(csr.indices),
            *_array_parts(csr.indptr),
        ]
    if mod.startswith("polars"):
        import polars as pl

        if isinstance(obj, pl.DataFrame):
            hashed = obj.hash_rows(seed=0).to_numpy()
            head = f"pl:{obj.schema}".encode()
            return [head, _hash_array(hashed)]
        if isinstance(obj, pl.Series):
            hashed = obj.hash(seed=0).to_numpy()
            head = f"pls:{obj.name}:{obj.dtype}".encode()
            return [head, _hash_array(hashed)]
    return None


def fingerprint(obj: Any, cache: dict | None = None) -> str | None:
    """Hex fingerprint of a data object's content, or None if it is not data.

    ``cache`` maps ``id(obj)`` to ``(obj, fingerprint)``; it keeps the object
    alive so that the id cannot be reused while the cache lives.
    """
    if cache is not None and id(obj) in cache:
        return cache[id(obj)][1]
    parts = data_parts(obj)
    if parts is None:
        return None
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    fp = h.hexdigest()
    if cache is not None:
        cache[id(obj)] = (obj, fp)
    return fp
