"""``stratum.patch_sklearn()``: scikit-learn's ``GridSearchCV.fit``,
``RandomizedSearchCV.fit``, ``cross_validate`` and ``cross_val_score`` run on
stratum's engine.

The patched ``fit`` runs the search on stratum as ``stratum.search`` does
and takes on the fitted attributes of the result (its
``cv_results_``, ``best_*``, refitted estimator: scikit-learn's own, see
``frontend.sklearn.searches``), and returns ``self``, as scikit-learn's does.
The patched ``cross_validate`` (which ``cross_val_score`` calls) runs a
search of one candidate (``frontend.sklearn.cross_validation``). Each calls
scikit-learn's own code instead where stratum cannot plan the call (a
subclass, fit parameters, ``return_estimator=True``, ...; with a warning
saying why), and for any call made while stratum is running a search (its
own replay fits one). ``unpatch_sklearn()`` puts the originals back. Names
imported before patching (``from sklearn.model_selection import
cross_validate``) keep the original; ``cross_val_predict`` is not patched.
"""

from __future__ import annotations

import functools
import threading
import warnings

import sklearn.model_selection
import sklearn.model_selection._validation as validation
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

_CLASSES = (GridSearchCV, RandomizedSearchCV)
_MODULES = (sklearn.model_selection, validation)  # where cross_validate lives
# class -> its own ``fit`` (None: it inherits it); module -> its cross_validate
_originals: dict = {}
_local = threading.local()
_lock = threading.Lock()


def patch_sklearn() -> None:
    """Run ``GridSearchCV.fit``, ``RandomizedSearchCV.fit``,
    ``cross_validate`` and ``cross_val_score`` on stratum."""
    with _lock:
        for cls in _CLASSES:
            if cls not in _originals:
                _originals[cls] = cls.__dict__.get("fit")
                cls.fit = _patched(cls, cls.fit)
        for module in _MODULES:
            if module not in _originals:
                _originals[module] = module.cross_validate
                module.cross_validate = _cross_validate(module.cross_validate)


def unpatch_sklearn() -> None:
    """Undo :func:`patch_sklearn`."""
    with _lock:
        for owner, own in _originals.items():
            if owner in _MODULES:
                owner.cross_validate = own
            elif own is None:
                del owner.fit  # inherited again
            else:
                owner.fit = own
        _originals.clear()


def _run_one(search, data: tuple):
    """Run one search on stratum (``searches.run_searches``): its entry; the
    error its fit raised is raised."""
    from ...options import ExecutionOptions
    from .searches import SklearnSearch, run_searches

    entry = SklearnSearch("search", search)
    _local.running = True
    try:
        batch, _ = run_searches([entry], data, ExecutionOptions.resolve())
    finally:
        _local.running = False
    if batch is not None:
        batch.release()
    if entry.error is not None:  # as scikit-learn's own fit would raise
        raise entry.error
    return entry


def _patched(cls: type, original):
    @functools.wraps(original)
    def fit(self, X, y=None, **params):
        planned = type(self) is cls and set(params) <= {"groups"}
        if not planned or getattr(_local, "running", False):
            return original(self, X, y, **params)
        fitted = _run_one(self, (X, y, params.get("groups"))).fitted
        for name, value in vars(fitted).items():
            if name.endswith("_") and not name.startswith("__"):
                setattr(self, name, value)
        return self

    return fit


def _cross_validate(original):
    @functools.wraps(original)
    def cross_validate(estimator, X, y=None, **kwargs):
        from .cross_validation import as_search, planned, results_of
        from .searches import why_not_planned

        arguments = {**_CROSS_VALIDATE_DEFAULTS, **kwargs}
        if getattr(_local, "running", False) or set(kwargs) - set(arguments):
            return original(estimator, X, y, **kwargs)
        search = as_search(
            estimator,
            arguments["cv"],
            arguments["scoring"],
            arguments["error_score"],
            arguments["return_train_score"],
        )
        why = planned(arguments["return_estimator"], arguments["params"])
        why = why or why_not_planned(search, X)
        if why is not None:
            warnings.warn(f"stratum: cross_validate runs on scikit-learn: {why}")
            return original(estimator, X, y, **kwargs)
        entry = _run_one(search, (X, y, arguments["groups"]))
        if entry.times is None:  # a candidate stratum could not plan
            return original(estimator, X, y, **kwargs)
        return results_of(
            entry, arguments["return_train_score"], arguments["return_indices"]
        )

    return cross_validate


_CROSS_VALIDATE_DEFAULTS = {
    "groups": None,
    "scoring": None,
    "cv": None,
    "n_jobs": None,
    "verbose": 0,
    "params": None,
    "pre_dispatch": "2*n_jobs",
    "return_train_score": False,
    "return_estimator": False,
    "return_indices": False,
    "error_score": float("nan"),
}
