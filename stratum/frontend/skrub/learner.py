"""The learner scorers see while stratum computes a score.

sklearn scorers call ``predict``/``predict_proba``/``score``... on the object
they are given; skrub gives them an ``_XyPipeline``. ``EngineLearner`` is that
same class (so tags, ``classes_``, available methods and the scoring logic are
skrub's), except that evaluating the DataOp goes through stratum's store, on the
fold's fitted state.
"""

from __future__ import annotations

from typing import Any

from skrub._data_ops._estimator import _XyPipeline
from skrub._data_ops._evaluation import find_first_apply

from ...driver import Store
from ...lower import Split
from ...plan.fingerprint import fingerprint


class EngineLearner(_XyPipeline):
    """An ``_XyPipeline`` fitted on one fold, evaluated by stratum."""

    def _bind(self, run: Any, config: Any, split: Split, store: Store) -> EngineLearner:
        self._run, self._config, self._split, self._store = run, config, split, store
        self._X = run.env_for(split)["_skrub_X"]
        self._is_fitted = True
        return self

    def _split_for(self, X: Any, y: Any) -> Split:
        if X is self._X:
            return self._split
        # A scorer evaluating on other rows than the fold's: key them by content.
        side = "adhoc:" + (fingerprint(X) or str(id(X)))
        split = Split(self._split.fold, side, self._split.number)
        self._run.add_split(split, X, y)
        return split

    def _eval_in_mode(self, mode: str, X: Any, y: Any = None) -> Any:
        split = self._split_for(X, y)
        run, config = self._run, self._config
        return run.evaluator(self._store, config, split, mode).run(config.data_op)

    @property
    def classes_(self):
        first = find_first_apply(self._config.data_op)
        if first is None:
            raise AttributeError("classes_")
        node = self._config.nodes[id(first)]
        evaluator = self._run.evaluator(
            self._store, self._config, self._split, "predict"
        )
        fitted = evaluator._fitted(first, node, running_apply=False)
        return fitted["estimator_"].classes_
