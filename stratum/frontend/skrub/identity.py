"""Content identity of a submitted DataOp: equal for DataOps that describe the
same computation, whatever their bookkeeping (previews, timings, node ids,
where they were built)."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from skrub._data_ops._data_ops import DataOpImpl

from ...plan.fingerprint import fingerprint

# What skrub records about a node besides the computation it describes.
_BOOKKEEPING = frozenset(
    {
        "results",
        "errors",
        "metadata",
        "_creation_stack",
        "uuid",
        "description",
        "checked",
    }
)


def content_key(op: Any, fingerprints: dict | None = None) -> bytes | None:
    """A digest of ``op``'s pickle with data objects (frames, arrays) replaced
    by their content fingerprint and skrub's bookkeeping left out; None when
    ``op`` cannot be pickled. ``fingerprints`` caches data fingerprints."""
    import cloudpickle

    cache = {} if fingerprints is None else fingerprints

    class _Pickler(cloudpickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, type):
                return None
            found = fingerprint(obj, cache)
            return None if found is None else ("data", found)

        def reducer_override(self, obj):
            if isinstance(obj, DataOpImpl):
                state = {k: v for k, v in vars(obj).items() if k not in _BOOKKEEPING}
                return (object.__new__, (type(obj),), state)
            return super().reducer_override(obj)

    buffer = io.BytesIO()
    pickler = _Pickler(buffer)
    # No memo: the bytes then depend on values only, not on which objects
    # happen to be shared (interned strings, a frame used by two pipelines).
    pickler.fast = True
    try:
        pickler.dump(op)
    except (Exception, RecursionError):
        return None
    return hashlib.blake2b(buffer.getvalue(), digest_size=20).digest()
