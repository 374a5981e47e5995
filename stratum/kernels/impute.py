"""Native drop-in for scikit-learn's ``SimpleImputer``.

For dense float64 or float32 tables with NaN as the missing value, the
statistics (mean, median, most frequent) are computed in Rust, one column per
task, and the transform fills the missing cells in one pass. The mean uses
numpy's summation order in the table's type, the median is numpy's masked
median (the middle value, or the mean of the middle pair, in the table's
type), the most frequent value is the smallest of the most frequent ones, as
in scikit-learn. Everything else (sparse input, other missing markers, object
data, callable strategies) runs scikit-learn's code.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import impute
from sklearn.utils._mask import _get_mask
from sklearn.utils._missing import is_scalar_nan
from sklearn.utils.validation import check_is_fitted

from ._dense import is_float_table, n_threads, native, table_buffer

__all__ = ["SimpleImputer"]

_NATIVE_STRATEGIES = ("mean", "median", "most_frequent")


class SimpleImputer(impute.SimpleImputer):
    """scikit-learn's ``SimpleImputer`` with native dense float64 statistics
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
        buf, order = tb
        n, m = X.shape
        super()._fit_indicator(np.isnan(X) if self.add_indicator else None)
        mod, threads = native(), n_threads()
        if strategy == "mean":
            counts, sums = mod.column_stats(buf, n, m, order, threads)
            counts = n - np.asarray(counts, dtype=np.int64)
            # numpy's masked mean: the sum in X's type, times 1.0, over the count
            with np.errstate(divide="ignore", invalid="ignore"):
                stats = np.asarray(sums, dtype=X.dtype) * 1.0 / counts
            empty = counts == 0
        elif strategy == "median":
            # numpy's masked median is computed in X's type
            stats = mod.column_medians(buf, n, m, order, threads)
            stats = np.asarray(stats, dtype=X.dtype)
            empty = np.isnan(stats)
        else:
            stats = mod.column_modes(buf, n, m, order, threads)
            stats = np.asarray(stats, dtype=np.float64)
            empty = np.isnan(stats)
        stats[empty] = 0 if self.keep_empty_features else np.nan
        self.stratum_impl_ = "native"
        return stats

    def transform(self, X):
        """See ``sklearn.impute.SimpleImputer.transform``."""
        check_is_fitted(self)
        if (
            native() is None
            or not is_scalar_nan(self.missing_values)
            or not is_float_table(X, float32=True)
            or self._fill_dtype not in (np.float64, np.float32)
        ):
            return super().transform(X)
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
        buf, order = table_buffer(X)
        n, m = X.shape
        native().affine_transform(
            buf,
            buf,
            n,
            m,
            order,
            "fill",
            None,
            np.ascontiguousarray(valid_statistics, dtype=np.float64),
            1.0,
            0.0,
            n_threads(),
        )
        X_indicator = super()._transform_indicator(missing_mask)
        return super()._concatenate_indicator(X, X_indicator)
