"""Ridge fits that differ only in ``alpha``, sharing ``X^T X``.

For dense input without sample weights, scikit-learn's ``Ridge`` and
``RidgeClassifier`` with ``solver="auto"`` (or ``"cholesky"``) validate the
data, centre it (``_preprocess_data``), form ``A = X^T X`` and ``X^T y`` and
solve ``(A + alpha I) w = X^T y`` with ``scipy.linalg.solve(...,
assume_a="pos")``. Only the last step depends on ``alpha``. So the
configurations of a search that differ only in ``alpha`` form a *family*:
on each fold, one member (the *provider*) runs the steps up to ``X^T y`` and
stores them (a ``Gram``), and every member, the provider included, solves its
own ``alpha`` from them (``Lowering.share_families``).

The code below replays scikit-learn's own functions, in its order, on the
same arrays; only the products are computed once. Whatever the replay does
not cover (sparse input, more features than rows, the array API, a singular
system that scikit-learn then solves by SVD, fit arguments) runs the class's
own ``fit``. Checked against scikit-learn 1.9 (``VERIFIED``); with any other
version every fit is direct. ``tests/test_ridge.py`` compares both, value by
value.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

VERIFIED = ("1.9",)  # scikit-learn versions whose Ridge.fit the replay follows


@dataclass(frozen=True)
class GramShare:
    """A ridge fit that solves its ``alpha`` from its family's shared Gram."""

    gram_key: tuple  # the store key of the family's Gram on this fold
    provider: bool  # this fit computes the Gram (and writes it)
    source_label: str
    alpha: Any

    def describe(self) -> str:
        if self.provider:
            return "gram: X^T X computed once for its alpha family"
        return f"gram: alpha={self.alpha} solved from a shared X^T X"


@dataclass
class Gram:
    """What a ridge fit computes before it uses ``alpha``."""

    attributes: dict  # set on the estimator by validation (n_features_in_, ...)
    A: np.ndarray  # X^T X of the centred data
    Xy: np.ndarray  # X^T y (2-d)
    X_offset: Any
    y_offset: Any
    X_scale: Any
    dtype: Any
    n_targets: int


@dataclass(frozen=True)
class NoGram:
    """The provider's fit could not form a Gram: its members fit directly."""

    reason: str


def _classes() -> tuple[type, ...]:
    from sklearn.linear_model import Ridge, RidgeClassifier

    return (Ridge, RidgeClassifier)


def gram_param(estimator: Any) -> tuple[str | None, str | None]:
    """("alpha", None) when ``estimator``'s fits with other ``alpha`` values
    can share its ``X^T X``; (None, why not) for a ridge model where that
    would not be exact; (None, None) for other estimators."""
    if type(estimator).__module__.split(".")[0] != "sklearn":
        return None, None
    if type(estimator) not in _classes():  # a subclass may fit differently
        return None, None
    import sklearn

    version = ".".join(sklearn.__version__.split(".")[:2])
    if version not in VERIFIED:
        return None, f"scikit-learn {sklearn.__version__} not verified"
    params = estimator.get_params(deep=False)
    alpha = params["alpha"]
    if (
        not isinstance(alpha, Real)
        or isinstance(alpha, bool)
        or not math.isfinite(alpha)
        or alpha < 0
    ):
        return None, f"alpha={alpha!r} is not one non-negative number"
    if params["solver"] not in ("auto", "cholesky"):
        return None, f"solver={params['solver']!r} does not use X^T X"
    if params["positive"]:
        return None, "positive=True (solved by lbfgs)"
    if not params["copy_X"]:
        return None, "copy_X=False (the direct fit centres X in place)"
    return "alpha", None


def fit_with_gram(estimator: Any, share: GramShare, store: Any, ran: list) -> bool:
    """Make ``estimator.fit`` solve its ``alpha`` from the family's Gram in
    ``store`` (the provider computes and puts it first); ``ran`` gets an entry
    when it did. Falls back to the class's own fit wherever the replay does not
    apply. Returns False, leaving ``estimator`` alone, when it cannot."""
    if type(estimator) not in _classes() or gram_param(estimator)[0] is None:
        return False

    def fit(X, y=None, **kwargs):
        del estimator.fit  # the class's own fit again
        if kwargs or y is None:
            if share.provider:
                store.put(share.gram_key, NoGram("fit arguments"))
            return estimator.fit(X, y, **kwargs)
        return _shared_fit(estimator, X, y, share=share, store=store, ran=ran)

    estimator.fit = fit
    return True


def _fit_context(fit_method):
    from sklearn.base import _fit_context

    return _fit_context(prefer_skip_nested_validation=True)(fit_method)


@functools.cache
def _wrapped_shared_fit():
    return _fit_context(_shared_fit_body)


def _shared_fit(estimator, X, y, **kwargs):
    # Parameter validation, configuration and callbacks as the class's fit.
    return _wrapped_shared_fit()(estimator, X, y, **kwargs)


def _shared_fit_body(estimator, X, y, *, share, store, ran):
    direct = type(estimator).fit.__wrapped__  # inside the same fit context
    if share.provider:
        gram = _gram(estimator, X, y)
        store.put(share.gram_key, gram)
    else:
        gram = store.find(share.gram_key)
    if not isinstance(gram, Gram):
        return direct(estimator, X, y)
    if not _solve(estimator, gram):
        return direct(estimator, X, y)
    ran.append(share)
    return estimator


def _gram(estimator, X, y) -> Gram | NoGram:
    """``Ridge.fit`` / ``RidgeClassifier.fit`` up to ``X^T X`` and ``X^T y``
    (``_BaseRidge.fit``, then ``_ridge_regression`` and ``_solve_cholesky``
    with ``check_input=False``), setting what validation sets on
    ``estimator``."""
    from scipy import sparse
    from sklearn.linear_model import RidgeClassifier
    from sklearn.linear_model._base import _preprocess_data, _rescale_data
    from sklearn.linear_model._ridge import _get_valid_accept_sparse
    from sklearn.utils import check_consistent_length
    from sklearn.utils._array_api import (
        _is_numpy_namespace,
        get_namespace,
        get_namespace_and_device,
        move_to,
    )
    from sklearn.utils.extmath import safe_sparse_dot
    from sklearn.utils.validation import _check_sample_weight, validate_data

    before = dict(estimator.__dict__)
    sample_weight = None
    if isinstance(estimator, RidgeClassifier):
        X, y, sample_weight, Y = estimator._prepare_data(
            X, y, sample_weight, estimator.solver
        )
        y = Y
    else:
        accept = _get_valid_accept_sparse(sparse.issparse(X), estimator.solver)
        xp, _, device_ = get_namespace_and_device(X)
        y, sample_weight = move_to(y, sample_weight, xp=xp, device=device_)
        X, y = validate_data(
            estimator,
            X,
            y,
            accept_sparse=accept,
            dtype=[xp.float64, xp.float32],
            force_writeable=True,
            multi_output=True,
            y_numeric=True,
        )
    # _BaseRidge.fit (positive=False, solver "auto" or "cholesky")
    xp, _ = get_namespace(X, y, sample_weight)
    if not _is_numpy_namespace(xp):
        return NoGram("array API input")
    if sparse.issparse(X):
        return NoGram("sparse X")
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
    X, y, X_offset, y_offset, X_scale, _ = _preprocess_data(
        X,
        y,
        fit_intercept=estimator.fit_intercept,
        copy=estimator.copy_X,
        sample_weight=sample_weight,
        rescale_with_sw=False,
    )
    # _ridge_regression(check_input=False), solver "cholesky"
    X = np.asarray(X)
    check_consistent_length(X, y)
    n_samples, n_features = X.shape
    if y.ndim > 2:
        return NoGram("y has more than 2 dimensions")
    if y.ndim == 1:
        y = xp.reshape(y, (-1, 1))
    if y.shape[0] != n_samples:
        return NoGram("X and y lengths differ")
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        X, y, _ = _rescale_data(X, y, sample_weight)
    if n_features > n_samples:
        return NoGram("more features than rows (the kernel form)")
    # _solve_cholesky, before alpha
    A = safe_sparse_dot(X.T, X, dense_output=True)
    Xy = safe_sparse_dot(X.T, y, dense_output=True)
    attributes = {
        name: value
        for name, value in estimator.__dict__.items()
        if name not in before or before[name] is not value
    }
    return Gram(
        attributes, A, Xy, X_offset, y_offset, X_scale, X.dtype, int(y.shape[1])
    )


def _solve(estimator, gram: Gram) -> bool:
    """The rest of the fit: ``_ridge_regression``'s ``alpha`` handling,
    ``_solve_cholesky``'s solve and ``_set_intercept``. False (``estimator``
    to be fitted directly) where scikit-learn would take another path."""
    from scipy import linalg
    from sklearn.utils._array_api import _ravel

    n_targets = gram.n_targets
    alpha = _ravel(np.asarray(estimator.alpha, dtype=gram.dtype))
    if alpha.shape[0] != 1:
        return False
    if n_targets > 1:
        alpha = np.full((n_targets,), float(alpha[0]), dtype=alpha.dtype)
    if not np.array_equal(alpha, len(alpha) * [alpha[0]]):
        return False
    A = np.array(gram.A, order="K", copy=True)
    Xy = np.array(gram.Xy, order="K", copy=True)
    A.flat[:: A.shape[1] + 1] += alpha[0]
    try:
        coef = linalg.solve(A, Xy, assume_a="pos", overwrite_a=True).T
    except linalg.LinAlgError:  # scikit-learn then solves by SVD
        return False
    if n_targets == 1:
        coef = _ravel(coef)
    coef = np.asarray(coef)
    for name, value in gram.attributes.items():
        estimator.__dict__[name] = copy.deepcopy(value)
    estimator.coef_, estimator.n_iter_, estimator.solver_ = coef, None, "cholesky"
    estimator._set_intercept(gram.X_offset, gram.y_offset, gram.X_scale)
    return True
