"""Native drop-ins for scikit-learn's ``StandardScaler`` and ``MinMaxScaler``.

On dense float64 and float32 tables (numpy arrays or all-float DataFrames)
the column statistics are computed in Rust with numpy's exact summation
order (see ``native/src/scalers.rs``), then combined with scikit-learn's own
formulas; transforms are one fused pass instead of numpy's two or three.
Validation runs once, without scikit-learn's separate finiteness pass: the
kernels report infinite values and scikit-learn's check then raises its
error. ``fit_transform`` validates once and writes the result straight from
the input. Sparse input, ``sample_weight``, repeated ``partial_fit`` calls
and anything else run scikit-learn's code. ``StandardScaler`` accumulates
float32 sums in float64 as scikit-learn does, but not in numpy's buffered
order: those results agree to ~1e-12, not bit for bit.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import preprocessing
from sklearn.base import _fit_context
from sklearn.preprocessing._data import _handle_zeros_in_scale, _is_constant_feature
from sklearn.utils._array_api import supported_float_dtypes
from sklearn.utils.validation import check_is_fitted, validate_data

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

__all__ = ["MinMaxScaler", "StandardScaler", "column_sums"]


def column_sums(X: np.ndarray, buf: np.ndarray, order: str, wide: bool = False):
    """Per-column NaN counts (int64) and sums with NaN as 0 (numpy's order;
    float32 tables are summed in float32, or in float64 with ``wide``)."""
    n, m = X.shape
    counts, sums = native().column_stats(buf, n, m, order, n_threads(), wide)
    return np.asarray(counts, dtype=np.int64), np.asarray(sums, dtype=np.float64)


def _is_float32(X) -> bool:
    """Whether validation keeps ``X`` (a float table) in float32."""
    if isinstance(X, np.ndarray):
        return X.dtype == np.float32
    return set(X.dtypes) == {np.dtype(np.float32)}


def _transform_into(estimator, X, out, kind, a, b, lo=1.0, hi=0.0):
    X_buf, order = table_buffer(X)
    out_buf = X_buf if out is X else (out if order == "C" else out.T)
    n, m = X.shape
    has_inf = native().affine_transform(
        X_buf, out_buf, n, m, order, kind, a, b, float(lo), float(hi), n_threads()
    )
    if has_inf:
        check_finite(estimator, X)


def _dense_output(self, X, copy: bool):
    """Validated X (reset=False) and the array to write the result into.

    Infinite values are checked for by the kernel when writing into a new
    array, and by scikit-learn's validation before changing X in place.
    """
    X_in = X
    X = validate_data(
        self,
        X,
        reset=False,
        copy=False,
        dtype=supported_float_dtypes(np),
        force_writeable=not copy,
        ensure_all_finite=False if copy else "allow-nan",
    )
    if table_buffer(X) is None:
        X = np.array(X, dtype=X.dtype, order="C")
        return X, X
    out = new_array_for(X, X_in) if copy else X
    return X, out


class StandardScaler(preprocessing.StandardScaler):
    """scikit-learn's ``StandardScaler`` with native dense float64 fits and
    transforms."""

    reference = preprocessing.StandardScaler

    @classmethod
    def unsupported(cls, estimator) -> str | None:
        """Why ``estimator``'s parameters cannot run natively (None: they can)."""
        return None

    def _native_fit_reason(self, X, sample_weight) -> str | None:
        if native() is None:
            return "the native extension is not built"
        if sample_weight is not None:
            return "sample_weight is given"
        if hasattr(self, "n_samples_seen_"):
            return "incremental partial_fit"
        if not is_float_table(X, kinds="iub", float32=True):
            return "input is not a dense float64/float32 table"
        return None

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """See ``sklearn.preprocessing.StandardScaler.partial_fit``."""
        reason = self._native_fit_reason(X, sample_weight)
        if reason is not None:
            self.stratum_impl_ = f"reference: {reason}"
            return super().partial_fit(X, y, sample_weight)
        self._fit_table(X, y)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """See ``sklearn.preprocessing.StandardScaler.fit_transform``.

        On a dense table the input is validated once and the result written
        straight from it (into the validated table itself when validation
        already copied it).
        """
        dtypes = frame_dtypes(X)
        if (
            fit_params
            or not self.copy
            or native() is None
            or not is_float_table(X, kinds="iub", float32=True, dtypes=dtypes)
        ):
            return super().fit_transform(X, y, **fit_params)
        return self._fit_transform(X, y, dtypes)

    @_fit_context(prefer_skip_nested_validation=True)
    def _fit_transform(self, X, y, dtypes):
        X_in = X
        self._reset()
        X = self._fit_table(X, y)
        out = new_array_for(X, X_in, dtypes)
        self._scale_into(X, out)
        return out

    def _fit_table(self, X, y) -> np.ndarray:
        """Fit on a dense table (first fit); returns the validated table."""
        sample_weight = None
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=supported_float_dtypes(np),
            ensure_all_finite=False,
            reset=True,
        )
        tb = table_buffer(X)
        if tb is None:
            X = np.ascontiguousarray(X)
            tb = table_buffer(X)
        buf, order = tb
        n_samples, n_features = X.shape
        callback_ctx = self._init_callback_context()
        callback_ctx.call_on_fit_task_begin(
            estimator=self, X=X, y=y, metadata={"sample_weight": sample_weight}
        )
        last_count = np.zeros(n_features, dtype=np.int64)
        nan_counts, new_sum = column_sums(X, buf, order, wide=True)
        if not np.isfinite(new_sum).all():
            check_finite(self, X)  # an infinity (or an overflow)
        if not self.with_mean and not self.with_std:
            self.mean_ = None
            self.var_ = None
            self.n_samples_seen_ = last_count + (n_samples - nan_counts)
        else:
            # scikit-learn's _incremental_mean_and_var from an empty state,
            # on the column sums computed natively.
            last_mean = 0.0
            last_variance = 0.0 if self.with_std else None
            last_sum = last_mean * last_count
            new_count = n_samples - nan_counts.astype(np.float64)
            updated_count = last_count + new_count
            updated_mean = (last_sum + new_sum) / updated_count
            if last_variance is None:
                updated_variance = None
            else:
                T = new_sum / new_count
                correction, new_unnormalized = native().centered_sums(
                    buf,
                    n_samples,
                    n_features,
                    order,
                    np.ascontiguousarray(T),
                    n_threads(),
                )
                correction = np.asarray(correction)
                new_unnormalized = np.asarray(new_unnormalized)
                new_unnormalized -= correction**2 / new_count
                last_unnormalized = last_variance * last_count
                with np.errstate(divide="ignore", invalid="ignore"):
                    last_over_new = last_count / new_count
                    updated_unnormalized = (
                        last_unnormalized
                        + new_unnormalized
                        + last_over_new
                        / updated_count
                        * (last_sum / last_over_new - new_sum) ** 2
                    )
                zeros = last_count == 0
                updated_unnormalized[zeros] = new_unnormalized[zeros]
                updated_variance = updated_unnormalized / updated_count
            self.mean_, self.var_ = updated_mean, updated_variance
            self.n_samples_seen_ = updated_count
        if np.max(self.n_samples_seen_) == np.min(self.n_samples_seen_):
            self.n_samples_seen_ = self.n_samples_seen_[0]
        if self.with_std:
            constant_mask = _is_constant_feature(
                self.var_, self.mean_, self.n_samples_seen_
            )
            self.scale_ = _handle_zeros_in_scale(
                np.sqrt(self.var_), copy=False, constant_mask=constant_mask
            )
        else:
            self.scale_ = None
        callback_ctx.call_on_fit_task_end(
            estimator=self,
            X=X,
            y=y,
            metadata={"sample_weight": sample_weight},
            reconstruction_attributes={},
        )
        self.stratum_impl_ = "native"
        return X

    def transform(self, X, copy=None):
        """See ``sklearn.preprocessing.StandardScaler.transform``."""
        check_is_fitted(self)
        copy = copy if copy is not None else self.copy
        if (
            native() is None
            or not is_float_table(X, kinds="iub", float32=True)
            or features_differ(self, X)
        ):
            return super().transform(X, copy=copy)
        X, out = _dense_output(self, X, copy)
        self._scale_into(X, out)
        return out

    def _scale_into(self, X, out) -> None:
        mean = np.ascontiguousarray(self.mean_) if self.with_mean else None
        scale = np.ascontiguousarray(self.scale_) if self.with_std else None
        if mean is not None:
            mean = np.broadcast_to(mean, (X.shape[1],)).astype(np.float64)
        if scale is not None:
            scale = np.broadcast_to(scale, (X.shape[1],)).astype(np.float64)
        _transform_into(self, X, out, "standard", mean, scale)


class MinMaxScaler(preprocessing.MinMaxScaler):
    """scikit-learn's ``MinMaxScaler`` with native dense float fits and
    transforms."""

    reference = preprocessing.MinMaxScaler

    @classmethod
    def unsupported(cls, estimator) -> str | None:
        """Why ``estimator``'s parameters cannot run natively (None: they can)."""
        return None

    def _native_reason(self, X, dtypes=None) -> str | None:
        if native() is None:
            return "the native extension is not built"
        feature_range = self.feature_range
        if feature_range[0] >= feature_range[1]:
            return "feature_range is not increasing"
        if not is_float_table(X, kinds="iub", float32=True, dtypes=dtypes):
            return "input is not a dense float table"
        return None

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """See ``sklearn.preprocessing.MinMaxScaler.partial_fit``."""
        reason = self._native_reason(X)
        if reason is None and hasattr(self, "n_samples_seen_"):
            reason = "incremental partial_fit"
        if reason is not None:
            self.stratum_impl_ = f"reference: {reason}"
            return super().partial_fit(X, y)
        self._fit_table(X)
        return self

    def _fit_table(self, X) -> np.ndarray:
        """Fit on a dense table (first fit); returns the validated table."""
        X = validate_data(
            self,
            X,
            reset=True,
            dtype=supported_float_dtypes(np),
            ensure_all_finite=False,
        )
        tb = table_buffer(X)
        if tb is None:
            X = np.ascontiguousarray(X)
            tb = table_buffer(X)
        buf, order = tb
        n, m = X.shape
        data_min, data_max, mixed_zeros = native().column_min_max(
            buf, n, m, order, n_threads()
        )
        # float32 extremes are float32 values: the conversion is exact
        data_min = np.asarray(data_min, dtype=X.dtype)
        data_max = np.asarray(data_max, dtype=X.dtype)
        if np.isinf(data_min).any() or np.isinf(data_max).any():
            check_finite(self, X)
        impl = "native"
        if any(mixed_zeros):
            # A zero extreme in a column holding both -0.0 and +0.0: which
            # zero numpy returns depends on its SIMD lanes, so ask numpy
            # (which also warns about all-NaN columns itself).
            data_min = np.nanmin(X, axis=0)
            data_max = np.nanmax(X, axis=0)
            impl = "reference: extremes from numpy (a zero extreme of both signs)"
        elif np.isnan(data_min).any():
            # numpy's nanmin and nanmax each warn
            for _ in range(2):
                warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=3)
        lo = np.asarray(self.feature_range[0], dtype=X.dtype)
        hi = np.asarray(self.feature_range[1], dtype=X.dtype)
        self.n_samples_seen_ = n
        data_range = data_max - data_min
        self.scale_ = (hi - lo) / _handle_zeros_in_scale(data_range, copy=True)
        self.min_ = lo - data_min * self.scale_
        self.data_min_ = data_min
        self.data_max_ = data_max
        self.data_range_ = data_range
        self.stratum_impl_ = impl
        return X

    def fit_transform(self, X, y=None, **fit_params):
        """See ``sklearn.preprocessing.MinMaxScaler.fit_transform``.

        On a dense table the input is validated once and the result written
        straight from it (into the validated table itself when validation
        already copied it).
        """
        dtypes = frame_dtypes(X)
        if fit_params or not self.copy or self._native_reason(X, dtypes):
            return super().fit_transform(X, y, **fit_params)
        return self._fit_transform(X, dtypes)

    @_fit_context(prefer_skip_nested_validation=True)
    def _fit_transform(self, X, dtypes):
        X_in = X
        self._reset()
        X = self._fit_table(X)
        out = new_array_for(X, X_in, dtypes)
        self._scale_into(X, out)
        return out

    def _scale_into(self, X, out) -> None:
        lo, hi = self.feature_range if self.clip else (1.0, 0.0)
        _transform_into(
            self,
            X,
            out,
            "minmax",
            np.ascontiguousarray(self.scale_, dtype=np.float64),
            np.ascontiguousarray(self.min_, dtype=np.float64),
            lo,
            hi,
        )

    def transform(self, X):
        """See ``sklearn.preprocessing.MinMaxScaler.transform``."""
        check_is_fitted(self)
        if (
            native() is None
            or not is_float_table(X, kinds="iub", float32=True)
            or features_differ(self, X)
        ):
            return super().transform(X)
        if _is_float32(X) and np.asarray(self.scale_).dtype != np.float32:
            # numpy multiplies a float32 table by float64 statistics in
            # float64 and rounds once; the kernel works in the table's type.
            return super().transform(X)
        X, out = _dense_output(self, X, self.copy)
        self._scale_into(X, out)
        return out
