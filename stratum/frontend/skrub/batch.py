"""Run a batch of skrub searches on stratum's plan, lowering and runtime.

One ``PipelineRun`` per pipeline: its configurations (from the sklearn search
object skrub builds), X and y prepared once, the cross-validation splits, and,
after execution, the scores of every (configuration, fold, side) or the error
that prevented them. A ``Batch`` compiles every run into one plan, lowers it
into one task graph, executes it, and leaves the results on the runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.model_selection import ParameterGrid, ParameterSampler, check_cv
from sklearn.utils._indexing import _safe_indexing
from skrub._data_ops._data_ops import Apply, DataOp, check_subsampled_X_y_shape
from skrub._data_ops._estimator import _Splitter, _XyPipeline
from skrub._data_ops._evaluation import (
    clone,
    find_first_apply,
    find_scoring_node,
    find_X_y_and_cv,
    set_params,
)
from skrub._data_ops._utils import X_NAME, Y_NAME

from ..._sizes import default_budget, parse_bytes
from ...lower import PREP, Lowering, Split, Task, state_key
from ...lower.registry import Registry, default_registry, describe
from ...plan import Plan
from ...plan.keys import digest
from ...runtime import Store, TaskFailed, get_executor
from .evaluator import MemoEvaluator
from .compile import PARAM_PREFIX, GraphCompiler

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
        self.registry: Registry | None = None  # set by the Batch

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
        )


def _fold_id(data_key: str, train: np.ndarray, test: np.ndarray) -> str:
    train = np.asarray(train, dtype=np.int64)
    test = np.asarray(test, dtype=np.int64)
    return digest(data_key.encode() + train.tobytes() + b"|" + test.tobytes())


class Batch:
    """Compile, lower and execute the searches of several pipelines at once."""

    def __init__(
        self, runs: list[PipelineRun], options: dict | None = None, session=None
    ):
        options = dict(options or {})
        backend = options.pop("backend", "threads")
        budget = options.pop("memory_budget", None)
        registry = default_registry() if options.pop("native", True) else None
        if backend == "sequential":
            options["n_jobs"] = 1
        self.runs = runs
        self.plan = Plan()
        self.compiler = GraphCompiler(self.plan)
        self.store = Store(budget=parse_bytes(budget) if budget else default_budget())
        if session is not None:
            self.store.reuse = session.reuse(self._reusable)
        self.executor = get_executor(backend, **options)
        self.lowering = Lowering(self.plan, self._run_node)
        self._payload: dict[str, tuple[PipelineRun, Config]] = {}
        self.split_data: dict[tuple, tuple] = {}
        for run in runs:
            run.split_data = self.split_data
            run.registry = registry

    def _reusable(self, key: tuple) -> bool:
        """Whether a value may be reused by, or taken from, other batches."""
        node = self.plan.nodes.get(key[0])
        return node is not None and node.reusable

    # -- node tasks -----------------------------------------------------------
    def _run_node(self, store, node, split: Split, mode: str, running_apply: bool):
        run, config = self._payload[node.key]
        data_op = node.payload[0]
        # The payload's DataOp belongs to the configuration that inserted the
        # node first; any configuration with the same key computes the same.
        return run.evaluator(
            store, config, split, mode, running_apply, target=data_op
        ).run(data_op)

    # -- shipping to workers ----------------------------------------------------
    def task(self, key: tuple) -> Task:
        """The task ``key`` (what a worker holding a copy of the batch runs)."""
        return self.lowering.tasks[key]

    def __getstate__(self) -> dict:
        # A worker gets the runs, plan, configurations and data, never the
        # driver's values, executor or session.
        state = dict(self.__dict__)
        state["store"] = None
        state["executor"] = None
        state["compiler"] = None  # compiling happens on the driver only
        return state

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
        values = run.evaluator(self.store, base, PREP, "fit_transform").run(found)
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
        for p, run in enumerate(self.runs):
            if run.error is not None or run.fallback is not None:
                continue
            sides = ["test"] + (["train"] if return_train_score_of(run) else [])
            for config in run.configs:
                user = run.user(config)
                for split in run.fold_splits:
                    fit = self.lowering.evaluation(
                        config.root, split.train(), "fit", user
                    )
                    run.fit_keys[(config.index, split.number)] = fit
                    for side in sides:
                        side_split = split if side == "test" else split.train()
                        pre = self.lowering.evaluation(
                            config.root, side_split, "predict", user, skip_exact=True
                        )
                        run.test_keys[(config.index, split.number, side)] = pre
                        key = ("score", p, config.index, split.fold, side)
                        run.score_keys[(config.index, split.number, side)] = key
                        scorer = scorer_factory(run, config, side_split)
                        deps = tuple(dict.fromkeys(tuple(fit) + tuple(pre)))
                        self.lowering.add(
                            Task(
                                key=key,
                                fn=scorer,
                                deps=deps,
                                reads=self.lowering.reads_of(deps),
                                kind="score",
                                label=(
                                    f"score {run.name}#{config.index} "
                                    f"fold {split.number} ({side})"
                                ),
                                split=side_split,
                                users={user},
                            )
                        )

    def execute(self) -> None:
        self.executor.run(self.lowering.tasks, self.store, context=self)

    def collect(self) -> None:
        """Scores, fit errors and times per (configuration, fold, side)."""
        seconds: dict[tuple, float] = {}
        for stat in self.store.stats:
            seconds[stat.key] = seconds.get(stat.key, 0.0) + stat.seconds
        tasks = self.lowering.tasks

        def closure(keys) -> frozenset:
            out: set = set()
            stack = list(keys)
            while stack:
                k = stack.pop()
                if k in out:
                    continue
                out.add(k)
                if k in tasks:
                    stack.extend(tasks[k].deps)
            return frozenset(out)

        for run in self.runs:
            if run.error is not None or run.fallback is not None:
                continue
            for (c, fold, side), key in run.score_keys.items():
                fit_keys = run.fit_keys[(c, fold)]
                fit_failure = next(
                    (f for k in fit_keys if (f := self.store.failure(k)) is not None),
                    None,
                )
                if fit_failure is not None:
                    run.fit_errors[(c, fold)] = fit_failure
                    continue
                try:
                    run.scores[(c, fold, side)] = ("ok", self.store.get(key))
                except TaskFailed as failed:
                    run.scores[(c, fold, side)] = ("error", failed.failure)
                if side != "test":
                    continue
                ck = (c, fold)
                fit_set = closure(fit_keys)
                test_set = closure(run.test_keys[(c, fold, "test")]) - fit_set
                fit_time = sum(seconds.get(k, 0.0) for k in fit_set)
                score_time = sum(seconds.get(k, 0.0) for k in test_set)
                score_time += seconds.get(key, 0.0)
                run.times[ck] = (fit_time, score_time)

    def planned_implementations(self) -> dict[str, str]:
        """Per estimator step (by label), the implementation selection would
        pick from its parameters (what runs may still differ by input)."""
        registry = next((r.registry for r in self.runs), None)
        planned: dict[str, list[str]] = {}
        for node in self.plan.nodes.values():
            impl = getattr(node.payload[0], "_skrub_impl", None)
            estimator = getattr(impl, "estimator", None)
            if not isinstance(impl, Apply) or isinstance(estimator, DataOp):
                continue
            if registry is None:
                choice = "reference (native kernels disabled)"
            else:
                choice = describe(registry.select(estimator)[1])
            planned.setdefault(node.label, [])
            if choice not in planned[node.label]:
                planned[node.label].append(choice)
        return {label: " | ".join(c) for label, c in planned.items()}

    def release(self) -> None:
        """Drop every computed value (keep the plan, tasks and statistics)."""
        self.store.values.clear()
        self.store.close()
        self.split_data.clear()
        for run in self.runs:
            run._envs.clear()
            run.X = run.y = None

    # -- refit ------------------------------------------------------------------
    def refit(self, run: PipelineRun, params: dict):
        """Fit the configuration ``params`` on all rows; return a fitted learner."""
        from skrub._data_ops._estimator import SkrubLearner

        config = run.make_config(-1, params, drop_values=False)
        self._compile(run, config)
        split = run.refit_split
        user = run.user(config)
        tasks_before = set(self.lowering.tasks)
        self.lowering.evaluation(config.root, split, "fit", user)
        new = {k: t for k, t in self.lowering.tasks.items() if k not in tasks_before}
        self.executor.run(new, self.store, context=self)
        run.evaluator(self.store, config, split, "fit").run(config.data_op)
        install_fitted_state(config, self.store, split)
        learner = SkrubLearner(config.data_op)
        learner._is_fitted = True
        return learner


def install_fitted_state(config: Config, store: Store, split: Split) -> None:
    """Set the fitted attributes computed for ``split`` on the config's graph,
    so that it predicts like a learner skrub fitted itself."""
    for op_id, node in config.nodes.items():
        if not node.flags.stateful:
            continue
        skey = state_key(node, split)
        if skey not in store:
            continue
        impl = _find_impl(config.data_op, op_id)
        if impl is not None:
            impl.__dict__.update(store.get(skey))


def _find_impl(root: DataOp, op_id: int):
    from skrub._data_ops._evaluation import nodes

    for op in nodes(root):
        if id(op) == op_id:
            return op._skrub_impl
    return None


def _index(y: Any, idx: np.ndarray) -> Any:
    return None if y is None else _safe_indexing(y, idx)
