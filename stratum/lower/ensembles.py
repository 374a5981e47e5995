"""Ensembles that are prefixes of each other, fitted once.

A boosted model or a forest grows one round (one tree, or one tree per class)
at a time, and round ``i`` does not depend on how many rounds come after it:
with everything else equal, the first ``k`` rounds of a model fitted with
``n > k`` rounds are the model fitted with ``k``. So the configurations of a
search that differ only in the number of rounds (``n_estimators``,
``max_iter``) form a *family*; lowering fits its largest member and lets every
smaller member take the first ``k`` rounds of it (``Lowering.share_families``).

This module knows, per estimator class, the parameter that counts rounds,
when the rewrite is not exact (early stopping, ``warm_start``, callbacks,
DART, out-of-bag scores, a rounds alias hidden in extra parameters), and how
to install the first ``k`` rounds of a fitted model on an unfitted estimator
so that it is the estimator a direct fit gives: same class and parameters,
same predictions bit for bit, same fitted attributes. The tests in
``tests/test_ensembles.py`` compare both, value by value, for every class.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sklearn.base import clone

ROUNDS_SENTINEL = -1  # the rounds parameter's value in a family's key
_NATIVE_LOCK = threading.Lock()  # one booster serialised or sliced at a time

# LightGBM accepts parameters under many aliases through ``**kwargs``; these
# would change the number of rounds, stop early or change the boosting mode.
_LGBM_BLOCKED = frozenset(
    {
        "num_iterations",
        "num_iteration",
        "n_iter",
        "num_tree",
        "num_trees",
        "num_round",
        "num_rounds",
        "nrounds",
        "num_boost_round",
        "max_iter",
        "early_stopping_round",
        "early_stopping_rounds",
        "early_stopping",
        "n_iter_no_change",
        "boosting",
        "boost",
        "refit_decay_rate",
    }
)


@dataclass(frozen=True)
class Prefix:
    """A fit task that takes the first ``rounds`` rounds of another's model."""

    source_state: tuple  # the state key of the largest member's fit
    source_label: str
    param: str  # the parameter that counts rounds
    rounds: int
    source_rounds: int

    def describe(self) -> str:
        return (
            f"prefix: first {self.rounds} of {self.param}={self.source_rounds} "
            "(fitted once)"
        )


def _lightgbm_classes() -> dict[type, str]:
    import lightgbm

    return {
        lightgbm.LGBMRegressor: "n_estimators",
        lightgbm.LGBMClassifier: "n_estimators",
    }


def _xgboost_classes() -> dict[type, str]:
    import xgboost

    return {xgboost.XGBRegressor: "n_estimators", xgboost.XGBClassifier: "n_estimators"}


def _sklearn_classes() -> dict[type, str]:
    from sklearn import ensemble

    return {
        ensemble.HistGradientBoostingRegressor: "max_iter",
        ensemble.HistGradientBoostingClassifier: "max_iter",
        ensemble.GradientBoostingRegressor: "n_estimators",
        ensemble.GradientBoostingClassifier: "n_estimators",
        ensemble.RandomForestRegressor: "n_estimators",
        ensemble.RandomForestClassifier: "n_estimators",
        ensemble.ExtraTreesRegressor: "n_estimators",
        ensemble.ExtraTreesClassifier: "n_estimators",
    }


# By library: the library of an estimator being checked is imported already.
_CLASSES_OF = {
    "sklearn": _sklearn_classes,
    "lightgbm": _lightgbm_classes,
    "xgboost": _xgboost_classes,
}
_classes: dict[str, dict[type, str]] = {}


def _library(estimator: Any) -> str:
    return type(estimator).__module__.split(".")[0]


def _rounds_param_of(estimator: Any) -> str | None:
    library = _library(estimator)
    if library not in _CLASSES_OF:
        return None
    if library not in _classes:
        _classes[library] = _CLASSES_OF[library]()
    return _classes[library].get(type(estimator))  # a subclass may differ


def rounds_param(estimator: Any) -> tuple[str | None, str | None]:
    """(the parameter counting ``estimator``'s rounds, None) when its fits
    with fewer rounds are prefixes of its fits with more; else (None, why
    not) — (None, None) for estimators that are not ensembles we know."""
    param = _rounds_param_of(estimator)
    if param is None:
        return None, None
    params = estimator.get_params(deep=False)
    rounds = rounds_of(estimator, param)
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
        return None, f"{param}={rounds!r} is not a number of rounds"
    if params.get("warm_start"):
        return None, "warm_start=True"
    library = _library(estimator)
    if library == "lightgbm":
        blocked = sorted(_LGBM_BLOCKED & set(params))
        if blocked:
            return None, f"LightGBM parameter {blocked[0]!r}"
        if params.get("boosting_type", "gbdt") != "gbdt":
            return None, f"boosting_type={params.get('boosting_type')!r}"
    elif library == "xgboost":
        if params.get("early_stopping_rounds") is not None:
            return None, "early stopping"
        if params.get("callbacks"):
            return None, "callbacks"
        if params.get("booster") not in (None, "gbtree"):
            return None, f"booster={params.get('booster')!r}"
        if params.get("enable_categorical"):
            # A sliced booster loses the category encoding of a direct fit.
            return None, "enable_categorical=True"
    elif "early_stopping" in params:  # HistGradientBoosting*
        if params["early_stopping"] is True:
            return None, "early_stopping=True"
        # "auto" decides from the number of rows: checked when fitting.
    elif params.get("n_iter_no_change") is not None:
        return None, "early stopping (n_iter_no_change)"
    if params.get("oob_score"):
        return None, "oob_score=True (computed over all the trees)"
    return param, None


def rounds_of(estimator: Any, param: str) -> Any:
    """The number of rounds ``estimator`` fits (XGBoost's None means 100)."""
    rounds = estimator.get_params(deep=False)[param]
    if rounds is None and _library(estimator) == "xgboost":
        return 100
    return rounds


def blocked_param(estimator: Any) -> str:
    """The rounds parameter of a known ensemble class (for messages)."""
    return _rounds_param_of(estimator)


def family_estimator(estimator: Any, param: str) -> Any:
    """``estimator`` with ``param`` (its rounds, a ridge's ``alpha``) masked:
    equal for every member of its family."""
    return clone(estimator).set_params(**{param: ROUNDS_SENTINEL})


def fit_as_prefix(estimator: Any, source: Any, prefix: Prefix, ran: list) -> bool:
    """Make ``estimator.fit`` install the first rounds of the fitted ``source``
    instead of fitting (once; ``ran`` gets an entry when it did). Returns
    False, leaving ``estimator`` alone, when ``source`` cannot give them."""
    install = _INSTALL.get(_library(estimator))
    if install is None or type(source) is not type(estimator):
        return False
    if getattr(source, "do_early_stopping_", False):  # HistGradientBoosting "auto"
        return False

    def fit(X, y=None, **kwargs):
        del estimator.fit  # the class's own fit again
        install(estimator, source, prefix)
        ran.append(prefix)
        return estimator

    estimator.fit = fit
    return True


# Set when the estimator is built or its parameters set, not by fitting:
# LightGBM keeps its extra parameters (and those given to set_params) there.
_CONSTRUCTION_STATE = frozenset({"_other_params"})


def _fitted_attributes(target: Any, source: Any, param: str) -> None:
    """Copy what fitting set on ``source`` to ``target``: its fitted state,
    and the parameters its fit changed (XGBClassifier sets ``objective`` from
    the classes): the two had equal parameters but ``param`` before fitting."""
    params = source.get_params(deep=False)
    for name, value in source.__dict__.items():
        if name in _CONSTRUCTION_STATE or name == param:
            continue
        if name not in params or value is not target.__dict__.get(name, value):
            target.__dict__[name] = copy.copy(value)


def _install_lightgbm(target: Any, source: Any, prefix: Prefix) -> None:
    import lightgbm

    rounds = prefix.rounds
    _fitted_attributes(target, source, prefix.param)
    booster = source.booster_
    with _NATIVE_LOCK:
        text = booster.model_to_string(num_iteration=rounds)
    # The saved parameters name the rounds asked for, as a direct fit's do.
    n = booster.params.get("num_iterations", source.n_estimators)
    text = text.replace(f"[num_iterations: {n}]", f"[num_iterations: {rounds}]", 1)
    truncated = lightgbm.Booster(model_str=text)
    truncated.params = {**booster.params, "num_iterations": rounds}
    truncated.best_iteration = booster.best_iteration
    target._Booster = truncated


def _install_xgboost(target: Any, source: Any, prefix: Prefix) -> None:
    _fitted_attributes(target, source, prefix.param)
    with _NATIVE_LOCK:
        target._Booster = source.get_booster()[: prefix.rounds]


def _install_sklearn(target: Any, source: Any, prefix: Prefix) -> None:
    rounds = prefix.rounds
    _fitted_attributes(target, source, prefix.param)
    if hasattr(source, "_predictors"):  # HistGradientBoosting*
        target._predictors = source._predictors[:rounds]
        target.train_score_ = source.train_score_[: rounds + 1].copy()
        target.validation_score_ = source.validation_score_[: rounds + 1].copy()
        return
    target.estimators_ = source.estimators_[:rounds].copy()
    if hasattr(source, "train_score_"):  # GradientBoosting*
        target.train_score_ = source.train_score_[:rounds].copy()
        target.n_estimators_ = rounds
        if hasattr(source, "oob_improvement_"):
            target.oob_improvement_ = source.oob_improvement_[:rounds].copy()
            target.oob_scores_ = source.oob_scores_[:rounds].copy()
            target.oob_score_ = target.oob_scores_[-1]


_INSTALL: dict[str, Callable[[Any, Any, Prefix], None]] = {
    "lightgbm": _install_lightgbm,
    "xgboost": _install_xgboost,
    "sklearn": _install_sklearn,
}
