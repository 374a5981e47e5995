"""Run a batch of skrub searches on stratum's plan, lowering and runtime.

One ``PipelineRun`` per pipeline: its configurations (from the sklearn search
object skrub builds), X and y prepared once, the cross-validation splits, and,
after execution, the scores of every (configuration, fold, side) or the error
that prevented them. A ``Batch`` compiles every run into its driver's plan,
lowers the cross-validation into its task graph, and after the driver ran it
collects the results onto the runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.model_selection import ParameterGrid, ParameterSampler, check_cv
from sklearn.utils._indexing import _safe_indexing
from skrub._data_ops._data_ops import Apply, DataOp, check_subsampled_X_y_shape
from skrub._data_ops._estimator import SkrubLearner, _Splitter, _XyPipeline
from skrub._data_ops._evaluation import (
    clone,
    find_first_apply,
    find_scoring_node,
    find_X_y_and_cv,
    nodes,
    set_params,
)
from skrub._data_ops._utils import X_NAME, Y_NAME

from ...driver import Driver
from ...lower import PREP, Split, Task, state_key
from ...lower.binning import BinShare
from ...lower.ensembles import Prefix
from ...lower.registry import Registry
from ...lower.ridge import GramShare
from ...options import ExecutionOptions
from ...plan.keys import digest
from .compile import PARAM_PREFIX, GraphCompiler
from .evaluator import MemoEvaluator

REFIT = "all"


@dataclass
class Config:
    """One configuration of one pipeline: params, its graph, its plan nodes."""

    index: int
    params: dict
    data_op: DataOp
    nodes: dict = field(default_factory=dict)
    root: str = ""

    # ``nodes`` is keyed by ``id(DataOp)``: a pickled copy re-keys it by the
    # identities of its own (unpickled) DataOps.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        ops = {id(op): op for op in GraphCompiler._post_order(self.data_op)}
        state["nodes"] = [(ops[i], node) for i, node in self.nodes.items()]
        return state

    def __setstate__(self, state: dict) -> None:
        state["nodes"] = {id(op): node for op, node in state["nodes"]}
        self.__dict__.update(state)


# skrub's hint (``_estimator._compute_X_y_and_cv``) for X and y subsampled
# on different sides of ``mark_as_X``/``mark_as_y``.
_SUBSAMPLE_ORDER_HINT = (
    "\nAre `.skb.subsample()` and `.skb.mark_as_*()` applied in the same order"
    " for both X and y?"
)


class Unplannable(Exception):
    """The pipeline uses something the planner does not handle: use skrub."""


class PipelineRun:
    """Everything stratum knows about one pipeline of a batch."""

    def __init__(self, name: str, data_op: DataOp, environment: dict, search: Any):
        self.split_data: dict[tuple, tuple] = {}
        self._envs: dict[tuple, dict] = {}
        self.name = name
        self.data_op = data_op
        self.environment = dict(environment)
        self.search = search
        self.configs: list[Config] = []
        self.error: BaseException | None = None
        self.fallback: str | None = None
        self.scores: dict[tuple, Any] = {}
        self.fit_errors: dict[tuple, BaseException] = {}
        self.times: dict[tuple, tuple[float, float]] = {}
        self.score_keys: dict[tuple, tuple] = {}
        self.fit_keys: dict[tuple, list] = {}
        self.test_keys: dict[tuple, list] = {}
        # The lowering's implementation choices, set by the Batch.
        self.registry: Registry | None = None
        self.shared: dict[tuple, Prefix | GramShare | BinShare] = {}

    # -- environments -------------------------------------------------------
    def env_for(self, split: Split) -> dict:
        """The variables of this pipeline plus the rows of ``split``.

        Split data is shared by the batch (a fold id covers the lineage of X
        and y), the variables are this pipeline's own.
        """
        if split.side == "full":
            return self.environment
        key = (split.fold, split.side)
        env = self._envs.get(key)
        if env is None:
            X, y = self.split_data[key]
            env = {**self.environment, X_NAME: X}
            if y is not None:
                env[Y_NAME] = y
            self._envs[key] = env
        return env

    def add_split(self, split: Split, X: Any, y: Any) -> None:
        self.split_data.setdefault((split.fold, split.side), (X, y))

    # -- configurations -----------------------------------------------------
    def xy_pipeline(self, data_op: DataOp | None = None) -> _XyPipeline:
        return _XyPipeline(
            self.data_op if data_op is None else data_op, self.environment
        )

    def candidates(self) -> list[dict]:
        fixed = getattr(self.search, "fixed_candidates", None)
        if fixed is not None:
            return list(fixed)
        grid = self.xy_pipeline().get_param_grid()
        if hasattr(self.search, "param_distributions"):
            return list(
                ParameterSampler(
                    grid, self.search.n_iter, random_state=self.search.random_state
                )
            )
        return list(ParameterGrid(grid))

    def make_config(self, index: int, params: dict, drop_values: bool = True) -> Config:
        data_op = clone(self.data_op, drop_preview_data=drop_values)
        set_params(
            data_op, {int(k.removeprefix(PARAM_PREFIX)): v for k, v in params.items()}
        )
        return Config(index=index, params=params, data_op=data_op)

    def user(self, config: Config) -> tuple:
        return (self.name, config.index)

    # -- evaluation ---------------------------------------------------------
    def evaluator(self, store, config, split, mode, running_apply=False, target=None):
        return MemoEvaluator(
            mode=mode,
            split=split,
            nodes=config.nodes,
            store=store,
            env_for=self.env_for,
            outer_running_apply=running_apply,
            target=target,
            registry=self.registry,
            shared=self.shared,
        )


def _fold_id(data_key: str, train: np.ndarray, test: np.ndarray) -> str:
    train = np.asarray(train, dtype=np.int64)
    test = np.asarray(test, dtype=np.int64)
    return digest(data_key.encode() + train.tobytes() + b"|" + test.tobytes())


class Batch:
    """The searches of several pipelines, compiled into one plan and run by
    one :class:`~stratum.driver.Driver`."""

    def __init__(self, runs: list[PipelineRun], options: ExecutionOptions):
        self.runs = runs
        self.driver = Driver(options, self._run_node)
        self.compiler = GraphCompiler(self.driver.plan)
        self._payload: dict[str, tuple[PipelineRun, Config]] = {}
        self.split_data: dict[tuple, tuple] = {}
        for run in runs:
            run.split_data = self.split_data
            run.registry = self.driver.lowering.registry
            run.shared = self.driver.lowering.shared

    # -- node tasks -----------------------------------------------------------
    def _run_node(self, store, node, split: Split, mode: str, running_apply: bool):
        run, config = self._payload[node.key]
        data_op = node.payload[0]
        # The payload's DataOp belongs to the configuration that inserted the
        # node first; any configuration with the same key computes the same.
        return run.evaluator(
            store, config, split, mode, running_apply, target=data_op
        ).run(data_op)

    def __getstate__(self) -> dict:
        # compiling happens on the driver only
        return {**self.__dict__, "compiler": None}

    def _compile(self, run: PipelineRun, config: Config) -> None:
        config.root, config.nodes = self.compiler.compile(
            config.data_op, run.environment, run.user(config)
        )
        for node in config.nodes.values():
            self._payload.setdefault(node.key, (run, config))

    # -- phases ---------------------------------------------------------------
    def prepare(self) -> None:
        """Configurations, X and y on the full data, and the splits."""
        for run in self.runs:
            try:
                self._prepare(run)
            except Unplannable as reason:
                run.fallback = str(reason)
            except Exception as error:
                run.error = error

    def _prepare(self, run: PipelineRun) -> None:
        if find_scoring_node(run.data_op) is not None:
            raise Unplannable("uses .skb.with_scoring(), evaluated by skrub")
        candidates = run.candidates()
        if not candidates:
            raise ValueError("The search has no candidate configuration")
        run.configs = [run.make_config(i, p) for i, p in enumerate(candidates)]
        for config in run.configs:
            self._compile(run, config)
        base = run.configs[0]
        found = find_X_y_and_cv(base.data_op)
        if "X" not in found:
            raise ValueError('DataOp should have a node marked with "mark_as_X()"')
        if "y" not in found:
            first = find_first_apply(base.data_op)
            if first is not None and getattr(first._skrub_impl, "y", None) is not None:
                raise ValueError('DataOp should have a node marked with "mark_as_y()"')
        evaluator = run.evaluator(self.driver.store, base, PREP, "fit_transform")
        values = evaluator.run(found)
        X, y = values["X"], values.get("y")
        if "y" in found:  # skrub's message when subsampling explains a mismatch
            check_subsampled_X_y_shape(
                found["X"],
                found["y"],
                X,
                y,
                "fit_transform",
                run.environment,
                msg=_SUBSAMPLE_ORDER_HINT,
            )
        if y is not None and hasattr(X, "__len__") and hasattr(y, "__len__"):
            if len(X) != len(y):
                raise ValueError(
                    "Found input variables with inconsistent numbers of samples: "
                    f"X: {len(X)}, y: {len(y)}"
                )
        cv = run.search.cv
        if cv is None and "cv" in found:
            cv = _Splitter(check_cv(values["cv"]), values.get("split_kwargs"))
        estimator = run.xy_pipeline(base.data_op)
        checked = check_cv(cv, y, classifier=is_classifier(estimator))
        splits = [(np.asarray(tr), np.asarray(te)) for tr, te in checked.split(X, y)]
        run.X, run.y, run.splits = X, y, splits
        data_key = base.nodes[id(found["X"])].key
        if "y" in found:
            data_key += base.nodes[id(found["y"])].key
        run.data_key = data_key
        run.fold_splits = []
        for number, (train, test) in enumerate(splits):
            fold = _fold_id(data_key, train, test)
            split = Split(fold, "test", number)
            run.fold_splits.append(split)
            run.add_split(split.train(), _safe_indexing(X, train), _index(y, train))
            run.add_split(split, _safe_indexing(X, test), _index(y, test))
        run.refit_split = Split(REFIT + data_key, "train")
        run.add_split(run.refit_split, X, y)

    def lower(self, scorer_factory, return_train_score_of) -> None:
        """Tasks: fit and test-side transforms per fold, one score task per side."""
        lowering = self.driver.lowering
        for p, run in enumerate(self.runs):
            if run.error is not None or run.fallback is not None:
                continue
            sides = ["test"] + (["train"] if return_train_score_of(run) else [])
            # cross_validate(return_learner=True) installs each fold's states
            keep_folds = getattr(run.search, "return_estimator", False)
            for config in run.configs:
                user = run.user(config)
                for split in run.fold_splits:
                    if keep_folds:
                        states = fitted_state_keys(config, split.train())
                        self.driver.store.kept.update(states.values())
                    fit = lowering.evaluation(config.root, split.train(), "fit", user)
                    run.fit_keys[(config.index, split.number)] = fit
                    for side in sides:
                        side_split = split if side == "test" else split.train()
                        inline: list = []  # the final step: predicted in the score task
                        pre = lowering.evaluation(
                            config.root,
                            side_split,
                            "predict",
                            user,
                            skip_exact=True,
                            inline=inline,
                        )
                        run.test_keys[(config.index, split.number, side)] = pre
                        key = ("score", p, config.index, split.fold, side)
                        run.score_keys[(config.index, split.number, side)] = key
                        scorer = scorer_factory(run, config, side_split)
                        deps = tuple(dict.fromkeys(tuple(fit) + tuple(pre)))
                        lowering.add(
                            Task(
                                key=key,
                                fn=scorer,
                                deps=deps,
                                reads=lowering.reads_of(deps),
                                kind="score",
                                label=(
                                    f"score {run.name}#{config.index} "
                                    f"fold {split.number} ({side})"
                                ),
                                split=side_split,
                                users={user},
                                threads=lowering.inline_threads(inline),
                            )
                        )
        lowering.share_families()

    def collect(self) -> None:
        """Scores, fit errors and times per (configuration, fold, side)."""
        driver = self.driver
        seconds = driver.task_seconds()
        for run in self.runs:
            if run.error is not None or run.fallback is not None:
                continue
            for (c, fold, side), key in run.score_keys.items():
                fit_keys = run.fit_keys[(c, fold)]
                fit_failure = driver.first_failure(fit_keys)
                if fit_failure is not None:
                    run.fit_errors[(c, fold)] = fit_failure
                    continue
                run.scores[(c, fold, side)] = driver.outcome(key)
                if side != "test":
                    continue
                fit_set = driver.upstream(fit_keys)
                test_set = driver.upstream(run.test_keys[(c, fold, "test")]) - fit_set
                fit_time = sum(seconds.get(k, 0.0) for k in fit_set)
                score_time = sum(seconds.get(k, 0.0) for k in test_set)
                score_time += seconds.get(key, 0.0)
                run.times[(c, fold)] = (fit_time, score_time)

    def planned_implementations(self) -> dict[str, str]:
        """Per estimator step (by label), the implementation selection would
        pick from its parameters (what runs may still differ by input)."""
        estimators = []
        for node in self.driver.plan.nodes.values():
            impl = getattr(node.payload[0], "_skrub_impl", None)
            estimator = getattr(impl, "estimator", None)
            if isinstance(impl, Apply) and not isinstance(estimator, DataOp):
                estimators.append((node.label, estimator))
        return self.driver.lowering.planned(estimators)

    def release(self) -> None:
        """Drop every computed value (keep the plan, tasks and statistics)."""
        self.driver.release()
        self.split_data.clear()
        for run in self.runs:
            run._envs.clear()
            run.X = run.y = None

    # -- refit ------------------------------------------------------------------
    def refit(self, run: PipelineRun, params: dict) -> SkrubLearner:
        """Fit the configuration ``params`` on all rows; return a fitted learner."""
        driver = self.driver
        config = run.make_config(-1, params, drop_values=False)
        self._compile(run, config)
        split = run.refit_split
        driver.store.kept.update(fitted_state_keys(config, split).values())
        driver.execute_new(
            lambda: driver.lowering.evaluation(
                config.root, split, "fit", run.user(config)
            )
        )
        run.evaluator(driver.store, config, split, "fit").run(config.data_op)
        install_fitted_state(config, driver.store, split)
        learner = SkrubLearner(config.data_op)
        learner._is_fitted = True
        return learner


def fitted_state_keys(config: Config, split: Split) -> dict[int, tuple]:
    """The keys of the fitted states of the config's stateful steps on
    ``split``, by DataOp id."""
    return {
        op_id: state_key(node, split)
        for op_id, node in config.nodes.items()
        if node.flags.stateful
    }


def install_fitted_state(config: Config, store, split: Split) -> None:
    """Set the fitted attributes computed for ``split`` on the config's graph,
    so that it predicts like a learner skrub fitted itself."""
    for op_id, skey in fitted_state_keys(config, split).items():
        if skey not in store:
            continue
        impl = _find_impl(config.data_op, op_id)
        if impl is not None:
            impl.__dict__.update(store.get(skey))


def _find_impl(root: DataOp, op_id: int):
    for op in nodes(root):
        if id(op) == op_id:
            return op._skrub_impl
    return None


def _index(y: Any, idx: np.ndarray) -> Any:
    return None if y is None else _safe_indexing(y, idx)
