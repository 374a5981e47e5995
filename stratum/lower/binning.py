"""Binned training data shared by the fits of histogram-based boosters.

LightGBM, XGBoost (``hist``) and scikit-learn's HistGradientBoosting first
turn the training matrix into bins (LightGBM's ``Dataset``, XGBoost's
``QuantileDMatrix``, HistGradientBoosting's ``_BinMapper`` and binned
matrix), then grow trees on the bins. The bins depend on the rows, the
labels and weights, and a few parameters (``max_bin``, the seed, categorical
features, LightGBM's ``min_child_samples`` through ``feature_pre_filter``,
...), but not on the learning rate, the shape of the trees, their
regularisation, subsampling or the number of rounds. So the fits of a search
that differ only in such parameters, on the same rows, build equal bins: the
first fit of such a *binning family* on a fold builds them and writes them to
the store, the others take them (``Lowering.share_families``).

Per class, this module lists the parameters that do not affect the bins
(every other parameter is part of the family's key), and how a fit takes the
bins instead of building them:

- HistGradientBoosting: its own ``_bin_data`` is shadowed on the instance;
- XGBoost: its own ``_create_dmatrix`` is shadowed on the instance;
- LightGBM: ``LGBMModel.fit`` builds its ``Dataset`` through the module's
  ``Dataset`` name, which stratum wraps once: the wrapper hands the shared
  ``Dataset`` to a fit only while stratum runs that fit in the calling
  thread, and is the plain constructor for every other call.

Before taking bins, a fit checks that it asks for the same ones (the same
binning parameters, shapes, labels and weights); LightGBM checks the
parameters of a built ``Dataset`` itself. Anything unexpected, and the fit
builds its own bins: the result is the same, only slower. The native binned
data of LightGBM and XGBoost cannot leave the process: pickled (to a worker
process, to disk), a ``Binned`` loses it and its takers fit directly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.base import clone

MASKED = "<does not affect the bins>"

# Parameters that do not change the bins, by class name (every other
# parameter, aliases given through ``**kwargs`` included, stays in the key).
_LIGHTGBM = frozenset(
    {
        "n_estimators",
        "learning_rate",
        "num_leaves",
        "max_depth",
        "reg_alpha",
        "reg_lambda",
        "min_split_gain",
        "min_child_weight",
        "subsample",
        "subsample_freq",
        "colsample_bytree",
    }
)
_XGBOOST = frozenset(
    {
        "n_estimators",
        "learning_rate",
        "max_depth",
        "max_leaves",
        "gamma",
        "min_child_weight",
        "max_delta_step",
        "subsample",
        "colsample_bytree",
        "colsample_bylevel",
        "colsample_bynode",
        "reg_alpha",
        "reg_lambda",
        "grow_policy",
    }
)
_HIST_GRADIENT_BOOSTING = frozenset(
    {
        "max_iter",
        "learning_rate",
        "max_leaf_nodes",
        "max_depth",
        "min_samples_leaf",
        "l2_regularization",
        "max_features",
    }
)


def _classes(library: str) -> dict[type, frozenset]:
    if library == "lightgbm":
        import lightgbm

        return {lightgbm.LGBMRegressor: _LIGHTGBM, lightgbm.LGBMClassifier: _LIGHTGBM}
    if library == "xgboost":
        import xgboost

        return {xgboost.XGBRegressor: _XGBOOST, xgboost.XGBClassifier: _XGBOOST}
    if library == "sklearn":
        from sklearn import ensemble

        return {
            ensemble.HistGradientBoostingRegressor: _HIST_GRADIENT_BOOSTING,
            ensemble.HistGradientBoostingClassifier: _HIST_GRADIENT_BOOSTING,
        }
    return {}


def _library(estimator: Any) -> str:
    return type(estimator).__module__.split(".")[0]


def binning_params(estimator: Any) -> tuple[tuple[str, ...] | None, str | None]:
    """(the parameters that do not affect ``estimator``'s bins, None) when
    its fits can share binned data with fits that differ only in those;
    (None, why not) for a booster where that would not be exact; (None, None)
    for other estimators."""
    # the class itself: a subclass may bin differently
    free = _classes(_library(estimator)).get(type(estimator))
    if free is None:
        return None, None
    params = estimator.get_params(deep=False)
    if _library(estimator) == "xgboost":
        if params.get("booster") not in (None, "gbtree", "dart"):
            return None, f"booster={params.get('booster')!r} does not bin"
        if params.get("tree_method") not in (None, "hist"):
            return None, f"tree_method={params.get('tree_method')!r} does not bin once"
        if params.get("device") not in (None, "cpu"):
            return None, f"device={params.get('device')!r}"
    if _library(estimator) == "lightgbm" and params.get("linear_tree"):
        return None, "linear_tree=True (keeps the raw data in the Dataset)"
    return tuple(sorted(free & set(params))), None


def binning_estimator(estimator: Any, names: tuple[str, ...]) -> Any:
    """``estimator`` with the parameters ``names`` masked: equal for every
    member of its binning family."""
    return clone(estimator).set_params(**dict.fromkeys(names, MASKED))


@dataclass(frozen=True)
class BinShare:
    """A fit that builds (``provider``) or takes the binned data stored under
    ``bins_key``: one per binning family and fold."""

    bins_key: tuple
    provider: bool
    source_label: str
    members: int  # fits of the family on this fold

    def describe(self) -> str:
        if self.provider:
            return f"binned data built once for {self.members} fits"
        return f"binned data of {self.source_label} (built once)"


class Binned:
    """Binned training data, what it was built from, and a lock: one fit at a
    time uses it (LightGBM updates a ``Dataset``'s Python side while fitting).

    ``data`` is None when the provider could not share it (``reason``)."""

    def __init__(self, data: Any, signature: tuple, nbytes: int, reason: str = ""):
        self.data = data
        self.signature = signature
        self.nbytes = int(nbytes)
        self.reason = reason
        self.lock = threading.Lock()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["lock"]
        if self.data is not None and not isinstance(self.data, tuple):
            # a native LightGBM/XGBoost object
            state.update(data=None, reason="binned data does not leave its process")
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.lock = threading.Lock()


def fit_with_bins(estimator: Any, share: BinShare, store: Any, ran: list) -> bool:
    """Make ``estimator.fit`` build the family's bins and put them in
    ``store`` (the provider), or take them from there; ``ran`` gets an entry
    when a fit took them. Returns False, leaving ``estimator`` alone, when it
    cannot."""
    hook = _HOOKS.get(_library(estimator))
    if hook is None or binning_params(estimator)[0] is None:
        return False

    def fit(X, y=None, **kwargs):
        del estimator.fit  # the class's own fit again
        binned = store.find(share.bins_key)
        if share.provider and (binned is None or binned.data is None):
            # (bins an earlier batch built are taken like any other)
            return _provide(estimator, hook, share, store, ran, (X, y, kwargs))
        if not isinstance(binned, Binned) or binned.data is None:
            return estimator.fit(X, y, **kwargs)
        with binned.lock:
            took: list = []
            try:
                with hook(estimator, binned, took):
                    estimator.fit(X, y, **kwargs)
            except Exception:  # not the same bins after all: fit in full
                took.clear()
            if not took:
                return estimator.fit(X, y, **kwargs)
        ran.append(replace(share, provider=False))
        return estimator

    estimator.fit = fit
    return True


def _provide(estimator, hook, share, store, ran, arguments):
    """Fit ``estimator``, keeping the bins it builds for its family (in
    place of bins that could not be shared, from an earlier batch)."""
    X, y, kwargs = arguments
    built: list = []
    binned = Binned(None, (), 0, "the fit that builds the bins failed")
    try:
        with hook(estimator, None, built):
            estimator.fit(X, y, **kwargs)
        binned = built[0] if built else Binned(None, (), 0, "the fit built no bins")
        binned.nbytes = _size(binned.data)
    finally:
        store.release(share.bins_key)
        store.put(share.bins_key, binned, offer=binned.data is not None)
    if built:
        ran.append(share)
    return estimator


def _size(data: Any) -> int:
    """Bytes held by binned data (a native object's bins: one byte each)."""
    if data is None:
        return 0
    if isinstance(data, tuple):  # HistGradientBoosting: (bin mapper, bins)
        return int(data[1].nbytes)
    if hasattr(data, "num_row"):  # XGBoost
        return int(data.num_row() * data.num_col())
    return int(data.num_data() * data.num_feature())  # LightGBM


class _Shadow:
    """Shadow ``estimator.<name>`` with ``replacement`` while the context is
    open (an instance attribute in front of the class's method)."""

    def __init__(self, estimator, name, replacement):
        self.estimator, self.name, self.replacement = estimator, name, replacement

    def __enter__(self):
        setattr(self.estimator, self.name, self.replacement)

    def __exit__(self, *exc):
        self.estimator.__dict__.pop(self.name, None)


def _same(a: Any, b: Any) -> bool:
    """Equal values, arrays by content (NaN equal to NaN)."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if a is None or b is None:
            return False
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    try:
        return bool(a == b)
    except Exception:
        return False


def _column(values: Any) -> Any:
    """Labels or weights as an array (as given, for comparison)."""
    if values is None:
        return None
    return np.asarray(values)


# -- HistGradientBoosting ---------------------------------------------------


def _hgb_hook(estimator, binned: Binned | None, out: list):
    """Build (``binned`` None, result in ``out``) or take the training bins of
    a HistGradientBoosting fit."""
    own = type(estimator)._bin_data

    def bin_data(X, sample_weight, is_training_data):
        if not is_training_data:
            return own(estimator, X, sample_weight, is_training_data)
        signature = (
            _mapper_params(estimator._bin_mapper),
            X.shape,
            X.dtype,
            _column(sample_weight),
        )
        if binned is None:
            X_binned = own(estimator, X, sample_weight, is_training_data)
            data = (_copy_mapper(estimator._bin_mapper), X_binned)
            out.append(Binned(data, signature, 0))
            return X_binned
        if not _same(signature, binned.signature):
            return own(estimator, X, sample_weight, is_training_data)
        mapper, X_binned = binned.data
        estimator._bin_mapper = _copy_mapper(mapper)
        out.append(True)
        return X_binned

    return _Shadow(estimator, "_bin_data", bin_data)


def _mapper_params(mapper) -> tuple:
    return tuple(sorted(mapper.get_params().items()))


def _copy_mapper(mapper):
    import copy

    return copy.deepcopy(mapper)


# -- XGBoost ----------------------------------------------------------------


def _xgboost_hook(estimator, binned: Binned | None, out: list):
    """Build or take the training ``QuantileDMatrix`` of an XGBoost fit."""
    own = type(estimator)._create_dmatrix

    def create_dmatrix(ref=None, **kwargs):
        if ref is not None or out:  # an evaluation set's, or a second matrix
            return own(estimator, ref=ref, **kwargs)
        signature = _xgboost_signature(estimator, kwargs)
        if binned is None:
            matrix = own(estimator, ref=ref, **kwargs)
            out.append(Binned(matrix, signature, 0))
            return matrix
        if signature is None or not _same(signature, binned.signature):
            return own(estimator, ref=ref, **kwargs)
        out.append(True)
        return binned.data

    return _Shadow(estimator, "_create_dmatrix", create_dmatrix)


def _xgboost_signature(estimator, kwargs: dict) -> tuple | None:
    data = kwargs.get("data")
    shape = getattr(data, "shape", None)
    if shape is None:
        return None
    columns = tuple(getattr(data, "columns", ()))
    rest = sorted(
        (name, value)
        for name, value in kwargs.items()
        if name not in ("data", "label", "weight", "base_margin")
    )
    return (
        type(data).__name__,
        tuple(shape),
        columns,
        _column(kwargs.get("label")),
        _column(kwargs.get("weight")),
        _column(kwargs.get("base_margin")),
        tuple(rest),
        estimator.n_jobs,
        estimator.max_bin,
    )


# -- LightGBM ---------------------------------------------------------------

_lightgbm_local = threading.local()
_lightgbm_wrap_lock = threading.Lock()


def _wrap_lightgbm_dataset() -> None:
    """Route ``lightgbm.sklearn``'s ``Dataset(...)`` through stratum (once):
    while stratum runs a fit in this thread with shared bins, the first
    ``Dataset`` that fit builds is the shared one; otherwise, and for every
    other caller, it is LightGBM's constructor."""
    import lightgbm.sklearn as module

    with _lightgbm_wrap_lock:
        if getattr(module.Dataset, "_stratum_binning", False):
            return
        construct = module.Dataset

        def Dataset(*args, **kwargs):  # noqa: N802 (the name it replaces)
            hook = getattr(_lightgbm_local, "hook", None)
            if hook is None or args:
                return construct(*args, **kwargs)
            _lightgbm_local.hook = None  # the training set only
            return hook(construct, kwargs)

        Dataset._stratum_binning = True
        Dataset.__wrapped__ = construct
        module.Dataset = Dataset


class _LightGBMScope:
    def __init__(self, hook):
        self.hook = hook

    def __enter__(self):
        _wrap_lightgbm_dataset()
        _lightgbm_local.hook = self.hook

    def __exit__(self, *exc):
        _lightgbm_local.hook = None


def _lightgbm_hook(estimator, binned: Binned | None, out: list):
    """Build or take the training ``Dataset`` of a LightGBM fit."""

    def dataset(construct, kwargs):
        signature = _lightgbm_signature(kwargs)
        if binned is None:
            data = construct(**kwargs)
            out.append(Binned(data, signature, 0))
            return data
        if signature is None or not _same(signature, binned.signature):
            return construct(**kwargs)
        out.append(True)
        return binned.data

    return _LightGBMScope(dataset)


def _lightgbm_signature(kwargs: dict) -> tuple | None:
    data = kwargs.get("data")
    shape = getattr(data, "shape", None)
    if shape is None:
        return None
    return (
        type(data).__name__,
        tuple(shape),
        _column(kwargs.get("label")),
        _column(kwargs.get("weight")),
        _column(kwargs.get("group")),
        _column(kwargs.get("init_score")),
        repr(kwargs.get("categorical_feature")),
        repr(kwargs.get("feature_name")),
    )


_HOOKS = {
    "sklearn": _hgb_hook,
    "xgboost": _xgboost_hook,
    "lightgbm": _lightgbm_hook,
}
