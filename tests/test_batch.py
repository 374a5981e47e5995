"""``stratum.search``: a batch of separately built pipelines in one plan.

Each pipeline's rows must equal what plain skrub's grid search gives for that
pipeline alone; shared work must run once (counted with an instrumented
scaler); a failing pipeline must only fail its own rows.
"""

from __future__ import annotations

import harness as H
import numpy as np
import pandas as pd
import pipelines as P
import pytest
import skrub
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge

pytestmark = pytest.mark.stratum_only

stratum = pytest.importorskip("stratum")

REQUIRED_COLUMNS = [
    "pipeline",
    "params",
    "mean_test_score",
    "std_test_score",
    "split0_test_score",
    "split1_test_score",
    "split2_test_score",
    "mean_fit_time",
    "mean_score_time",
    "status",
    "error",
]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def skrub_reference(build, **search_kwargs):
    """Plain skrub grid search (or randomized search with ``n_iter``) of a
    freshly built pipeline: ``(pred, search)``."""
    search_kwargs = {"cv": 3, "scoring": "r2"} | search_kwargs
    n_iter = search_kwargs.pop("n_iter", None)
    with H.engine("skrub"):
        pred = build()
        if n_iter is None:
            search = pred.skb.make_grid_search(fitted=True, **search_kwargs)
        else:
            search = pred.skb.make_randomized_search(
                fitted=True, n_iter=n_iter, **search_kwargs
            )
    return pred, search


def _reference_rows(search, metric="score"):
    """Per configuration of a skrub search, in ``results_`` order:
    ``(params, mean, std, [split scores])`` for ``metric``.

    ``results_`` is ``cv_results_`` sorted (stable, descending) by the refit
    metric's mean test score, which maps its rows to the split scores."""
    cv = search.cv_results_
    refit = getattr(search, "refit_", True)
    sort_key = f"mean_test_{refit}" if isinstance(refit, str) else "mean_test_score"
    order = (
        pd.Series(np.asarray(cv[sort_key], dtype=float))
        .sort_values(ascending=False, kind="stable")
        .index.to_numpy()
    )
    score_cols = [c for c in search.results_.columns if c.startswith("mean_test_")]
    params = H.results_rows_params(search.results_, score_cols)
    n_splits = sum(
        1 for k in cv if k.startswith("split") and k.endswith(f"_test_{metric}")
    )
    mean = np.asarray(cv[f"mean_test_{metric}"], dtype=float)
    std = np.asarray(cv[f"std_test_{metric}"], dtype=float)
    splits = [
        np.asarray(cv[f"split{i}_test_{metric}"], dtype=float) for i in range(n_splits)
    ]
    return [
        (params[j], mean[i], std[i], [sp[i] for sp in splits])
        for j, i in enumerate(order)
    ]


def assert_rows_match(res, name, ref_search, metric="score"):
    """The rows of pipeline ``name`` in ``res.results_`` equal the configurations
    of the skrub search ``ref_search`` (in any order)."""
    table = res.results_
    rows = table[table["pipeline"] == name]
    expected = _reference_rows(ref_search, metric)
    assert len(rows) == len(expected), (
        f"{name}: {len(rows)} rows, skrub has {len(expected)} configurations"
    )
    assert (rows["status"] == "ok").all(), rows[["status", "error"]]
    assert rows["error"].map(H.is_null).all()
    remaining = list(expected)
    for _, row in rows.iterrows():
        got_params = H.normalized_params(row["params"])
        matches = [
            k for k, e in enumerate(remaining) if _params_equal(e[0], got_params)
        ]
        assert matches, (
            f"{name}: row params {got_params} not among skrub's "
            f"{[e[0] for e in remaining]}"
        )
        params, mean, std, splits = remaining.pop(matches[0])
        H.assert_scores_close(row[f"mean_test_{metric}"], mean, f"{name} {params} mean")
        H.assert_scores_close(row[f"std_test_{metric}"], std, f"{name} {params} std")
        for i, sc in enumerate(splits):
            H.assert_scores_close(
                row[f"split{i}_test_{metric}"], sc, f"{name} {params} split{i}"
            )


def _params_equal(a, b):
    return set(a) == set(b) and all(H.values_equal(a[k], b[k]) for k in a)


def assert_sorted(table, col="mean_test_score"):
    status = table["status"].tolist()
    n_ok = status.count("ok")
    assert status == ["ok"] * n_ok + ["error"] * (len(status) - n_ok), status
    scores = table[col].to_numpy(dtype=float)[:n_ok]
    assert np.all(np.diff(scores) <= 0), scores


def assert_best(res, refs, envs, col="mean_test_score"):
    table = res.results_
    top = table.iloc[0]
    best = res.best_
    assert best.pipeline == top["pipeline"]
    assert _params_equal(
        H.normalized_params(best.params), H.normalized_params(top["params"])
    )
    H.assert_scores_close(best.score, top[col], "best_.score")
    ok = table[table["status"] == "ok"]
    H.assert_scores_close(best.score, ok[col].max(), "best_.score is the max")
    ref = refs[best.pipeline]
    assert _params_equal(
        _reference_rows(ref)[0][0], H.normalized_params(best.params)
    ), "best_.params differ from skrub's best configuration for that pipeline"
    H.assert_learners_predict_same(
        ref.best_learner_, best.learner, envs[best.pipeline], "best_.learner"
    )


# ---------------------------------------------------------------------------
# Batches of separately built pipelines
# ---------------------------------------------------------------------------

BATCH = [
    "hp_imputer_scaler_choices",
    "hp_optional_scaler",
    "hp_model_list_choice",
    "hp_onehot_cols",
    "hp_choice_match",
]


def test_batch_dict_matches_per_pipeline_skrub():
    refs, envs = {}, {}
    for name in BATCH:
        pred, refs[name] = skrub_reference(lambda n=name: P.build(n))
        envs[name] = pred.skb.get_data()
    batch = {name: P.build(name) for name in BATCH}  # new objects
    res = stratum.search(batch, cv=3, scoring="r2", refit=True)
    table = res.results_
    assert isinstance(table, pd.DataFrame)
    for col in REQUIRED_COLUMNS:
        assert col in table.columns, col
    assert list(pd.unique(table["pipeline"])) != []
    assert set(table["pipeline"]) == set(BATCH)
    assert len(table) == sum(len(r.results_) for r in refs.values())
    for name in BATCH:
        assert_rows_match(res, name, refs[name])
    assert_sorted(table)
    assert_best(res, refs, envs)
    assert isinstance(res.stats_, pd.DataFrame)
    text = res.explain()
    assert isinstance(text, str) and text


def test_batch_list_names_pipelines_by_position():
    names = ["hp_model_list_choice", "hp_exclude_cols", "np_ridge"]
    refs, envs = {}, {}
    for i, name in enumerate(names):
        pred, refs[f"pipeline_{i}"] = skrub_reference(lambda n=name: P.build(n))
        envs[f"pipeline_{i}"] = pred.skb.get_data()
    res = stratum.search([P.build(n) for n in names], cv=3, scoring="r2")
    assert set(res.results_["pipeline"]) == {"pipeline_0", "pipeline_1", "pipeline_2"}
    for key, ref in refs.items():
        assert_rows_match(res, key, ref)
    assert_sorted(res.results_)
    assert_best(res, refs, envs)


def test_batch_classification_and_kfold():
    from sklearn.model_selection import KFold

    cv = KFold(3, shuffle=True, random_state=0)
    names = ["rv_deferred_text_stats", "rv_datetime_onehot", "rv_sorted_labels"]
    refs, envs = {}, {}
    for name in names:
        pred, refs[name] = skrub_reference(
            lambda n=name: P.build(n), cv=cv, scoring="accuracy"
        )
        envs[name] = pred.skb.get_data()
    res = stratum.search(
        {n: P.build(n) for n in names}, cv=cv, scoring="accuracy", refit=True
    )
    for name in names:
        assert_rows_match(res, name, refs[name])
    assert_sorted(res.results_)
    assert_best(res, refs, envs)


def test_batch_int_cv_stratifies_classifiers():
    names = ["rv_sorted_labels", "np_logreg"]
    refs = {
        n: skrub_reference(lambda n=n: P.build(n), scoring="accuracy")[1] for n in names
    }
    res = stratum.search(
        {n: P.build(n) for n in names}, cv=3, scoring="accuracy", refit=False
    )
    for name in names:
        assert_rows_match(res, name, refs[name])


def test_batch_same_variable_name_different_data():
    """Two pipelines use a variable called "houses" bound to different frames:
    each must be evaluated on its own data."""
    small = P.houses(n_rows=200, seed=5)
    big = P.houses(n_rows=300, seed=6)
    refs = {
        "small": skrub_reference(lambda: P.build("hp_imputer_scaler_choices", small))[
            1
        ],
        "big": skrub_reference(lambda: P.build("hp_imputer_scaler_choices", big))[1],
    }
    res = stratum.search(
        {
            "small": P.build("hp_imputer_scaler_choices", small),
            "big": P.build("hp_imputer_scaler_choices", big),
        },
        cv=3,
        scoring="r2",
        refit=False,
    )
    for name, ref in refs.items():
        assert_rows_match(res, name, ref)


def test_identical_pipelines_in_a_batch_give_identical_rows():
    res = stratum.search(
        {"a": P.build("hp_optional_scaler"), "b": P.build("hp_optional_scaler")},
        cv=3,
        scoring="r2",
        refit=False,
    )
    ref = skrub_reference(lambda: P.build("hp_optional_scaler"))[1]
    assert_rows_match(res, "a", ref)
    assert_rows_match(res, "b", ref)


def test_batch_randomized_matches_make_randomized_search():
    names = ["hp_continuous", "hp_optional_scaler"]
    refs = {
        n: skrub_reference(lambda n=n: P.build(n), n_iter=3, random_state=0)[1]
        for n in names
    }
    res = stratum.search(
        {n: P.build(n) for n in names},
        cv=3,
        scoring="r2",
        n_iter=3,
        random_state=0,
        refit=False,
    )
    for name in names:
        assert_rows_match(res, name, refs[name])
    assert_sorted(res.results_)


def test_batch_multimetric():
    names = ["hp_imputer_scaler_choices", "hp_model_list_choice"]
    scoring = ["r2", "neg_mean_absolute_error"]
    refs = {
        n: skrub_reference(lambda n=n: P.build(n), scoring=scoring, refit="r2")[1]
        for n in names
    }
    res = stratum.search(
        {n: P.build(n) for n in names}, cv=3, scoring=scoring, refit="r2"
    )
    for col in ("mean_test_r2", "mean_test_neg_mean_absolute_error"):
        assert col in res.results_.columns
    for name in names:
        assert_rows_match(res, name, refs[name], metric="r2")
        assert_rows_match(res, name, refs[name], metric="neg_mean_absolute_error")
    assert_sorted(res.results_, "mean_test_r2")


def test_explain_names_every_pipeline():
    batch = {
        "first_pipe": P.build("hp_onehot_cols"),
        "second_pipe": P.build("np_ridge"),
    }
    text = stratum.explain(batch, cv=3)
    assert isinstance(text, str)
    assert "first_pipe" in text and "second_pipe" in text


# ---------------------------------------------------------------------------
# Shared work runs once
# ---------------------------------------------------------------------------


def _counting_batch():
    batch = {
        name: P.prefix_then_model(model) for name, model in P.batch_models().items()
    }
    assert len(batch) == 5
    return batch


def test_shared_prefix_is_fitted_once_per_fold():
    batch = _counting_batch()
    P.CountingScaler.reset()  # building computed previews
    res = stratum.search(batch, cv=3, scoring="r2", refit=False)
    assert P.CountingScaler.n_fits == 3
    assert (res.results_["status"] == "ok").all()
    # and the scores are still skrub's
    for name, model in P.batch_models().items():
        ref = skrub_reference(lambda m=model: P.prefix_then_model(m))[1]
        assert_rows_match(res, name, ref)


def test_shared_prefix_refit_adds_one_fit():
    batch = _counting_batch()
    P.CountingScaler.reset()
    stratum.search(batch, cv=3, scoring="r2", refit=True)
    assert P.CountingScaler.n_fits == 4


def test_plain_skrub_fits_the_prefix_for_every_pipeline():
    batch = _counting_batch()
    P.CountingScaler.reset()
    with H.engine("skrub"):
        for pred in batch.values():
            pred.skb.make_grid_search(fitted=True, cv=3, scoring="r2", refit=False)
    assert P.CountingScaler.n_fits == 5 * 3
    P.CountingScaler.reset()
    with H.engine("skrub"):
        for pred in batch.values():
            pred.skb.make_grid_search(fitted=True, cv=3, scoring="r2", refit=True)
    assert P.CountingScaler.n_fits == 5 * 3 + 5


def _four_model_configs():
    X, y = P.shared_prefix_features()
    ridge = Ridge(alpha=skrub.choose_from([0.01, 0.1, 1.0, 10.0], name="alpha"))
    return X.skb.apply(ridge, y=y)


def test_dropin_grid_fits_prefix_once_per_fold():
    pred = _four_model_configs()
    P.CountingScaler.reset()
    with H.engine("stratum"), H.no_fallback():
        search = pred.skb.make_grid_search(fitted=True, cv=3, scoring="r2", refit=False)
    assert len(search.results_) == 4
    assert P.CountingScaler.n_fits == 3

    P.CountingScaler.reset()
    with H.engine("skrub"):
        ref = _four_model_configs().skb.make_grid_search(
            fitted=True, cv=3, scoring="r2", refit=False
        )
    # building computed a preview (one fit); the search then fits 4 x 3
    assert P.CountingScaler.n_fits == 1 + 4 * 3
    H.assert_frames_match(ref.results_, search.results_)


def test_set_config_engine_skrub_restores_plain_behaviour():
    pred = _four_model_configs()
    before = stratum.get_config()["engine"]
    P.CountingScaler.reset()
    stratum.set_config(engine="skrub")
    try:
        pred.skb.make_grid_search(fitted=True, cv=3, scoring="r2", refit=False)
    finally:
        stratum.set_config(engine=before)
    assert P.CountingScaler.n_fits == 4 * 3
    assert stratum.get_config()["engine"] == before


def test_dropin_with_stratum_names():
    """``import stratum as skrub``: pipelines built from stratum's names."""
    sk = stratum

    def build():
        data = sk.var("houses", P.houses())
        X = data.drop(columns=["price"]).skb.mark_as_X()
        y = data["price"].skb.mark_as_y()
        X = X.skb.apply(
            sk.TableVectorizer(
                high_cardinality=sk.StringEncoder(n_components=2, random_state=0)
            )
        ).skb.apply(SimpleImputer())
        return X.skb.apply(Ridge(alpha=sk.choose_from([0.1, 10.0], name="alpha")), y=y)

    def fit():
        pred = build()
        return pred, pred.skb.make_grid_search(fitted=True, cv=3, scoring="r2")

    (pred, ref), (_, got) = H.both_engines(fit)
    H.assert_searches_match(ref, got, pred.skb.get_data())
    assert sk.X is skrub.X and sk.choose_from is skrub.choose_from


# ---------------------------------------------------------------------------
# Bad inputs and failing pipelines
# ---------------------------------------------------------------------------


def test_non_dataop_in_list_raises_type_error_naming_position():
    with pytest.raises(TypeError, match=r"pipeline_1|\b1\b"):
        stratum.search([P.build("np_ridge"), 42], cv=3)


def test_non_dataop_in_dict_raises_type_error_naming_key():
    with pytest.raises(TypeError, match="not_a_pipeline"):
        stratum.search({"fine": P.build("np_ridge"), "not_a_pipeline": Ridge()}, cv=3)


def test_empty_choice_is_rejected_at_construction():
    with pytest.raises(ValueError, match="at least one outcome"):
        skrub.choose_from([])
    with pytest.raises(ValueError, match="at least one outcome"):
        stratum.choose_from({})


@skrub.deferred
def explode(df):
    raise RuntimeError("deliberate failure in a deferred function")


def _lazy(build):
    """Build with previews off: a failing step would fail at construction."""
    with skrub.config_context(eager_data_ops=False):
        return build()


def _bad_unknown_column():
    X, y = P.house_xy(log_target=True)
    X = X.drop(columns="nope")
    X = P.numeric_only(X).skb.apply(SimpleImputer())
    return X.skb.apply(Ridge(alpha=skrub.choose_from([1.0, 2.0], name="alpha")), y=y)


def _bad_unknown_column_before_x():
    data = skrub.var("houses", P.houses())
    X = data.drop(columns=["price", "nope"]).skb.mark_as_X()
    y = data["price"].skb.mark_as_y()
    return X.skb.apply(Ridge(), y=y)


def _bad_deferred():
    X, y = P.house_xy(log_target=True)
    X = explode(P.numeric_only(X))
    return X.skb.apply(Ridge(), y=y)


def _bad_estimator():
    X, y = P.house_xy(log_target=True)
    X = P.numeric_only(X).skb.apply(SimpleImputer())
    return X.skb.apply(P.FailingRegressor(message="estimator exploded"), y=y)


def _partly_bad():
    X, y = P.house_xy(log_target=True)
    X = P.numeric_only(X).skb.apply(SimpleImputer())
    model = skrub.choose_from(
        {
            "ridge": Ridge(alpha=1.0),
            "broken": P.FailingRegressor(message="estimator exploded"),
        },
        name="model",
    )
    return X.skb.apply(model, y=y)


BAD = {
    "bad_column": (_bad_unknown_column, ["drop"]),
    "bad_column_before_x": (_bad_unknown_column_before_x, ["drop"]),
    "bad_deferred": (_bad_deferred, ["explode"]),
    "bad_estimator": (_bad_estimator, ["FailingRegressor"]),
}


def test_failing_pipelines_only_fail_their_rows():
    good = ["hp_imputer_scaler_choices", "hp_model_list_choice"]
    refs, envs = {}, {}
    for name in good:
        pred, refs[name] = skrub_reference(lambda n=name: P.build(n))
        envs[name] = pred.skb.get_data()
    batch = {good[0]: P.build(good[0])}
    for name, (build, _) in BAD.items():
        batch[name] = _lazy(build)
    batch[good[1]] = P.build(good[1])
    res = stratum.search(batch, cv=3, scoring="r2", refit=True)
    table = res.results_
    for name in good:
        assert_rows_match(res, name, refs[name])
    for name, (_, words) in BAD.items():
        rows = table[table["pipeline"] == name]
        assert len(rows) >= 1, name
        assert (rows["status"] == "error").all(), rows
        for message in rows["error"]:
            assert isinstance(message, str)
            assert name in message, message
            for word in words:
                assert word in message, (word, message)
        assert rows["mean_test_score"].isna().all()
    assert_sorted(table)
    assert res.best_.pipeline in good
    assert_best(res, refs, envs)


def test_partly_failing_pipeline():
    res = stratum.search(
        {"partly": _lazy(_partly_bad), "good": P.build("hp_exclude_cols")},
        cv=3,
        scoring="r2",
    )
    table = res.results_
    rows = table[table["pipeline"] == "partly"]
    assert sorted(rows["status"]) == ["error", "ok"]
    err = rows[rows["status"] == "error"].iloc[0]
    assert "partly" in err["error"] and "FailingRegressor" in err["error"]
    ok = rows[rows["status"] == "ok"].iloc[0]
    assert ok["params"].get("model") == "ridge"

    with H.engine("skrub"):
        ridge_only = _lazy(_partly_bad)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = ridge_only.skb.make_grid_search(fitted=True, cv=3, scoring="r2")
    ref_row = ref.results_[ref.results_["model"] == "ridge"].iloc[0]
    H.assert_scores_close(
        ok["mean_test_score"], ref_row["mean_test_score"], "ridge row"
    )
    assert_sorted(table)
