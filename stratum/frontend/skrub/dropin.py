"""Make skrub's own entry points run on stratum's engine.

Importing this module (which ``import stratum`` does as soon as skrub is
imported) routes ``ParamSearch.fit`` (``make_grid_search``,
``make_randomized_search`` with the sklearn backend) and ``cross_validate``
(``skrub.cross_validate``, ``.skb.cross_validate``) through stratum while
``get_config()["engine"] == "stratum"``; with ``engine="skrub"`` the original
skrub functions run. Everything else in skrub is untouched.
"""

from __future__ import annotations

import functools
import warnings

import skrub
import skrub._data_ops as _data_ops_pkg
from skrub._data_ops import _estimator, _optuna, _skrub_namespace

from ..._config import get_config
from ...options import ExecutionOptions

# This module is imported as soon as skrub is (``stratum._skrub_hook``), possibly
# in the middle of importing a stratum module: the engine is imported on the
# first search or cross-validation, not here.

_original_fit = _estimator.ParamSearch.fit
_original_optuna_fit = _optuna.OptunaParamSearch.fit
_original_cross_validate = _estimator.cross_validate
_installed = False
_delegate = None


class StratumFallbackWarning(UserWarning):
    """A pipeline was evaluated by plain skrub instead of stratum's engine."""


def _skrub_n_jobs(n_jobs: int | None) -> int:
    """skrub's meaning of a search's ``n_jobs`` (scikit-learn's: None is 1),
    whatever stratum's own default is."""
    return 1 if n_jobs is None else n_jobs


@functools.wraps(_original_fit)
def _fit(self, environment):
    if get_config()["engine"] != "stratum":
        return _original_fit(self, environment)
    if _delegate is not None:
        delegated = _delegate.search(self, environment)
        if delegated is not None:
            return delegated
    from .searches import fit_param_search

    options = ExecutionOptions.resolve(
        n_jobs=_skrub_n_jobs(getattr(self.search, "n_jobs", None))
    )
    result = fit_param_search(self, environment, options)
    if result is None:
        reason = getattr(self, "_stratum_fallback", "not plannable")
        warnings.warn(
            f"stratum: this search is evaluated by skrub ({reason})",
            StratumFallbackWarning,
            stacklevel=2,
        )
        return _original_fit(self, environment)
    return result


@functools.wraps(_original_optuna_fit)
def _optuna_fit(self, environment):
    if get_config()["engine"] == "stratum":
        warnings.warn(
            "stratum: searches with backend='optuna' are evaluated by skrub "
            "(optuna proposes configurations one by one, which stratum does not "
            "batch yet)",
            StratumFallbackWarning,
            stacklevel=2,
        )
    return _original_optuna_fit(self, environment)


@functools.wraps(_original_cross_validate)
def _cross_validate(learner, environment, *, keep_subsampling=False, cv=None, **kwargs):
    if get_config()["engine"] == "stratum" and _delegate is not None:
        result = _delegate.cross_validate(
            learner, environment, keep_subsampling=keep_subsampling, cv=cv, **kwargs
        )
        if result is not None:
            return result
    if get_config()["engine"] == "stratum":
        from .cross_validation import cross_validate_on_engine

        result = cross_validate_on_engine(
            learner,
            environment,
            ExecutionOptions.resolve(n_jobs=_skrub_n_jobs(kwargs.get("n_jobs"))),
            keep_subsampling=keep_subsampling,
            cv=cv,
            **kwargs,
        )
        if result is not None:
            return result
    return _original_cross_validate(
        learner, environment, keep_subsampling=keep_subsampling, cv=cv, **kwargs
    )


def install() -> None:
    """Patch skrub's entry points (idempotent)."""
    global _installed
    if _installed:
        return
    _estimator.ParamSearch.fit = _fit
    _optuna.OptunaParamSearch.fit = _optuna_fit
    for module in (_estimator, _skrub_namespace, _data_ops_pkg, skrub):
        if getattr(module, "cross_validate", None) is _original_cross_validate:
            module.cross_validate = _cross_validate
    _installed = True


def set_delegate(delegate):
    """Send skrub's searches and cross-validations to ``delegate`` (or stop:
    ``None``); return the previous one.

    ``delegate.search(param_search, environment)`` and
    ``delegate.cross_validate(learner, environment, **kwargs)`` return the
    result, or None to evaluate here as usual.
    """
    global _delegate
    previous, _delegate = _delegate, delegate
    return previous


def original_cross_validate(*args, **kwargs):
    return _original_cross_validate(*args, **kwargs)


install()
