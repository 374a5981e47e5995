"""Native drop-in for scikit-learn's ``TruncatedSVD`` on sparse input.

The randomized algorithm spends its time in products of the sparse matrix
(or its transpose) with thin dense matrices: ``2 * n_iter + 3`` of them per
``fit_transform``. scikit-learn's own ``_randomized_svd`` runs (the random
matrix, the LU / QR normalisations, the small SVD), given the matrix wrapped
in a :class:`SparseOperand` whose products run in Rust, on the thread budget,
with scipy's order of operations, so that every result is scikit-learn's bit
for bit. Dense input, ``algorithm="arpack"`` and data other than float32 /
float64 run scikit-learn's code; ``stratum_impl_`` says which ran.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn import decomposition, get_config
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils.extmath import svd_flip
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import check_is_fitted, validate_data

from ._dense import native
from ._sparse import FLOATS, SparseOperand

try:
    from sklearn.utils.extmath import _randomized_svd
except ImportError:  # pragma: no cover - an older scikit-learn
    _randomized_svd = None

__all__ = ["TruncatedSVD"]

NATIVE = "native"


class TruncatedSVD(decomposition.TruncatedSVD):
    """scikit-learn's ``TruncatedSVD`` whose sparse products run natively.

    Same parameters, fitted attributes and outputs as
    :class:`sklearn.decomposition.TruncatedSVD`; ``stratum_impl_`` says which
    code ran.
    """

    reference = decomposition.TruncatedSVD

    @classmethod
    def unsupported(cls, estimator: Any) -> str | None:
        """Why ``estimator``'s parameters cannot run natively (None: they can)."""
        if estimator.algorithm != "randomized":
            return f"algorithm={estimator.algorithm!r}"
        if _randomized_svd is None:
            return "this scikit-learn has no _randomized_svd"
        return None

    def _reason(self, X) -> str | None:
        if native() is None:
            return "the native extension is not built"
        reason = self.unsupported(self)
        if reason is not None:
            return reason
        if not sp.issparse(X):
            return "dense input"
        if get_config()["array_api_dispatch"]:
            return "array_api_dispatch is on"
        if X.dtype not in FLOATS:
            return f"{X.dtype} data"
        return None

    def fit_transform(self, X, y=None):
        """See ``sklearn.decomposition.TruncatedSVD.fit_transform``."""
        reason = self._reason(X)
        if reason is not None:
            self.stratum_impl_ = f"reference: {reason}"
            return super().fit_transform(X, y)
        return self._fit_transform(X)

    @_fit_context(prefer_skip_nested_validation=True)
    def _fit_transform(self, X):
        # scikit-learn's randomized branch, on the native operand
        X = validate_data(self, X, accept_sparse=["csr", "csc"], ensure_min_features=2)
        random_state = check_random_state(self.random_state)
        if self.n_components > X.shape[1]:
            raise ValueError(
                f"n_components({self.n_components}) must be <="
                f" n_features({X.shape[1]})."
            )
        operand = SparseOperand(X)
        U, Sigma, VT = _randomized_svd(
            operand,
            self.n_components,
            n_iter=self.n_iter,
            n_oversamples=self.n_oversamples,
            power_iteration_normalizer=self.power_iteration_normalizer,
            random_state=random_state,
            flip_sign=False,
        )
        U, VT = svd_flip(U, VT, u_based_decision=False)
        self.components_ = VT
        X_transformed = operand @ self.components_.T
        self.explained_variance_ = exp_var = np.var(X_transformed, axis=0)
        _, full_var = mean_variance_axis(X, axis=0)
        self.explained_variance_ratio_ = exp_var / full_var.sum()
        self.singular_values_ = Sigma
        self.stratum_impl_ = NATIVE
        return X_transformed

    def transform(self, X):
        """See ``sklearn.decomposition.TruncatedSVD.transform``.

        Sparse float input of the components' type is multiplied natively
        (``stratum_impl_`` describes the fit: a transform must not change
        the estimator).
        """
        if native() is None or not sp.issparse(X) or X.dtype not in FLOATS:
            return super().transform(X)
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        return SparseOperand(X) @ self.components_.T
