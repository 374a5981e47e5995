"""Differential tests: the stratum engine must give skrub's results exactly.

Every registered pipeline (``pipelines.CASES``) is searched once with plain
skrub (``stratum.config_context(engine="skrub")``) and once with the stratum
engine (the default), and everything observable is compared: ``results_``,
``detailed_results_`` (scores, not times), ``cv_results_``, ``best_params_``,
``best_score_``, ``best_index_`` and the best learner's predictions.
"""

from __future__ import annotations

import warnings

import harness as H
import numpy as np
import pandas as pd
import pipelines as P
import pytest
import skrub
from hypothesis import given
from hypothesis import strategies as st
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.metrics import balanced_accuracy_score, make_scorer, mean_absolute_error
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)
from skrub import selectors as s


def run_search(name, method="grid", build_kwargs=None, **overrides):
    """Build pipeline ``name`` afresh under each engine and fit a search.

    ``overrides`` replace the case's search arguments; a callable value is
    called once per engine (for one-shot arguments such as cv generators).
    Returns ``(env, skrub_search, stratum_search)``.
    """
    case = P.CASES[name]
    args = case.search_args(**overrides)

    def fit():
        pred = case.build(**(build_kwargs or {}))
        kwargs = {k: (v() if callable(v) and k == "cv" else v) for k, v in args.items()}
        if method == "grid":
            search = pred.skb.make_grid_search(fitted=True, **kwargs)
        else:
            kwargs.setdefault("n_iter", 4)
            kwargs.setdefault("random_state", 0)
            search = pred.skb.make_randomized_search(fitted=True, **kwargs)
        return pred, search

    (pred, ref), (_, got) = H.both_engines(fit, allow_fallback=case.fallback_ok)
    return pred.skb.get_data(), ref, got


# ---------------------------------------------------------------------------
# Every pipeline, grid search
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", P.grid_cases())
def test_grid_search_matches_skrub(name):
    env, ref, got = run_search(name)
    H.assert_searches_match(ref, got, env)


def test_registry_is_large_and_covers_the_tasks():
    assert len(P.CASES) >= 40
    tasks = {c.task for c in P.CASES.values()}
    assert {"regression", "classification"} <= tasks


# ---------------------------------------------------------------------------
# Randomized search
# ---------------------------------------------------------------------------

RANDOMIZED = [
    "hp_continuous",
    "rv_continuous",
    "hp_model_list_choice",
    "hp_optional_scaler",
    "rv_binary_roc_auc",
    "np_logreg",
]


@pytest.mark.parametrize("name", RANDOMIZED)
def test_randomized_search_matches_skrub(name):
    env, ref, got = run_search(name, method="randomized", n_iter=4, random_state=0)
    H.assert_searches_match(ref, got, env)


def test_randomized_search_other_seed_and_more_iterations():
    env, ref, got = run_search(
        "hp_continuous", method="randomized", n_iter=7, random_state=12
    )
    H.assert_searches_match(ref, got, env)


# ---------------------------------------------------------------------------
# Scoring variants
# ---------------------------------------------------------------------------


def neg_max_abs_error(estimator, X, y):
    """A plain callable scorer."""
    return -float(np.max(np.abs(np.asarray(estimator.predict(X)) - np.asarray(y))))


def test_multimetric_list_refit_by_name():
    env, ref, got = run_search(
        "hp_model_list_choice",
        scoring=["r2", "neg_mean_absolute_error"],
        refit="neg_mean_absolute_error",
    )
    H.assert_searches_match(ref, got, env)


def test_multimetric_dict_of_scorers_refit_by_name():
    scoring = {
        "acc": "accuracy",
        "bal": make_scorer(balanced_accuracy_score),
        "ll": "neg_log_loss",
    }
    env, ref, got = run_search("np_logreg", scoring=scoring, refit="ll")
    H.assert_searches_match(ref, got, env)


def test_multimetric_dict_regression_with_train_scores():
    scoring = {
        "r2": "r2",
        "mae": make_scorer(mean_absolute_error, greater_is_better=False),
    }
    env, ref, got = run_search(
        "hp_imputer_scaler_choices",
        scoring=scoring,
        refit="mae",
        return_train_score=True,
    )
    H.assert_searches_match(ref, got, env)


def test_multimetric_refit_false():
    env, ref, got = run_search(
        "np_ridge", scoring=["r2", "neg_mean_squared_error"], refit=False
    )
    H.assert_searches_match(ref, got, env)


@pytest.mark.parametrize("name", ["hp_model_list_choice", "np_logreg", "rv_tv_hgb"])
def test_scoring_none_uses_estimator_score(name):
    env, ref, got = run_search(name, scoring=None)
    H.assert_searches_match(ref, got, env)


def test_callable_scorer():
    env, ref, got = run_search("hp_optional_scaler", scoring=neg_max_abs_error)
    H.assert_searches_match(ref, got, env)


@pytest.mark.parametrize("name", ["hp_imputer_scaler_choices", "np_logreg"])
def test_return_train_score(name):
    env, ref, got = run_search(name, return_train_score=True)
    H.assert_searches_match(ref, got, env)
    assert any(c.startswith("mean_train_") for c in got.detailed_results_.columns)


def test_with_scoring_two_metrics_scoring_none():
    def build():
        X, y = P.house_xy(log_target=True)
        X = P.numeric_only(X).skb.apply(SimpleImputer())
        pred = X.skb.apply(
            Ridge(alpha=skrub.choose_from([0.1, 30.0], name="alpha")), y=y
        )
        return pred.skb.with_scoring("r2").skb.with_scoring(
            "neg_mean_absolute_error", name="mae"
        )

    def fit():
        pred = build()
        return pred, pred.skb.make_grid_search(fitted=True, cv=3, refit="mae")

    # stratum announces that .skb.with_scoring() is evaluated by skrub
    (pred, ref), (_, got) = H.both_engines(fit, allow_fallback=True)
    H.assert_searches_match(ref, got, pred.skb.get_data())


def test_refit_false():
    env, ref, got = run_search("hp_onehot_cols", refit=False)
    H.assert_searches_match(ref, got, env)


# ---------------------------------------------------------------------------
# Cross-validation splitters
# ---------------------------------------------------------------------------


def test_cv_kfold_shuffled():
    env, ref, got = run_search(
        "hp_onehot_cols", cv=KFold(n_splits=3, shuffle=True, random_state=0)
    )
    H.assert_searches_match(ref, got, env)


def test_cv_int_other_than_three():
    env, ref, got = run_search("hp_imputer_scaler_choices", cv=4)
    H.assert_searches_match(ref, got, env)


def test_cv_stratified_kfold():
    env, ref, got = run_search(
        "rv_deferred_text_stats",
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
    )
    H.assert_searches_match(ref, got, env)


def test_cv_list_of_index_arrays():
    n = P.N_HOUSES
    folds = list(KFold(n_splits=3, shuffle=True, random_state=3).split(np.arange(n)))
    # uneven, non-contiguous folds that do not cover every row
    folds = [(train[::2], test) for train, test in folds]
    env, ref, got = run_search("hp_concat", cv=folds)
    H.assert_searches_match(ref, got, env)


def test_cv_generator_raises_like_skrub():
    """skrub 0.11 deep-copies the search in ParamSearch.fit, so a generator of
    splits fails with TypeError (cannot pickle 'generator'); stratum must not
    silently accept it either."""

    def build():
        return P.build("hp_method_calls")

    cv = (split for split in KFold(3).split(np.arange(P.N_HOUSES)))
    ref, got = _fit_under_both(build, cv=cv, scoring="r2")
    assert ref[0] == "raised", ref
    assert got[0] == "raised", got
    assert type(got[1]) is type(ref[1])


def test_classifier_int_cv_is_stratified():
    """rv_sorted_labels has rows sorted by label: the int cv must become a
    StratifiedKFold (sklearn's check_cv for a classifier). Check first that
    plain KFold gives different scores, so that the comparison can tell."""
    with H.engine("skrub"):
        pred = P.build("rv_sorted_labels")
        strat = pred.skb.make_grid_search(fitted=True, cv=3, scoring="accuracy")
        pred = P.build("rv_sorted_labels")
        kfold = pred.skb.make_grid_search(fitted=True, cv=KFold(3), scoring="accuracy")
    a = strat.cv_results_["mean_test_score"]
    b = kfold.cv_results_["mean_test_score"]
    assert not np.allclose(a, b), "KFold and StratifiedKFold should disagree here"
    env, ref, got = run_search("rv_sorted_labels", cv=3)
    H.assert_searches_match(ref, got, env)


# ---------------------------------------------------------------------------
# Failures inside a search (drop-in path keeps sklearn's error_score semantics)
# ---------------------------------------------------------------------------


def _partially_failing(df=None):
    X, y = P.house_xy(df, log_target=True)
    X = P.numeric_only(X).skb.apply(SimpleImputer())
    model = skrub.choose_from(
        {"ridge": Ridge(alpha=1.0), "broken": P.FailingRegressor()}, name="model"
    )
    return X.skb.apply(model, y=y)


def _all_failing(df=None):
    # eager previews would fit the failing estimator while building
    with skrub.config_context(eager_data_ops=False):
        X, y = P.house_xy(df, log_target=True)
        X = P.numeric_only(X).skb.apply(SimpleImputer())
        return X.skb.apply(
            P.FailingRegressor(
                message=skrub.choose_from(["boom a", "boom b"], name="msg")
            ),
            y=y,
        )


def _fit_under_both(build, **kwargs):
    """Run ``build().skb.make_grid_search(fitted=True, **kwargs)`` under both
    engines and return, for each, either ``("ok", pred, search)`` or
    ``("raised", exc)``."""

    def attempt():
        pred = build()  # building must not fail: only the search may
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ("ok", pred, pred.skb.make_grid_search(fitted=True, **kwargs))
        except Exception as exc:  # noqa: BLE001
            return ("raised", exc)

    return H.both_engines(attempt)


def test_partial_failure_error_score_nan():
    ref, got = _fit_under_both(_partially_failing, cv=3, scoring="r2")
    assert ref[0] == "ok" and got[0] == "ok", (ref, got)
    assert ref[2].results_["mean_test_score"].isna().sum() == 1
    H.assert_searches_match(ref[2], got[2], ref[1].skb.get_data())


def test_partial_failure_error_score_number():
    ref, got = _fit_under_both(_partially_failing, cv=3, scoring="r2", error_score=-5.0)
    assert ref[0] == "ok" and got[0] == "ok", (ref, got)
    assert (ref[2].results_["mean_test_score"] == -5.0).sum() == 1
    H.assert_searches_match(ref[2], got[2], ref[1].skb.get_data())


def test_error_score_raise_propagates_the_same_error():
    ref, got = _fit_under_both(
        _partially_failing, cv=3, scoring="r2", error_score="raise"
    )
    assert ref[0] == "raised" and got[0] == "raised", (ref, got)
    assert type(got[1]) is type(ref[1])
    assert "boom" in str(got[1])


def test_all_configurations_failing_raises_like_skrub():
    ref, got = _fit_under_both(_all_failing, cv=3, scoring="r2")
    assert ref[0] == "raised" and got[0] == "raised", (ref, got)
    assert type(got[1]) is type(ref[1])


def test_failure_before_mark_as_x_raises_like_skrub():
    def build():
        with skrub.config_context(eager_data_ops=False):
            data = skrub.var("houses", P.houses())
            X = data.drop(columns=["price", "nope"]).skb.mark_as_X()
            y = data["price"].skb.mark_as_y()
            return X.skb.apply(Ridge(alpha=skrub.choose_from([1.0, 2.0])), y=y)

    ref, got = _fit_under_both(build, cv=3, scoring="r2")
    assert ref[0] == "raised" and got[0] == "raised", (ref, got)
    assert type(got[1]) is type(ref[1])
    assert "nope" in str(got[1])


# ---------------------------------------------------------------------------
# cross_validate
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("hp_tv_ridge", {"cv": 3, "scoring": "r2"}),
        (
            "hp_attribute_access",
            {"cv": KFold(4, shuffle=True, random_state=2), "scoring": "r2"},
        ),
        ("rv_sorted_labels", {"cv": 3, "scoring": "accuracy"}),
        ("rv_lgbm", {"cv": 3, "scoring": ["accuracy", "neg_log_loss"]}),
        ("hp_mark_as_x_kfold", {}),
        ("hp_with_scoring", {"cv": 3, "return_train_score": True}),
        (
            "np_ridge",
            {"cv": 3, "scoring": neg_max_abs_error, "return_train_score": True},
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_dataop_cross_validate(name, kwargs):
    def run():
        pred = P.build(name)
        return pred.skb.cross_validate(**kwargs)

    ref, got = H.both_engines(run, allow_fallback=P.CASES[name].fallback_ok)
    H.assert_cv_frames_match(ref, got)


def _skrub_module(engine_name):
    """``skrub`` on the skrub side, ``stratum`` (``import stratum as skrub``)
    on the stratum side."""
    if engine_name == "stratum" and not H.SELF_CHECK:
        import stratum

        return stratum
    return skrub


def _both_modules(func):
    with H.engine("skrub"):
        ref = func(_skrub_module("skrub"))
    with H.engine("stratum"), H.no_fallback():
        got = func(_skrub_module("stratum"))
    return ref, got


def test_skrub_cross_validate_learner():
    def run(sk):
        pred = P.build("hp_choice_match")
        learner = pred.skb.make_learner()
        return sk.cross_validate(
            learner,
            pred.skb.get_data(),
            cv=KFold(3, shuffle=True, random_state=0),
            scoring="r2",
            return_train_score=True,
        )

    ref, got = _both_modules(run)
    H.assert_cv_frames_match(ref, got)


def test_skrub_cross_validate_returns_learners():
    def run(sk):
        pred = P.build("hp_optional_scaler")
        env = pred.skb.get_data()
        res = sk.cross_validate(
            pred.skb.make_learner(), env, cv=3, scoring="r2", return_learner=True
        )
        return env, res

    (env, ref), (_, got) = _both_modules(run)
    H.assert_cv_frames_match(ref.drop(columns="learner"), got.drop(columns="learner"))
    for i, (a, b) in enumerate(zip(ref["learner"], got["learner"])):
        H.assert_learners_predict_same(a, b, env, f"learner[{i}]")


def test_skrub_cross_validate_nested_grid_search():
    def run(sk):
        pred = P.build("hp_imputer_scaler_choices")
        search = pred.skb.make_grid_search(cv=2, scoring="r2")
        return sk.cross_validate(search, pred.skb.get_data(), cv=3, scoring="r2")

    ref, got = _both_modules(run)
    H.assert_cv_frames_match(ref, got)


def test_skrub_cross_validate_classifier_default_cv():
    def run(sk):
        pred = P.build("rv_sorted_labels")
        return sk.cross_validate(pred.skb.make_learner(), pred.skb.get_data(), cv=3)

    ref, got = _both_modules(run)
    H.assert_cv_frames_match(ref, got)


# ---------------------------------------------------------------------------
# Search objects used after fitting
# ---------------------------------------------------------------------------


def test_search_predict_and_score_on_new_data():
    new = P.houses(n_rows=80, seed=7)

    def run():
        pred = P.build("hp_onehot_cols")
        search = pred.skb.make_grid_search(fitted=True, cv=3, scoring="r2")
        env = {"houses": new}
        return search.predict(env), search.best_learner_.score(env)

    (ref_pred, ref_score), (got_pred, got_score) = H.both_engines(run)
    H.assert_scores_close(got_pred, ref_pred, "search.predict")
    H.assert_scores_close(got_score, ref_score, "best_learner_.score")


def test_unfitted_search_fit_later():
    def run():
        pred = P.build("hp_imputer_scaler_choices")
        search = pred.skb.make_grid_search(cv=3, scoring="r2")
        search.fit(pred.skb.get_data())
        return pred, search

    (pred, ref), (_, got) = H.both_engines(run)
    H.assert_searches_match(ref, got, pred.skb.get_data())


def test_search_on_other_data_than_the_preview():
    other = P.houses(n_rows=240, seed=11)

    def run():
        pred = P.build("hp_exclude_cols")
        search = pred.skb.make_grid_search(cv=3, scoring="r2")
        search.fit({"houses": other})
        return search

    ref, got = H.both_engines(run)
    H.assert_searches_match(ref, got, {"houses": other})


# ---------------------------------------------------------------------------
# Generated pipelines (hypothesis)
# ---------------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.sampled_from(list("abcxyzéèüßØ日本語🙂 -'")), min_size=0, max_size=6
)


@st.composite
def small_frames(draw):
    n = draw(st.integers(min_value=24, max_value=48))
    seed = draw(st.integers(min_value=0, max_value=2**16))
    rng = np.random.default_rng(seed)
    cats = draw(st.lists(_TEXT, min_size=1, max_size=4, unique=True))
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.integers(0, 5, size=n).astype(float),
            "const": np.full(n, draw(st.sampled_from([0.0, 1.5, -3.0]))),
            "cat": pd.Series(
                np.asarray(cats, dtype=object)[rng.integers(len(cats), size=n)],
                dtype="str",
            ),
            "single": pd.Series([draw(_TEXT)] * n, dtype="str"),
        }
    )
    nan_rate = draw(st.sampled_from([0.0, 0.1, 0.3]))
    if nan_rate:
        df.loc[rng.random(n) < nan_rate, "x1"] = np.nan
        df.loc[rng.random(n) < nan_rate, "cat"] = None
    df["target"] = (
        2.0 * np.nan_to_num(np.asarray(df["x1"], dtype=float))
        + df["x2"]
        + (df["cat"] == cats[0]).astype(float)
        + rng.normal(scale=0.3, size=n)
    )
    return df


_STEPS = ["impute", "scale", "encode"]


@st.composite
def small_pipelines(draw):
    steps = draw(st.permutations(_STEPS))
    steps = steps[: draw(st.integers(min_value=0, max_value=len(_STEPS)))]
    spec = {
        "steps": list(steps),
        "imputer": draw(st.sampled_from(["mean", "median", "choice"])),
        "scaler": draw(st.sampled_from(["standard", "minmax", "choice", "optional"])),
        "encoder": draw(st.sampled_from(["onehot", "ordinal", "string", "choice"])),
        "model": draw(st.sampled_from(["ridge", "hgb", "choice"])),
    }
    return spec


def _build_generated(spec, df):
    data = skrub.var("data", df)
    X = data.drop(columns=["target"]).skb.mark_as_X()
    y = data["target"].skb.mark_as_y()
    encoded = False
    for step in spec["steps"]:
        if step == "impute":
            strategy = spec["imputer"]
            if strategy == "choice":
                strategy = skrub.choose_from(["mean", "median"], name="strategy")
            X = X.skb.apply(SimpleImputer(strategy=strategy), cols=s.numeric())
        elif step == "scale":
            scaler = {
                "standard": StandardScaler(),
                "minmax": MinMaxScaler(),
                "choice": skrub.choose_from(
                    {"std": StandardScaler(), "mm": MinMaxScaler()}, name="scaler"
                ),
                "optional": skrub.optional(StandardScaler(), name="scale"),
            }[spec["scaler"]]
            X = X.skb.apply(scaler, cols=s.numeric())
        elif step == "encode":
            encoded = True
            enc = {
                "onehot": OneHotEncoder(sparse_output=False, handle_unknown="ignore"),
                "ordinal": OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=-1,
                    encoded_missing_value=-2,
                ),
                "string": P.string_encoder(2),
                "choice": skrub.choose_from(
                    {
                        "onehot": OneHotEncoder(
                            sparse_output=False, handle_unknown="ignore"
                        ),
                        "ordinal": OrdinalEncoder(
                            handle_unknown="use_encoded_value",
                            unknown_value=-1,
                            encoded_missing_value=-2,
                        ),
                    },
                    name="encoder",
                ),
            }[spec["encoder"]]
            X = X.skb.apply(enc, cols=s.string())
    if not encoded:
        X = X.skb.select(s.numeric())
    ridge = Ridge(
        alpha=skrub.choose_float(0.01, 10.0, log=True, n_steps=2, name="alpha")
    )
    hgb = P.hgb_regressor(max_iter=skrub.choose_int(3, 9, n_steps=2, name="max_iter"))
    if spec["model"] == "ridge" or (spec["model"] == "choice"):
        # Ridge needs NaN-free input: impute last (a no-op when already imputed)
        X = X.skb.apply(SimpleImputer(strategy="constant", fill_value=0.0))
    model = {
        "ridge": ridge,
        "hgb": hgb,
        "choice": skrub.choose_from({"ridge": ridge, "hgb": hgb}, name="model"),
    }[spec["model"]]
    return X.skb.apply(model, y=y)


@given(df=small_frames(), spec=small_pipelines())
def test_generated_pipelines_match_skrub(df, spec):
    def attempt():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pred = _build_generated(spec, df.copy())
                return (
                    "ok",
                    pred.skb.make_grid_search(fitted=True, cv=3, scoring="r2"),
                )
        except Exception as exc:  # noqa: BLE001 - compare failures too
            return ("raised", exc)

    ref, got = H.both_engines(attempt)
    assert ref[0] == got[0], (spec, ref, got)
    if ref[0] == "raised":
        assert type(got[1]) is type(ref[1]), (spec, ref[1], got[1])
        return
    env = {"data": df}
    H.assert_searches_match(ref[1], got[1], env)
