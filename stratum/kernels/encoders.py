"""Native drop-ins for scikit-learn's ``OneHotEncoder`` and ``OrdinalEncoder``.

scikit-learn finds the categories of an object column with Python sets and
``sorted`` and encodes it with a dict lookup per value. Here, string columns
(``str`` values, ``None`` and NaN) are hashed and sorted in Rust, in parallel,
with the GIL released; everything else (validation, infrequent categories,
``drop``, output construction, errors) is scikit-learn's own code, reached
through the encoders' ``_fit`` / ``_transform`` hooks. Columns of any other
kind (numbers, mixed types, bytes) take scikit-learn's path.
"""

from __future__ import annotations

import numpy as np
from sklearn import preprocessing
from sklearn.utils._encode import _check_unknown, _encode, _unique
from sklearn.utils._missing import is_scalar_nan
from sklearn.utils.validation import validate_data

from ._dense import n_threads, native

__all__ = ["OneHotEncoder", "OrdinalEncoder"]


def _object_column(Xi) -> np.ndarray | None:
    if not isinstance(Xi, np.ndarray) or Xi.ndim != 1 or Xi.dtype != object:
        return None
    return np.ascontiguousarray(Xi)


def unique_strings(Xi) -> tuple[np.ndarray, np.ndarray] | None:
    """``sklearn.utils._encode._unique(Xi, return_counts=True)`` for an object
    column of ``str`` / ``None`` / NaN, or None for any other column."""
    mod, col = native(), _object_column(Xi)
    if mod is None or col is None:
        return None
    result = mod.unique_strings(col, n_threads())
    if result is None:
        return None
    first, counts, n_none, n_nan = result
    missing = [None] * (n_none > 0) + [np.nan] * (n_nan > 0)
    cats = np.empty(len(first) + len(missing), dtype=object)
    cats[: len(first)] = col[np.asarray(first, dtype=np.intp)]
    for k, value in enumerate(missing):
        cats[len(first) + k] = value
    counts = counts + [n_none] * (n_none > 0) + [n_nan] * (n_nan > 0)
    return cats, np.asarray(counts, dtype=np.int64)


def encode_strings(Xi, categories) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Codes of ``Xi`` in ``categories`` (0 where unknown), the mask of known
    values and the number of unknown ones; None unless both are object
    arrays of ``str`` / ``None`` / NaN."""
    mod, col = native(), _object_column(Xi)
    cats = _object_column(categories)
    if mod is None or col is None or cats is None:
        return None
    codes = np.empty(col.shape[0], dtype=np.int64)
    valid = np.empty(col.shape[0], dtype=bool)
    unknown = mod.encode_strings(col, cats, codes, valid, n_threads())
    if unknown is None:
        return None
    return codes, valid, unknown


class _NativeEncoderMixin:
    """``_fit`` / ``_transform`` of ``_BaseEncoder`` with native string columns."""

    @classmethod
    def unsupported(cls, estimator) -> str | None:
        """Why ``estimator``'s parameters cannot run natively (None: they can)."""
        return None

    def _fit(
        self,
        X,
        handle_unknown="error",
        ensure_all_finite=True,
        return_counts=False,
        return_and_ignore_missing_for_infrequent=False,
    ):
        if not (isinstance(self.categories, str) and self.categories == "auto"):
            self.stratum_impl_ = "reference: categories are given"
            return super()._fit(
                X,
                handle_unknown=handle_unknown,
                ensure_all_finite=ensure_all_finite,
                return_counts=return_counts,
                return_and_ignore_missing_for_infrequent=(
                    return_and_ignore_missing_for_infrequent
                ),
            )
        self._check_infrequent_enabled()
        validate_data(self, X=X, reset=True, skip_check_array=True)
        X_list, n_samples, n_features = self._check_X(
            X, ensure_all_finite=ensure_all_finite
        )
        self.n_features_in_ = n_features
        compute_counts = return_counts or self._infrequent_enabled
        categories, category_counts, reference_columns = [], [], []
        for i, Xi in enumerate(X_list):
            result = unique_strings(Xi)
            if result is None:
                reference_columns.append(i)
                result = _unique(Xi, return_counts=compute_counts)
                cats, counts = result if compute_counts else (result, None)
            else:
                cats, counts = result
            categories.append(cats)
            if compute_counts:
                category_counts.append(counts)
        self.categories_ = categories
        if reference_columns:
            self.stratum_impl_ = (
                f"reference: columns {reference_columns} are not string columns"
                " (the others ran natively)"
            )
        else:
            self.stratum_impl_ = "native"

        output = {"n_samples": n_samples}
        if return_counts:
            output["category_counts"] = category_counts
        missing_indices = {}
        if return_and_ignore_missing_for_infrequent:
            for feature_idx, cats in enumerate(self.categories_):
                if is_scalar_nan(cats[-1]):
                    missing_indices[feature_idx] = cats.size - 1
            output["missing_indices"] = missing_indices
        if self._infrequent_enabled:
            self._fit_infrequent_category_mapping(
                n_samples, category_counts, missing_indices
            )
        return output

    def _transform(
        self,
        X,
        handle_unknown="error",
        ensure_all_finite=True,
        warn_on_unknown=False,
        ignore_category_indices=None,
    ):
        def reference():
            return super(_NativeEncoderMixin, self)._transform(
                X,
                handle_unknown=handle_unknown,
                ensure_all_finite=ensure_all_finite,
                warn_on_unknown=warn_on_unknown,
                ignore_category_indices=ignore_category_indices,
            )

        if native() is None:
            return reference()
        X_list, n_samples, n_features = self._check_X(
            X, ensure_all_finite=ensure_all_finite
        )
        if n_features != len(self.categories_):
            return reference()  # raises scikit-learn's error
        X_int = np.zeros((n_features, n_samples), dtype=int)
        X_mask = np.ones((n_features, n_samples), dtype=bool)
        for i, Xi in enumerate(X_list):
            result = encode_strings(Xi, self.categories_[i])
            if result is None:
                # scikit-learn's own per-column path (numeric columns)
                _, valid = _check_unknown(Xi, self.categories_[i], return_mask=True)
                if not np.all(valid):
                    return reference()
                X_int[i] = _encode(Xi, uniques=self.categories_[i], check_unknown=False)
                continue
            codes, valid, unknown = result
            if unknown and (handle_unknown == "error" or warn_on_unknown):
                return reference()  # scikit-learn's error or warning
            X_int[i] = codes
            if unknown:
                X_mask[i] = valid
        validate_data(self, X=X, reset=False, skip_check_array=True)
        X_int = np.ascontiguousarray(X_int.T)
        X_mask = np.ascontiguousarray(X_mask.T)
        self._map_infrequent_categories(X_int, X_mask, ignore_category_indices)
        return X_int, X_mask


class OneHotEncoder(_NativeEncoderMixin, preprocessing.OneHotEncoder):
    """scikit-learn's ``OneHotEncoder`` with native string columns."""

    reference = preprocessing.OneHotEncoder


class OrdinalEncoder(_NativeEncoderMixin, preprocessing.OrdinalEncoder):
    """scikit-learn's ``OrdinalEncoder`` with native string columns."""

    reference = preprocessing.OrdinalEncoder
