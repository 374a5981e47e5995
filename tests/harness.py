"""Engine switching and result comparison for the differential tests.

``engine("skrub")`` runs plain skrub, ``engine("stratum")`` runs the stratum
engine. Setting the environment variable ``STRATUM_TEST_SELF_CHECK=1`` makes
both sides run plain skrub: it checks the harness itself (seeding, the
comparison code) while the engine is not ready. ``STRATUM_TEST_ALLOW_FALLBACK=1``
accepts stratum runs that fall back to plain skrub (``StratumFallbackWarning``).
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

RTOL = 1e-9
ATOL = 1e-12

SELF_CHECK = os.environ.get("STRATUM_TEST_SELF_CHECK", "").strip().lower() in (
    "1",
    "true",
    "yes",
    "on",
)

ALLOW_FALLBACK = os.environ.get("STRATUM_TEST_ALLOW_FALLBACK", "").strip().lower() in (
    "1",
    "true",
    "yes",
    "on",
)

TIME_KEYS = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")


def _stratum():
    import stratum

    return stratum


@contextlib.contextmanager
def engine(name: str):
    """Run the body under the ``skrub`` or ``stratum`` engine."""
    if name not in ("skrub", "stratum"):
        raise ValueError(name)
    if SELF_CHECK:
        name = "skrub"
        try:
            ctx = _stratum().config_context(engine="skrub")
        except (ImportError, AttributeError):
            ctx = contextlib.nullcontext()
    else:
        ctx = _stratum().config_context(engine=name)
    with ctx:
        yield name


class FallbackError(AssertionError):
    """The stratum engine handed a run back to plain skrub."""


def _fallback_category():
    if SELF_CHECK:
        return None
    return getattr(_stratum(), "StratumFallbackWarning", None)


@contextlib.contextmanager
def no_fallback(allow: bool = False):
    """Fail if stratum emits ``StratumFallbackWarning`` inside the block.

    A run that falls back to plain skrub trivially matches skrub, so a
    differential test that passes that way tests nothing. Pass
    ``allow=True`` (or set ``STRATUM_TEST_ALLOW_FALLBACK=1``) to accept it.
    """
    category = _fallback_category()
    if category is None:
        yield
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", category)
        yield
    fallbacks = []
    for w in caught:
        if issubclass(w.category, category):
            fallbacks.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if fallbacks and not (allow or ALLOW_FALLBACK):
        raise FallbackError(
            "stratum fell back to plain skrub, so this comparison tests nothing:\n  "
            + "\n  ".join(fallbacks)
        )


def both_engines(func, allow_fallback: bool = False):
    """``func()`` under skrub then under stratum: ``(skrub_result, stratum_result)``.

    Fails if stratum falls back to plain skrub (see :func:`no_fallback`).
    """
    with engine("skrub"):
        ref = func()
    with engine("stratum"), no_fallback(allow_fallback):
        got = func()
    return ref, got


# ---------------------------------------------------------------------------
# Value comparison
# ---------------------------------------------------------------------------


def is_null(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return isinstance(v, (float, np.floating)) and math.isnan(v)
    except TypeError:
        return False


def values_equal(a, b) -> bool:
    """Exact equality, NaN/None-aware, for parameter values."""
    if is_null(a) or is_null(b):
        return is_null(a) and is_null(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    try:
        eq = a == b
    except Exception:  # noqa: BLE001 - incomparable values are not equal
        return False
    if isinstance(eq, (bool, np.bool_)):
        return bool(eq)
    return repr(a) == repr(b)


def assert_scores_close(got, ref, what: str, rtol: float = RTOL):
    got = np.asarray(got, dtype=float)
    ref = np.asarray(ref, dtype=float)
    np.testing.assert_allclose(
        got, ref, rtol=rtol, atol=ATOL, equal_nan=True, err_msg=what
    )


def is_score_column(col: str) -> bool:
    return col.startswith(("mean_test_", "std_test_", "mean_train_", "std_train_")) or (
        col.startswith("split") and ("_test_" in col or "_train_" in col)
    )


def assert_frames_match(ref: pd.DataFrame, got: pd.DataFrame, what: str = "results_"):
    """Same columns in the same order, same dtypes, parameter columns exactly
    equal (NaN-aware), score columns within RTOL; time columns are skipped."""
    assert list(got.columns) == list(ref.columns), (
        f"{what}: columns differ\n  skrub:   {list(ref.columns)}\n"
        f"  stratum: {list(got.columns)}"
    )
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    for col in ref.columns:
        if col in TIME_KEYS or str(col).endswith("_time"):
            continue
        assert got[col].dtype == ref[col].dtype, (
            f"{what}[{col!r}]: dtype {got[col].dtype} != {ref[col].dtype}"
        )
        if is_score_column(str(col)):
            assert_scores_close(got[col], ref[col], f"{what}[{col!r}]")
        else:
            bad = [
                i
                for i, (a, b) in enumerate(zip(ref[col].tolist(), got[col].tolist()))
                if not values_equal(a, b)
            ]
            assert not bad, (
                f"{what}[{col!r}] differs at rows {bad[:10]}:\n"
                f"  skrub:   {ref[col].tolist()}\n  stratum: {got[col].tolist()}"
            )


def assert_params_equal(ref: Mapping, got: Mapping, what: str = "params"):
    assert set(got) == set(ref), f"{what}: keys {sorted(got)} != {sorted(ref)}"
    for k in ref:
        assert values_equal(ref[k], got[k]), (
            f"{what}[{k!r}]: stratum {got[k]!r} != skrub {ref[k]!r}"
        )


def assert_cv_results_match(ref: Mapping, got: Mapping):
    assert set(got) == set(ref), (
        f"cv_results_ keys differ: only skrub {sorted(set(ref) - set(got))}, "
        f"only stratum {sorted(set(got) - set(ref))}"
    )
    for k in ref:
        if k in TIME_KEYS:
            continue
        if k == "params":
            assert len(got[k]) == len(ref[k])
            for i, (a, b) in enumerate(zip(ref[k], got[k])):
                assert_params_equal(a, b, f"cv_results_['params'][{i}]")
        elif k.startswith("param_"):
            a, b = list(ref[k]), list(got[k])
            assert len(a) == len(b), k
            for i, (x, y) in enumerate(zip(a, b)):
                assert values_equal(x, y), f"cv_results_[{k!r}][{i}]: {y!r} != {x!r}"
            ma = np.ma.getmaskarray(ref[k])
            mb = np.ma.getmaskarray(got[k])
            assert np.array_equal(ma, mb), f"cv_results_[{k!r}] mask differs"
        elif k.startswith("rank_"):
            np.testing.assert_array_equal(got[k], ref[k], err_msg=k)
        else:
            assert_scores_close(got[k], ref[k], f"cv_results_[{k!r}]")


def _call(learner, method, env):
    return np.asarray(getattr(learner, method)(env))


def prediction_methods(learner) -> list[str]:
    methods = []
    for m in ("predict", "predict_proba", "decision_function"):
        try:
            getattr(learner, m)
        except AttributeError:
            continue
        methods.append(m)
    return methods


def assert_learners_predict_same(ref_learner, got_learner, env, what="best_learner_"):
    methods = prediction_methods(ref_learner)
    assert methods, f"{what}: the skrub learner has no prediction method"
    for m in methods:
        try:
            expected = _call(ref_learner, m, env)
        except Exception as exc:  # noqa: BLE001 - e.g. decision_function missing
            with np.testing.assert_raises(type(exc)):
                _call(got_learner, m, env)
            continue
        actual = _call(got_learner, m, env)
        assert actual.shape == expected.shape, f"{what}.{m}: shape"
        if expected.dtype.kind in "fc":
            assert_scores_close(actual, expected, f"{what}.{m}")
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=f"{what}.{m}")


def assert_searches_match(ref, got, env, check_predictions=True):
    """Compare two fitted skrub ParamSearch objects (skrub vs stratum)."""
    assert_frames_match(ref.results_, got.results_, "results_")
    assert_frames_match(
        ref.detailed_results_, got.detailed_results_, "detailed_results_"
    )
    assert_cv_results_match(ref.cv_results_, got.cv_results_)
    refit = getattr(ref, "refit_", True)
    if refit is not False:
        assert_params_equal(ref.best_params_, got.best_params_, "best_params_")
        assert got.best_index_ == ref.best_index_
        assert_scores_close(got.best_score_, ref.best_score_, "best_score_")
        if check_predictions:
            assert_learners_predict_same(ref.best_learner_, got.best_learner_, env)
    else:
        assert not hasattr(got, "best_learner_")


def score_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith(("test_", "train_"))]


def assert_cv_frames_match(ref: pd.DataFrame, got: pd.DataFrame):
    """Compare cross_validate outputs: same columns, scores within RTOL."""
    assert list(got.columns) == list(ref.columns)
    cols = score_columns(ref)
    assert cols, "no score column in cross_validate output"
    for c in cols:
        assert_scores_close(got[c], ref[c], f"cross_validate[{c!r}]")


def normalized_params(params: Mapping) -> dict:
    """Drop null-valued entries (inactive choices show as NaN in results_)."""
    return {k: v for k, v in params.items() if not is_null(v)}


def results_rows_params(results: pd.DataFrame, score_cols) -> list[dict]:
    """The parameter dict of each row of a skrub results_ table."""
    param_cols = [c for c in results.columns if c not in score_cols]
    return [
        normalized_params({c: row[c] for c in param_cols})
        for _, row in results.iterrows()
    ]


def results_table(res) -> pd.DataFrame:
    """A batch's scores and statuses, in a stable row order."""
    cols = ["pipeline", "_candidate", "mean_test_score", "std_test_score", "status"]
    return res.results_.sort_values(["pipeline", "_candidate"])[cols].reset_index(
        drop=True
    )
