"""Native drop-in for scikit-learn's ``SimpleImputer``.

For dense float64 or float32 tables with NaN as the missing value, the
statistics (mean, median, most frequent) are computed in Rust, one column per
task, and the transform writes the filled table in one pass. The mean uses
numpy's summation order in the table's type, the median is numpy's masked
median (the middle value, or the mean of the middle pair, in the table's
type), the most frequent value is counted by hashing and is the smallest of
the most frequent ones, as in scikit-learn (where it is a zero and the
column holds both -0.0 and +0.0, scikit-learn's own function picks the sign).
``fit_transform`` validates the input once and checks for infinite values in
the statistics pass instead of a separate one. Everything else (sparse input,
other missing markers, object data, callable strategies) runs
scikit-learn's code.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import impute
from sklearn.base import _fit_context
from sklearn.impute._base import _most_frequent
from sklearn.utils._mask import _get_mask
from sklearn.utils._missing import is_scalar_nan
from sklearn.utils.validation import FLOAT_DTYPES, check_is_fitted, validate_data

from ._dense import (
    check_finite,
    features_differ,
    frame_dtypes,
    is_float_table,
    n_threads,
    native,
    new_array_for,
    table_buffer,
)

__all__ = ["SimpleImputer"]

_NATIVE_STRATEGIES = ("mean", "median", "most_frequent")


class SimpleImputer(impute.SimpleImputer):
    """scikit-learn's ``SimpleImputer`` with native dense float statistics
    and imputation."""

    reference = impute.SimpleImputer

    @classmethod
    def unsupported(cls, estimator) -> str | None:
        """Why ``estimator``'s parameters cannot run natively (None: they can)."""
        if not is_scalar_nan(estimator.missing_values):
            return "missing_values is not NaN"
        if callable(estimator.strategy):
            return "strategy is a callable"
        return None

    def _native_statistics(self, X, strategy) -> tuple[np.ndarray, bool]:
        """The statistics of a dense float table (the fill for empty columns:
        0 or NaN, as scikit-learn) and whether the table holds an infinite
        value (or, for the mean, may hold one)."""
        buf, order = table_buffer(X)
        n, m = X.shape
        mod, threads = native(), n_threads()
        impl = "native"
        if strategy == "mean":
            counts, sums = mod.column_stats(buf, n, m, order, threads)
            counts = n - np.asarray(counts, dtype=np.int64)
            sums = np.asarray(sums, dtype=X.dtype) * 1.0
            has_inf = not np.isfinite(sums).all()
            # numpy's masked mean: the sum in X's type, times 1.0, over the
            # count; its masked division also masks results that are not
            # finite or that it deems unsafe (numpy.ma's _DomainSafeDivide)
            with np.errstate(divide="ignore", invalid="ignore"):
                stats = sums / counts
                empty = (
                    (counts == 0)
                    | ~np.isfinite(stats)
                    | (np.abs(sums) * np.finfo(float).tiny >= np.abs(counts))
                )
        elif strategy == "median":
            # numpy's masked median is computed in X's type
            stats, has_inf = mod.column_medians(buf, n, m, order, threads)
            stats = np.asarray(stats, dtype=X.dtype)
            empty = np.isnan(stats)
        else:
            stats, mixed_zeros, has_inf = mod.column_modes(buf, n, m, order, threads)
            stats = np.asarray(stats, dtype=np.float64)
            zeros = np.flatnonzero(mixed_zeros)
            for j in zeros:
                # -0.0 and +0.0 tie as the mode: the sign scipy returns
                # depends on numpy's sort, so let scikit-learn's code choose.
                col = X[:, j]
                stats[j] = _most_frequent(col[~np.isnan(col)], np.nan, 0)
            empty = np.isnan(stats)
            if len(zeros):
                impl = (
                    f"reference: most frequent value of columns {zeros.tolist()}"
                    " from scikit-learn (a zero mode of both signs)"
                )
        stats[empty] = 0 if self.keep_empty_features else np.nan
        self.stratum_impl_ = impl
        return stats, has_inf

    def _dense_fit(self, X, strategy, missing_values, fill_value):
        tb = table_buffer(X) if native() is not None else None
        if (
            tb is None
            or not is_scalar_nan(missing_values)
            or not isinstance(strategy, str)
            or strategy not in _NATIVE_STRATEGIES
        ):
            self.stratum_impl_ = (
                "reference: not a dense float table with NaN as missing value"
                if strategy != "constant"
                else "reference: strategy='constant' (nothing to compute)"
            )
            return super()._dense_fit(X, strategy, missing_values, fill_value)
        super()._fit_indicator(np.isnan(X) if self.add_indicator else None)
        # scikit-learn's validation has already rejected infinite values
        return self._native_statistics(X, strategy)[0]

    def _fused_reason(self, X, dtypes) -> str | None:
        if native() is None:
            return "the native extension is not built"
        if not is_scalar_nan(self.missing_values):
            return "missing_values is not NaN"
        if not isinstance(self.strategy, str) or self.strategy not in (
            _NATIVE_STRATEGIES
        ):
            return "strategy has no native statistics"
        if not self.copy or self.add_indicator:
            return "copy=False or add_indicator"
        if not is_float_table(X, float32=True, dtypes=dtypes):
            return "input is not a dense float table"
        return None

    def fit_transform(self, X, y=None, **fit_params):
        """See ``sklearn.impute.SimpleImputer.fit_transform``.

        On a dense float table the input is validated once, infinite values
        are detected by the statistics pass and the filled table is written
        straight from the input.
        """
        dtypes = frame_dtypes(X)
        if fit_params or self._fused_reason(X, dtypes) is not None:
            return super().fit_transform(X, y, **fit_params)
        return self._fit_transform(X, dtypes)

    @_fit_context(prefer_skip_nested_validation=True)
    def _fit_transform(self, X, dtypes):
        X_in = X
        # What fit's validation does, without its copy and finiteness pass.
        X = validate_data(
            self,
            X,
            reset=True,
            accept_sparse="csc",
            dtype=FLOAT_DTYPES if self.strategy in ("mean", "median") else None,
            ensure_all_finite=False,
            copy=False,
        )
        if table_buffer(X) is None:
            X = np.ascontiguousarray(X)
        self._fit_dtype = X.dtype
        self._fill_dtype = X.dtype
        stats, has_inf = self._native_statistics(X, self.strategy)
        if has_inf:
            check_finite(self, X)
        super()._fit_indicator(None)
        self.statistics_ = stats
        if np.isnan(self.statistics_).any():
            # columns to drop (and a warning): the general transform
            return self.transform(X_in)
        out = new_array_for(X, X_in, dtypes)
        self._fill(X, out, self.statistics_.astype(self._fill_dtype, copy=False))
        return out

    @staticmethod
    def _fill(X, out, values) -> bool:
        """Writes X with NaN replaced by ``values`` (one per column) into
        ``out``; returns whether X holds an infinite value."""
        X_buf, order = table_buffer(X)
        out_buf = X_buf if out is X else (out if order == "C" else out.T)
        n, m = X.shape
        return native().affine_transform(
            X_buf,
            out_buf,
            n,
            m,
            order,
            "fill",
            None,
            np.ascontiguousarray(values, dtype=np.float64),
            1.0,
            0.0,
            n_threads(),
        )

    def transform(self, X):
        """See ``sklearn.impute.SimpleImputer.transform``."""
        check_is_fitted(self)
        if (
            native() is None
            or not is_scalar_nan(self.missing_values)
            or not is_float_table(X, float32=True)
            or self._fill_dtype not in (np.float64, np.float32)
            or features_differ(self, X)
        ):
            return super().transform(X)
        X_in = X
        if self.copy:
            # scikit-learn's validation without its copy and finiteness pass:
            # the filling pass writes a new array and reports infinities.
            X = validate_data(
                self,
                X,
                reset=False,
                accept_sparse="csc",
                dtype=FLOAT_DTYPES if self.strategy in ("mean", "median") else None,
                ensure_all_finite=False,
                copy=False,
            )
            if table_buffer(X) is None:
                X = np.ascontiguousarray(X)
        else:
            X = self._validate_input(X, in_fit=False)
        statistics = self.statistics_
        if X.shape[1] != statistics.shape[0]:
            raise ValueError(
                "X has %d features per sample, expected %d"
                % (X.shape[1], self.statistics_.shape[0])
            )
        missing_mask = _get_mask(X, self.missing_values) if self.add_indicator else None
        if self.keep_empty_features:
            valid_statistics = statistics.astype(self._fill_dtype, copy=False)
        else:
            invalid_mask = _get_mask(statistics, np.nan)
            valid_statistics = statistics[~invalid_mask].astype(
                self._fill_dtype, copy=False
            )
            if invalid_mask.any():
                if self.copy:
                    check_finite(self, X)  # dropped columns included
                invalid_features = np.arange(X.shape[1])[invalid_mask]
                if hasattr(self, "feature_names_in_"):
                    invalid_features = self.feature_names_in_[invalid_features]
                warnings.warn(
                    "Skipping features without any observed values:"
                    f" {invalid_features}. At least one non-missing value is needed"
                    f" for imputation with strategy='{self.strategy}'."
                )
                X = X[:, np.flatnonzero(~invalid_mask)]
                if table_buffer(X) is None:
                    X = np.array(X, dtype=X.dtype, order="C")
                X_in = None  # a new array: fill it in place
        if not self.copy or X_in is None:
            out = X
        else:
            out = new_array_for(X, X_in)
        if self._fill(X, out, valid_statistics) and self.copy:
            check_finite(self, X)
        X_indicator = super()._transform_indicator(missing_mask)
        return super()._concatenate_indicator(out, X_indicator)
