"""skrub DataOp graph -> logical plan nodes (the only reader of skrub internals,
together with the other modules of this package).

Each configuration of a pipeline (its choices resolved to outcomes) is walked
node by node; every node gets a lineage key from its operation, its fields
(choices resolved, estimators by class and parameters, data by content) and its
inputs' keys, and is inserted in the batch's hash-consed plan.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, clone
from skrub._data_ops import _choosing
from skrub._data_ops._data_ops import (
    AppliedEstimator,
    Apply,
    AsTuple,
    BinOp,
    Call,
    CallMethod,
    Concat,
    DataOp,
    EvalMode,
    FreezeAfterFit,
    GetAttr,
    GetItem,
    IfElse,
    Match,
    Scoring,
    SplitX,
    UnaryOp,
    Value,
    Var,
)
from skrub._data_ops._subsampling import (
    SHOULD_SUBSAMPLE_KEY,
    ShouldSubsample,
    SubsamplePreviews,
)
from skrub._data_ops._utils import NULL, X_NAME, Y_NAME

from ...lower.binning import binning_estimator, binning_params
from ...lower.ensembles import (
    blocked_param,
    family_estimator,
    rounds_of,
    rounds_param,
)
from ...lower.ridge import gram_param
from ...plan import Family, Flags, Node, Plan
from ...plan.keys import Ref, encode_params, node_key

# Node kinds whose evaluation we know; any other DataOpImpl is treated as
# depending on the exact evaluation mode (conservative, still exact).
_PURE = (Value, GetAttr, GetItem, AsTuple, Call, CallMethod, BinOp, UnaryOp)
# Nodes that remember something when fitted and reuse it when applied.
_STATEFUL = (Apply, FreezeAfterFit, Concat)
_SUBSAMPLING = (ShouldSubsample, SubsamplePreviews)

PARAM_PREFIX = "data_op__"


def resolve(obj: Any) -> Any:
    """The object a choice (or a choice's ``match``) stands for in a
    configuration (a clone of the pipeline with its choices set)."""
    if isinstance(obj, _choosing.BaseChoice):
        return obj.chosen_outcome_or_default()
    if isinstance(obj, _choosing.Match):
        outcome = resolve(obj.choice)
        while isinstance(outcome, (_choosing.BaseChoice, _choosing.Match)):
            outcome = resolve(outcome)
        return obj.outcome_mapping[outcome]
    return obj


def data_ops_in(value: Any) -> list[DataOp]:
    """DataOps reachable from a field value, as skrub's evaluator would visit them."""
    found: list[DataOp] = []
    stack = [value]
    seen: set[int] = set()
    while stack:
        obj = stack.pop()
        if isinstance(obj, DataOp):
            found.append(obj)
            continue
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (_choosing.BaseChoice, _choosing.Match)):
            stack.append(resolve(obj))
        elif type(obj) in (list, tuple, set, frozenset):
            stack.extend(reversed(list(obj)))
        elif type(obj) is dict:
            stack.extend(reversed(list(obj.values())))
        elif type(obj) is slice:
            stack.extend([obj.step, obj.stop, obj.start])
        elif isinstance(obj, BaseEstimator):
            stack.extend(reversed(list(obj.get_params(deep=False).values())))
    return list({id(d): d for d in found}.values())


def estimators_in(value: Any) -> tuple:
    """The estimators a field value holds, at any depth (an estimator's
    parameters, the steps of a Pipeline, choices resolved to the
    configuration's outcome), outermost first. Estimators computed by the
    pipeline (DataOps) are not known before it runs and are left out."""
    found: list = []
    stack = [value]
    seen: set[int] = set()
    while stack:
        obj = stack.pop()
        if isinstance(obj, DataOp) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (_choosing.BaseChoice, _choosing.Match)):
            stack.append(resolve(obj))
        elif type(obj) in (list, tuple, dict):
            items = obj.values() if type(obj) is dict else obj
            stack.extend(reversed(list(items)))
        elif isinstance(obj, BaseEstimator):
            found.append(obj)
            stack.extend(reversed(list(obj.get_params(deep=False).values())))
    return tuple(found)


def _deps(impl: Any, fields: list[str]) -> list[DataOp]:
    out: list[DataOp] = []
    for name in fields:
        out.extend(data_ops_in(getattr(impl, name)))
    return list({id(d): d for d in out}.values())


def _dep_fields(impl: Any) -> tuple[list[str], list[str]]:
    """Fields evaluated while fitting, and while applying, ahead of time."""
    fields = list(impl._fields)
    if isinstance(impl, Apply):
        return fields, ["X", "kwargs", "no_cache"]
    if isinstance(impl, IfElse):
        return ["condition"], ["condition"]
    if isinstance(impl, Match):
        return ["query"], ["query"]
    if isinstance(impl, FreezeAfterFit):
        return ["target"], []
    if isinstance(impl, SplitX):
        return ["X"], ["X"]
    if isinstance(impl, Scoring):
        return ["pred"], ["pred"]
    return fields, fields


class GraphCompiler:
    """Inserts the configurations of pipelines into one ``Plan``."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.fp_cache: dict = {}
        self.salt = _global_settings()

    def compile(
        self,
        data_op: DataOp,
        environment: dict,
        user: tuple,
    ) -> tuple[str, dict[int, Node]]:
        """Insert one configuration; return its root key and nodes by DataOp id."""
        nodes: dict[int, Node] = {}
        order = self._post_order(data_op)
        for op in order:
            nodes[id(op)] = self._node(op, environment, nodes, user)
        root = nodes[id(data_op)].key
        self.plan.set_root(user, root)
        return root, nodes

    @staticmethod
    def _post_order(root: DataOp) -> list[DataOp]:
        order: list[DataOp] = []
        state: dict[int, int] = {}
        stack: list[tuple[DataOp, bool]] = [(root, False)]
        while stack:
            op, expanded = stack.pop()
            if expanded:
                if state.get(id(op)) != 2:
                    state[id(op)] = 2
                    order.append(op)
                continue
            if state.get(id(op)):
                continue
            state[id(op)] = 1
            stack.append((op, True))
            impl = op._skrub_impl
            for child in reversed(_deps(impl, list(impl._fields))):
                if not state.get(id(child)):
                    stack.append((child, False))
        return order

    def _node(self, op, environment, nodes, user) -> Node:
        impl = op._skrub_impl
        kind = type(impl).__name__
        all_children = _deps(impl, list(impl._fields))
        fit_fields, apply_fields = _dep_fields(impl)
        fit_deps = tuple(nodes[id(c)].key for c in _deps(impl, fit_fields))
        apply_deps = tuple(nodes[id(c)].key for c in _deps(impl, apply_fields))
        inputs = tuple(nodes[id(c)].key for c in all_children)
        children = [nodes[id(c)] for c in all_children]

        def hook(obj):
            if isinstance(obj, DataOp):
                return Ref(nodes[id(obj)].key)
            if isinstance(obj, (_choosing.BaseChoice, _choosing.Match)):
                return (resolve(obj),)
            return None

        # Values the evaluation takes from the environment instead of computing
        # them (as skrub's evaluator does) are keyed by their content.
        if impl.is_X and X_NAME in environment:
            name: Any = X_NAME
        elif impl.is_y and Y_NAME in environment:
            name = Y_NAME
        elif impl.uuid in environment:
            name = impl.uuid
        elif (
            impl.name is not None
            and impl.name in environment
            and not isinstance(impl, Var)
        ):
            name = impl.name
        else:
            name = None
        fetched = name is not None
        if fetched:
            params: Any = ("fetched", name, environment[name])
            inputs = fit_deps = apply_deps = ()
            children = []
        elif isinstance(impl, Var):
            if impl.name in environment:
                value = environment[impl.name]
            elif impl.value is not NULL and (
                impl.becomes_default or environment.get("_skrub_use_var_values")
            ):
                value = impl.value
            else:
                value = NULL
            params = ("var", impl.name, value)
        else:
            params = tuple((name, getattr(impl, name)) for name in impl._fields)
            if isinstance(impl, _SUBSAMPLING):
                from skrub import get_config as skrub_config

                cfg = skrub_config()
                params += (
                    environment.get(SHOULD_SUBSAMPLE_KEY, False),
                    cfg["enable_subsampling"],
                    cfg["subsampling_seed"],
                )
        params = (params, impl.is_X, impl.is_y, self.salt)
        encoded, enc = encode_params(params, hook=hook, fp_cache=self.fp_cache)
        key = node_key(kind, encoded, inputs)
        family = binning = None
        if isinstance(impl, Apply) and not fetched:
            family = self._family(impl, params, hook, kind, inputs)
            binning = self._binning(impl, params, hook, kind, inputs)

        is_apply = isinstance(impl, Apply)
        flags = Flags(
            dep_xy=impl.is_X or impl.is_y or any(c.flags.dep_xy for c in children),
            stateful=isinstance(impl, _STATEFUL),
            is_apply=is_apply,
            has_apply=is_apply
            or isinstance(impl, AppliedEstimator)
            or any(c.flags.has_apply for c in children),
            mode_class=isinstance(impl, (FreezeAfterFit, Concat, *_SUBSAMPLING))
            or any(c.flags.mode_class for c in children),
            mode_exact=not fetched
            and not isinstance(
                impl,
                (
                    *_PURE,
                    *_STATEFUL,
                    *_SUBSAMPLING,
                    Var,
                    AppliedEstimator,
                    IfElse,
                    Match,
                    SplitX,
                    Scoring,
                ),
            )
            or isinstance(impl, EvalMode)
            or any(c.flags.mode_exact for c in children),
            is_x=impl.is_X,
            is_y=impl.is_y,
            dynamic=isinstance(impl, (IfElse, Match)),
        )
        # what the lowering looks at to decide how the node's tasks run
        estimators = estimators_in(impl.estimator) if is_apply and not fetched else ()
        unseeded = tuple(dict.fromkeys(enc.unseeded))
        identity = enc.identity or any(c.identity for c in children)
        reusable = not identity and not unseeded and all(c.reusable for c in children)
        node = Node(
            key=key,
            kind=kind,
            label=_label(impl),
            inputs=inputs,
            fit_deps=fit_deps,
            apply_deps=apply_deps,
            flags=flags,
            identity=identity,
            unseeded=unseeded,
            reusable=reusable,
            payload=(op, tuple(enc.pinned)),
            family=family,
            binning=binning,
            estimators=estimators,
        )
        self.plan.add(node, user)
        return node

    def _family(self, impl, params, hook, kind, inputs) -> Family | None:
        """The step's family: the configurations whose fits share work with
        its fit (``lower.ensembles``: rounds, ``lower.ridge``: ``X^T X``),
        keyed by the node's key with the parameter that differs masked."""
        estimator = concrete_estimator(impl.estimator)
        if estimator is None:
            return None
        param, blocked = rounds_param(estimator)
        if param is not None or blocked is not None:
            kind_, allowed = "rounds", {"sample_weight"}
            if param is None:
                return Family(kind_, blocked_param(estimator), -1, None, blocked)
            value = rounds_of(estimator, param)
        else:
            param, blocked = gram_param(estimator)
            if param is None and blocked is None:
                return None
            kind_, allowed = "gram", set()
            if param is None:
                return Family(kind_, "alpha", None, None, blocked)
            value = estimator.get_params(deep=False)[param]
        why = _fit_kwargs_blocked(impl, allowed)
        if why is not None:
            return Family(kind_, param, value, None, why)
        masked = family_estimator(estimator, param)
        key = self._masked_key(masked, params, hook, kind, inputs)
        return Family(kind_, param, value, key)

    def _binning(self, impl, params, hook, kind, inputs) -> Family | None:
        """The step's binning family (``lower.binning``): the configurations
        whose fits build the same bins, keyed by the node's key with the
        parameters that do not affect the bins masked."""
        estimator = concrete_estimator(impl.estimator)
        if estimator is None:
            return None
        names, blocked = binning_params(estimator)
        if names is None:
            return None if blocked is None else Family("bins", "", None, None, blocked)
        param = ", ".join(names)
        why = _fit_kwargs_blocked(impl, {"sample_weight"})
        if why is not None:
            return Family("bins", param, None, None, why)
        masked = binning_estimator(estimator, names)
        key = self._masked_key(masked, params, hook, kind, inputs)
        return Family("bins", param, None, key)

    def _masked_key(self, masked, params, hook, kind, inputs) -> str:
        """The node key with ``masked`` as its step's estimator."""
        fields = tuple(
            (name, masked if name == "estimator" else field)
            for name, field in params[0]
        )
        family_params = (fields, *params[1:])
        encoded, _ = encode_params(family_params, hook=hook, fp_cache=self.fp_cache)
        return node_key(kind, encoded, inputs)


def _fit_kwargs_blocked(impl, allowed: set) -> str | None:
    """Why the step's fit arguments forbid sharing its fit's work (None:
    they do not)."""
    fit_kwargs = impl.kwargs.get("fit") if isinstance(impl.kwargs, dict) else ()
    if fit_kwargs is not None and (
        not isinstance(fit_kwargs, dict) or set(fit_kwargs) - allowed
    ):
        return "fit arguments besides sample_weight" if allowed else "fit arguments"
    return None


def concrete_estimator(value: Any) -> BaseEstimator | None:
    """The estimator a configuration's step fits, its choices resolved; None
    when it is computed by a DataOp (known only when the step runs)."""
    estimator = resolve(value)
    if not isinstance(estimator, BaseEstimator):
        return None
    params = estimator.get_params(deep=False)
    resolved = {name: resolve(v) for name, v in params.items()}
    if any(data_ops_in(v) for v in resolved.values()):
        return None
    changed = {n: v for n, v in resolved.items() if v is not params[n]}
    if changed:  # a copy: set_params may change shared state (LightGBM's)
        estimator = clone(estimator).set_params(**changed)
    return estimator


def _global_settings() -> str:
    """skrub's and scikit-learn's global configuration (``transform_output``,
    ``cardinality_threshold``, ...) can change what a step computes: it is part
    of every key."""
    import sklearn
    import skrub

    settings = {**sklearn.get_config(), **skrub.get_config()}
    return repr(sorted((k, repr(v)) for k, v in settings.items()))


def _label(impl: Any) -> str:
    try:
        text = repr(impl)
    except Exception:
        text = f"<{type(impl).__name__}>"
    return text.splitlines()[0] if text else f"<{type(impl).__name__}>"
