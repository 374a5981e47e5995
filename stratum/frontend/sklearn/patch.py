"""``stratum.patch_sklearn()``: scikit-learn's ``GridSearchCV.fit``,
``RandomizedSearchCV.fit``, ``HalvingGridSearchCV.fit``,
``HalvingRandomSearchCV.fit``, ``cross_validate``, ``cross_val_score`` and
``cross_val_predict`` run on stratum's engine.

The patched ``fit`` runs the search on stratum as ``stratum.search`` does
and takes on the fitted attributes of the result (its
``cv_results_``, ``best_*``, refitted estimator: scikit-learn's own, see
``frontend.sklearn.searches``), and returns ``self``, as scikit-learn's does.
The patched ``cross_validate`` (which ``cross_val_score`` calls) and
``cross_val_predict`` run a search of one candidate
(``frontend.sklearn.cross_validation``). Each calls
scikit-learn's own code instead where stratum cannot plan the call (a
subclass, fit parameters, ``return_estimator=True``, ...; with a warning
saying why), and for any call made while stratum is running a search (its
own replay fits one). ``unpatch_sklearn()`` puts the originals back. Names
imported before patching (``from sklearn.model_selection import
cross_validate``) keep the original.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import warnings

import numpy as np
import sklearn.model_selection
import sklearn.model_selection._validation as validation
from sklearn.base import is_classifier
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, check_cv
from sklearn.model_selection._search_successive_halving import (
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
)
from sklearn.utils.validation import _num_samples

_CLASSES = (
    GridSearchCV,
    RandomizedSearchCV,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
)
_MODULES = (sklearn.model_selection, validation)  # where the functions live
_FUNCTIONS = ("cross_validate", "cross_val_predict")
# class -> its own ``fit`` (None: it inherits it); (module, name) -> function
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
            for name in _FUNCTIONS:
                if (module, name) not in _originals:
                    original = getattr(module, name)
                    _originals[(module, name)] = original
                    setattr(module, name, _PATCHES[name](original))


def unpatch_sklearn() -> None:
    """Undo :func:`patch_sklearn`."""
    with _lock:
        for owner, own in _originals.items():
            if isinstance(owner, tuple):
                setattr(*owner, own)
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
    with _on_stratum():
        batch, _ = run_searches([entry], data, ExecutionOptions.resolve())
    if batch is not None:
        batch.release()
    if entry.error is not None:  # as scikit-learn's own fit would raise
        raise entry.error
    return entry


@contextlib.contextmanager
def _on_stratum():
    """While stratum runs a call: scikit-learn calls made meanwhile (by
    stratum, or the user's estimators) run scikit-learn's own code."""
    _local.running = True
    try:
        yield
    finally:
        _local.running = False


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


def _cross_val_predict(original):
    @functools.wraps(original)
    def cross_val_predict(estimator, X, y=None, **kwargs):
        from .cross_validation import why_not_predicted

        arguments = {**_CROSS_VAL_PREDICT_DEFAULTS, **kwargs}
        if getattr(_local, "running", False) or set(kwargs) - set(arguments):
            return original(estimator, X, y, **kwargs)
        method = arguments["method"]
        why = why_not_predicted(estimator, X, y, method, arguments["params"])
        if why is None:
            cv = check_cv(arguments["cv"], y, classifier=is_classifier(estimator))
            splits = list(cv.split(X, y, arguments["groups"]))
            tested = np.sort(np.concatenate([test for _, test in splits]))
            if not np.array_equal(tested, np.arange(_num_samples(X))):
                return original(estimator, X, y, **kwargs)  # raises its error
            with _on_stratum():
                folds, why = _predicted_folds(
                    estimator, X, y, splits, method, arguments
                )
        if why is not None:
            warnings.warn(f"stratum: cross_val_predict runs on scikit-learn: {why}")
            return original(estimator, X, y, **kwargs)
        from .cross_validation import ReplayPredictor

        kind = "classifier" if is_classifier(estimator) else "regressor"
        rows = np.arange(_num_samples(X)).reshape(-1, 1)
        return original(ReplayPredictor(folds, kind), rows, y, cv=splits, method=method)

    return cross_val_predict


def _predicted_folds(estimator, X, y, splits, method, arguments) -> tuple:
    """Run ``cross_val_predict``'s fits and predictions on stratum: the
    replay's folds, or (None, why scikit-learn must run it)."""
    from ...options import ExecutionOptions
    from ..skrub.searches import fit_searches
    from .cross_validation import fit_target, prediction_search, recorded_folds
    from .searches import SklearnSearch, plan_searches

    entry = SklearnSearch(
        "cross_val_predict", prediction_search(estimator, splits, method)
    )
    data = (X, fit_target(y, method), arguments["groups"])
    items = plan_searches([entry], data)
    if entry.error is not None:
        raise entry.error
    if entry.fallback is not None:
        return None, entry.fallback
    options = ExecutionOptions.resolve()
    batch, outcomes = fit_searches(
        items, options=options, refit=False, raise_errors=False, replay=False
    )
    try:
        run = outcomes[0].run
        if run.error is not None:
            raise run.error
        if run.fallback is not None:
            return None, run.fallback
        return recorded_folds(run, splits), None
    finally:
        batch.release()


_PATCHES = {"cross_validate": _cross_validate, "cross_val_predict": _cross_val_predict}

_CROSS_VAL_PREDICT_DEFAULTS = {
    "groups": None,
    "cv": None,
    "n_jobs": None,
    "verbose": 0,
    "params": None,
    "pre_dispatch": "2*n_jobs",
    "method": "predict",
}

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
