"""Which steps are pinned to the caller's library thread count, and why.

Some estimators compute different floating-point results with another number
of BLAS/LAPACK/OpenMP threads: a threaded BLAS splits a reduction between
threads, a LAPACK factorisation blocks it differently, OpenMP code sums
per-thread partial results. With ``n_jobs`` workers each getting a share of
the cores, such a step would give other bits than plain skrub (which gives
every step all the library threads) and than ``n_jobs=1``, enough to move a
score or a winner (``benchmarks/thread_invariance.py``: the StringEncoder's
randomized SVD at 1e-4, Ridge and ElasticNet in the last digits).

A task is *pinned* when one of its step's estimators, at any depth (the
StringEncoder inside a TableVectorizer, the steps of a Pipeline, the
estimator of a meta-estimator: the frontend lists them, choices resolved, in
``Node.estimators``), is an instance of a class listed here or of a subclass
(stratum's kernels subclass the classes they replace). Every task of such a
step is pinned: its fits, its transforms and predictions, and the score
tasks that predict with it. The runtime runs a pinned task with the library
thread counts of the thread that started the run, whatever ``n_jobs`` is
(see ``runtime.budget.LibraryThreads``).

The list is conservative: it names every estimator whose fit or predict rests
on BLAS level-2/3 products, LAPACK factorisations or OpenMP reductions, measured
or not; pinning costs parallelism, never results. Left out, because their
results were measured identical with 1 and 2 threads or they use no threaded
library: LightGBM, XGBoost (``hist``), HistGradientBoosting, RandomForest and
the other tree ensembles, LogisticRegression with its default solver
(``lbfgs``), the SGD family, the SVMs (libsvm/liblinear), and the encoders,
scalers and imputers. What cannot be inspected is not pinned: a step whose
estimator is computed by the pipeline (a DataOp), or a ``deferred`` function
doing its own linear algebra.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_SVD = "randomized SVD, LAPACK QR/LU and BLAS products"
_LSTSQ = "BLAS products and a LAPACK solve"
_CD = "coordinate descent on BLAS dot products over the samples"
_DECOMP = "LAPACK SVD/eigendecomposition and BLAS products"
_GEMM = "BLAS matrix products"
_KMEANS = "OpenMP partial sums per thread and BLAS matrix products"
_NEIGHBORS = "brute-force distances by BLAS matrix products"
_MEASURED = ", measured different with 1 and 2 threads"

# (top-level package, class name) -> why its results depend on the thread
# count. Matched against every class of an estimator's MRO.
THREAD_SENSITIVE: dict[tuple[str, str], str] = {
    # skrub's text encoders
    ("skrub", "StringEncoder"): _SVD + _MEASURED,
    ("skrub", "GapEncoder"): "NMF-like updates by " + _GEMM,
    ("skrub", "TextEncoder"): "a language model's " + _GEMM,
    # sklearn.decomposition and friends
    ("sklearn", "TruncatedSVD"): _SVD,
    ("sklearn", "PCA"): _DECOMP,
    ("sklearn", "IncrementalPCA"): _DECOMP,
    ("sklearn", "KernelPCA"): _DECOMP,
    ("sklearn", "SparsePCA"): _DECOMP,
    ("sklearn", "MiniBatchSparsePCA"): _DECOMP,
    ("sklearn", "FactorAnalysis"): _DECOMP,
    ("sklearn", "FastICA"): _DECOMP,
    ("sklearn", "NMF"): _GEMM,
    ("sklearn", "MiniBatchNMF"): _GEMM,
    ("sklearn", "LatentDirichletAllocation"): _GEMM,
    ("sklearn", "DictionaryLearning"): _DECOMP,
    ("sklearn", "MiniBatchDictionaryLearning"): _DECOMP,
    ("sklearn", "PLSRegression"): _DECOMP,
    ("sklearn", "PLSCanonical"): _DECOMP,
    ("sklearn", "PLSSVD"): _DECOMP,
    ("sklearn", "CCA"): _DECOMP,
    ("sklearn", "LinearDiscriminantAnalysis"): _DECOMP,
    ("sklearn", "QuadraticDiscriminantAnalysis"): _DECOMP,
    ("sklearn", "Nystroem"): _DECOMP,
    # sklearn.linear_model: least squares and coordinate descent
    ("sklearn", "LinearRegression"): _LSTSQ,
    ("sklearn", "Ridge"): _LSTSQ + _MEASURED,
    ("sklearn", "RidgeCV"): _LSTSQ,
    ("sklearn", "RidgeClassifier"): _LSTSQ,
    ("sklearn", "RidgeClassifierCV"): _LSTSQ,
    ("sklearn", "KernelRidge"): _LSTSQ,
    ("sklearn", "BayesianRidge"): _LSTSQ,
    ("sklearn", "ARDRegression"): _LSTSQ,
    ("sklearn", "TheilSenRegressor"): _LSTSQ,
    ("sklearn", "Lars"): _LSTSQ,
    ("sklearn", "LarsCV"): _LSTSQ,
    ("sklearn", "LassoLars"): _LSTSQ,
    ("sklearn", "LassoLarsCV"): _LSTSQ,
    ("sklearn", "LassoLarsIC"): _LSTSQ,
    ("sklearn", "OrthogonalMatchingPursuit"): _LSTSQ,
    ("sklearn", "OrthogonalMatchingPursuitCV"): _LSTSQ,
    ("sklearn", "ElasticNet"): _CD + _MEASURED,
    ("sklearn", "ElasticNetCV"): _CD,
    ("sklearn", "Lasso"): _CD,
    ("sklearn", "LassoCV"): _CD,
    ("sklearn", "MultiTaskElasticNet"): _CD,
    ("sklearn", "MultiTaskElasticNetCV"): _CD,
    ("sklearn", "MultiTaskLasso"): _CD,
    ("sklearn", "MultiTaskLassoCV"): _CD,
    # other models on dense linear algebra or OpenMP reductions
    ("sklearn", "GaussianProcessRegressor"): _LSTSQ,
    ("sklearn", "GaussianProcessClassifier"): _LSTSQ,
    ("sklearn", "GaussianMixture"): _DECOMP,
    ("sklearn", "BayesianGaussianMixture"): _DECOMP,
    ("sklearn", "KMeans"): _KMEANS,
    ("sklearn", "MiniBatchKMeans"): _KMEANS,
    ("sklearn", "BisectingKMeans"): _KMEANS,
    ("sklearn", "MLPRegressor"): _GEMM,
    ("sklearn", "MLPClassifier"): _GEMM,
    ("sklearn", "KNeighborsRegressor"): _NEIGHBORS,
    ("sklearn", "KNeighborsClassifier"): _NEIGHBORS,
    ("sklearn", "RadiusNeighborsRegressor"): _NEIGHBORS,
    ("sklearn", "RadiusNeighborsClassifier"): _NEIGHBORS,
}

# Classes whose results depend on the thread count only with some parameter
# values: (package, class) -> (parameter, values, why). Their default solver
# (lbfgs) gave the same bits with 1 and 2 threads.
_NEWTON_CHOLESKY = (
    "solver",
    ("newton-cholesky",),
    "solver newton-cholesky, a BLAS Hessian and a LAPACK solve",
)
THREAD_SENSITIVE_WITH: dict[tuple[str, str], tuple[str, tuple, str]] = {
    ("sklearn", "LogisticRegression"): _NEWTON_CHOLESKY,
    ("sklearn", "LogisticRegressionCV"): _NEWTON_CHOLESKY,
    ("sklearn", "PoissonRegressor"): _NEWTON_CHOLESKY,
    ("sklearn", "GammaRegressor"): _NEWTON_CHOLESKY,
    ("sklearn", "TweedieRegressor"): _NEWTON_CHOLESKY,
}


def sensitivity(estimator: Any) -> str | None:
    """Why ``estimator`` (not what it holds) computes different bits with
    another thread count, or None. A parameter that decides it and is not a
    plain value (a choice) counts as the sensitive value."""
    for cls in type(estimator).__mro__:
        name = (cls.__module__.partition(".")[0], cls.__name__)
        reason = THREAD_SENSITIVE.get(name)
        if reason is not None:
            return reason
        conditional = THREAD_SENSITIVE_WITH.get(name)
        if conditional is not None:
            param, values, reason = conditional
            value = _params(estimator).get(param)
            return None if isinstance(value, str) and value not in values else reason
    return None


def pinning(estimators: Iterable[Any]) -> str | None:
    """Why a step using ``estimators`` (all of them, at any depth, as the
    frontend found them: ``Node.estimators``) must run with the caller's
    library threads ("Class: reason"), or None."""
    for estimator in estimators:
        reason = sensitivity(estimator)
        if reason is not None:
            return f"{type(estimator).__name__}: {reason}"
    return None


def _params(estimator: Any) -> dict:
    try:
        return dict(estimator.get_params(deep=False))
    except Exception:  # not a scikit-learn estimator after all
        return {}


def node_pinning(plan: Any, node: Any) -> str | None:
    """Why the tasks of ``node`` are pinned, or None: its own estimators, and
    for control flow (``if_else``/``match``, whose chosen branch is fitted
    inside the task) those of every node of its branches."""
    reason = pinning(node.estimators)
    if reason is not None or not node.flags.dynamic:
        return reason
    scheduled = set(node.fit_deps) | set(node.apply_deps)
    stack = [k for k in node.inputs if k not in scheduled]
    seen: set = set()
    while stack:
        key = stack.pop()
        if key in seen or key not in plan.nodes:
            continue
        seen.add(key)
        branch = plan.nodes[key]
        reason = pinning(branch.estimators)
        if reason is not None:
            return f"branch {branch.label}: {reason}"
        stack.extend(branch.inputs)
    return None


def inline_pinning(plan: Any, nodes: Iterable[Any]) -> str | None:
    """Why a task that computes ``nodes`` inline (a score task: the final
    estimator's predictions) is pinned, or None."""
    for node in nodes:
        reason = node_pinning(plan, node)
        if reason is not None:
            return f"{node.label}: {reason}"
    return None


__all__ = [
    "THREAD_SENSITIVE",
    "THREAD_SENSITIVE_WITH",
    "inline_pinning",
    "node_pinning",
    "pinning",
    "sensitivity",
]
