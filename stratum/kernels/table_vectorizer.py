"""skrub's ``TableVectorizer`` with a native ``CleanNullStrings`` step.

The first thing a ``TableVectorizer`` does to each string column is skrub's
``CleanNullStrings``: a pandas regex replace of whitespace-only strings
followed by a ``replace`` of its list of null strings, two passes that cost
more than the rest of the vectorizer's cleaning together. The kernel here
finds the cells to null in one native pass (same rules: exact strings, the
same whitespace as Python's ``\\s``) and builds the column as pandas would.
The ``TableVectorizer`` subclass only swaps that step inside the pipeline
skrub builds; everything else, including the encoders' own kernels, is
skrub's. Both rely on skrub internals of the pinned version (0.11); any other
version runs skrub's code unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import skrub
from skrub._clean_null_strings import CleanNullStrings as _SkrubCleanNullStrings

from ._dense import n_threads, native

__all__ = ["CleanNullStrings", "TableVectorizer"]

_SUPPORTED_SKRUB = "0.11."


def _skrub_unsupported() -> str | None:
    if not skrub.__version__.startswith(_SUPPORTED_SKRUB):
        return f"skrub {skrub.__version__} is not supported"
    return None


def _string_storage(column: Any) -> str | None:
    """Why a column's values cannot be read natively, or None."""
    if not isinstance(column, pd.Series):
        return f"{type(column).__module__}.{type(column).__name__} column"
    dtype = column.dtype
    if dtype == np.dtype(object):
        return None
    if isinstance(dtype, pd.StringDtype):  # python or pyarrow storage
        return None
    return f"dtype {dtype}"


class CleanNullStrings(_SkrubCleanNullStrings):
    """skrub's ``CleanNullStrings`` (replace strings that stand for missing
    values by nulls) with the scan done natively; ``stratum_impl_`` says which
    code ran."""

    reference = _SkrubCleanNullStrings

    @classmethod
    def unsupported(cls, estimator: Any) -> str | None:
        """Why ``estimator``'s parameters cannot run natively, or None."""
        return _skrub_unsupported()

    def transform(self, column: Any) -> Any:
        """Replace null strings by nulls (see skrub's docstring)."""
        reason = _skrub_unsupported() or _string_storage(column)
        mod = native()
        if reason is None and mod is None:
            reason = "the native extension is not built"
        if reason is None:
            # Missing cells read as None: they are never null strings.
            na = {} if column.dtype == object else {"na_value": None}
            values = np.ascontiguousarray(column.to_numpy(dtype=object, **na))
            mask = np.empty(len(values), dtype=bool)
            nulls = list(self.null_strings_)
            if not mod.null_string_mask(values, nulls, mask, n_threads()):
                reason = "cells other than str, None and NaN, or lone surrogates"
        if reason is not None:
            self.stratum_impl_ = f"reference: {reason}"
            return super().transform(column)
        self.stratum_impl_ = "native"
        if column.dtype != object:
            # The extension dtype's own missing value, as skrub's pd.NA
            # replacement gives.
            return column.mask(mask)
        values = values.copy()
        values[mask] = None
        return pd.Series(
            values, index=column.index, name=column.name, dtype=object, copy=False
        )


class TableVectorizer(skrub.TableVectorizer):
    """skrub's ``TableVectorizer`` whose null-string cleaning runs natively.

    Same parameters, attributes and outputs as :class:`skrub.TableVectorizer`.
    """

    reference = skrub.TableVectorizer

    @classmethod
    def unsupported(cls, estimator: Any) -> str | None:
        """Why ``estimator``'s parameters cannot run natively, or None."""
        return _skrub_unsupported()

    def _make_pipeline(self) -> None:
        super()._make_pipeline()
        if _skrub_unsupported() is not None:
            return
        # The steps are shared with ``self._pipeline``; each wraps the
        # transformer it clones per column.
        for step in self._preprocessors:
            inner = getattr(step, "transformer", None)
            if type(inner) is _SkrubCleanNullStrings:
                step.transformer = CleanNullStrings(**inner.get_params())
