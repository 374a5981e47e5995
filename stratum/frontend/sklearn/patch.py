"""``stratum.patch_sklearn()``: scikit-learn's ``GridSearchCV.fit`` and
``RandomizedSearchCV.fit`` run on stratum's engine.

The patched ``fit`` runs ``stratum.search({"search": self}, X=X, y=y,
groups=groups)`` and takes on the fitted attributes of the result (its
``cv_results_``, ``best_*``, refitted estimator: scikit-learn's own, see
``frontend.sklearn.searches``), and returns ``self``, as scikit-learn's does.
It calls scikit-learn's own ``fit`` instead for subclasses, fit parameters
other than ``groups``, and any call made while stratum is running a search
(its own replay fits one). ``unpatch_sklearn()`` puts the originals back.
"""

from __future__ import annotations

import functools
import threading

from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

_CLASSES = (GridSearchCV, RandomizedSearchCV)
# class -> (its own ``fit`` or None when it inherits it, the fit it had)
_originals: dict[type, tuple] = {}
_local = threading.local()
_lock = threading.Lock()


def patch_sklearn() -> None:
    """Run ``GridSearchCV.fit``/``RandomizedSearchCV.fit`` on stratum."""
    with _lock:
        for cls in _CLASSES:
            if cls not in _originals:
                _originals[cls] = (cls.__dict__.get("fit"), cls.fit)
                cls.fit = _patched(cls, cls.fit)


def unpatch_sklearn() -> None:
    """Undo :func:`patch_sklearn`."""
    with _lock:
        for cls, (own, _) in _originals.items():
            if own is None:
                del cls.fit  # inherited again
            else:
                cls.fit = own
        _originals.clear()


def _patched(cls: type, original):
    @functools.wraps(original)
    def fit(self, X, y=None, **params):
        groups = params.get("groups")
        planned = type(self) is cls and set(params) <= {"groups"}
        if not planned or getattr(_local, "running", False):
            return original(self, X, y, **params)
        from ...batch_search import search

        _local.running = True
        try:
            result = search({"search": self}, X=X, y=y, groups=groups)
        finally:
            _local.running = False
        fitted = result.searches_["search"]
        for name, value in vars(fitted).items():
            if name.endswith("_") and not name.startswith("__"):
                setattr(self, name, value)
        return self

    return fit
