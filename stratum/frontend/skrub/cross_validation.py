"""``skrub.cross_validate`` on stratum's engine (one configuration, k folds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import model_selection
from sklearn.metrics import check_scoring
from sklearn.metrics._scorer import _check_multimetric_scoring, _MultimetricScorer
from skrub._data_ops._estimator import (
    SkrubLearner,
    _BaseParamSearch,
    _rename_cv_param_learner_to_estimator,
)
from skrub._data_ops._subsampling import env_with_subsampling

from .batch import install_fitted_state
from .replay import Recorded, ReplayEstimator, rows_key
from .searches import fit_searches

_SUPPORTED = {
    "scoring",
    "return_train_score",
    "return_estimator",
    "return_indices",
    "error_score",
    "n_jobs",
    "verbose",
    "pre_dispatch",
}


class CVSpec:
    """The parameters of one cross-validation, shaped like a search object."""

    fixed_candidates = [{}]

    def __init__(
        self, cv, scoring, error_score, return_train_score, return_estimator=False
    ):
        self.cv = cv
        self.scoring = scoring
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.return_estimator = return_estimator
        self.refit = False

    def build_scorers(self, estimator):
        scoring = self.scoring
        if callable(scoring) or scoring is None or isinstance(scoring, str):
            return check_scoring(estimator, scoring)
        return _MultimetricScorer(
            scorers=_check_multimetric_scoring(estimator, scoring),
            raise_exc=(self.error_score == "raise"),
        )


def cv_item(
    learner, environment, *, keep_subsampling=False, cv=None, **kwargs
) -> tuple | None:
    """The batch item (data_op, environment, spec, kwargs) of one
    ``cross_validate`` call, or None when skrub must run it."""
    if not isinstance(learner, SkrubLearner) or isinstance(learner, _BaseParamSearch):
        return None
    if "return_estimator" in kwargs:
        return None  # skrub raises its own explanatory error
    kwargs = _rename_cv_param_learner_to_estimator(kwargs)
    if set(kwargs) - _SUPPORTED:
        return None
    environment = env_with_subsampling(learner.data_op, environment, keep_subsampling)
    spec = CVSpec(
        cv,
        kwargs.get("scoring"),
        kwargs.get("error_score", np.nan),
        kwargs.get("return_train_score", False),
        kwargs.get("return_estimator", False),
    )
    return learner.data_op, environment, spec, kwargs


def cross_validate_on_engine(
    learner, environment, options, *, keep_subsampling=False, cv=None, **kwargs
) -> pd.DataFrame | None:
    """Return skrub's cross_validate table, or None when skrub must run it."""
    item = cv_item(
        learner, environment, keep_subsampling=keep_subsampling, cv=cv, **kwargs
    )
    if item is None:
        return None
    data_op, environment, spec, kwargs = item
    batch, (outcome,) = fit_searches(
        [("pipeline", data_op, environment, spec)],
        options=options,
        refit=False,
        replay=False,
    )
    if outcome.run.fallback is not None:
        return None
    result = cv_table(batch, outcome.run, spec, kwargs)
    batch.release()  # the fold learners hold what they need
    return result


def cv_table(batch, run, spec: CVSpec, kwargs: dict) -> pd.DataFrame:
    """skrub's cross_validate table for ``run``, an executed and collected
    run of ``batch`` (raises the run's error)."""
    if run.error is not None:
        raise run.error
    error_score = spec.error_score
    recorded = Recorded.from_run(run)

    def replay_scoring(estimator, X, y=None):
        return recorded.score({}, rows_key(X))

    n_rows = len(run.X) if not hasattr(run.X, "shape") else run.X.shape[0]
    rows = np.arange(n_rows).reshape(-1, 1)
    result = model_selection.cross_validate(
        ReplayEstimator(recorded),
        rows,
        run.y,
        cv=run.splits,
        scoring=replay_scoring,
        error_score=error_score,
        return_train_score=spec.return_train_score,
        return_estimator=kwargs.get("return_estimator", False),
        return_indices=kwargs.get("return_indices", False),
    )
    times = np.array(
        [run.times.get((0, f), (np.nan, np.nan)) for f in range(len(run.splits))]
    )
    result["fit_time"] = times[:, 0]
    result["score_time"] = times[:, 1]
    if result.pop("estimator", None) is not None:
        learners = []
        for split in run.fold_splits:
            config = run.make_config(-1, {}, drop_values=False)
            batch._compile(run, config)
            install_fitted_state(config, batch.driver.store, split.train())
            fitted = SkrubLearner(config.data_op)
            fitted._is_fitted = True
            learners.append(fitted)
        result["learner"] = learners
    if (indices := result.pop("indices", None)) is not None:
        result["train_indices"] = indices["train"]
        result["test_indices"] = indices["test"]
    return pd.DataFrame(result)
