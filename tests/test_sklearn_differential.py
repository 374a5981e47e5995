"""Differential suite for scikit-learn searches and cross-validation on
stratum's engine: each case is fitted by scikit-learn and by stratum on the
same inputs, and the results must be equal value for value (times aside):
``cv_results_``, ``best_*``, the refitted estimator's predictions, and
``cross_validate``'s dictionary. Every composite (``ColumnTransformer``,
``FeatureUnion``, ``TransformedTargetRegressor``, nested ``Pipeline``),
classification and regression, multi-metric scoring, groups,
``StratifiedKFold``, ``TimeSeriesSplit``, pandas and numpy inputs, sparse
outputs, and failing candidates."""

from __future__ import annotations

import warnings

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from model_equality import same
from scipy.stats import loguniform
from sklearn import ensemble
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor, make_column_transformer
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
    KFold,
    RandomizedSearchCV,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_val_predict,
    cross_val_score,
    cross_validate,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

import stratum
from stratum.frontend.sklearn import patch

_TIMES = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")
N = 240


def _frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "city": rng.choice(["Zürich", "Åre", "東京", "Lyon", "São Paulo"], N),
            "area": rng.normal(80, 20, N),
            "rooms": rng.integers(1, 6, N).astype(float),
            "text": rng.choice(["sunny flat", "quiet house", "大きい 家", "loft"], N),
        }
    )
    df.loc[rng.random(N) < 0.08, "area"] = np.nan
    return df


def _price(df: pd.DataFrame, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    city = df["city"].map({"Zürich": 50, "Åre": 0, "東京": 30, "Lyon": 10})
    price = df["area"].fillna(80) * 3 + df["rooms"] * 10 + city.fillna(5)
    return (price + 300 + rng.normal(0, 8, len(df))).to_numpy()


def _classes(df: pd.DataFrame, n_classes: int = 2) -> np.ndarray:
    price = _price(df)
    return np.digitize(
        price, np.quantile(price, np.linspace(0, 1, n_classes + 1)[1:-1])
    )


def _pre(sparse: bool = False):
    return make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", sparse_output=sparse), ["city"]),
        (make_pipeline(SimpleImputer(), StandardScaler()), ["area", "rooms"]),
    )


def _numeric(df: pd.DataFrame) -> np.ndarray:
    return df[["area", "rooms"]].to_numpy()


def _imputed() -> object:
    return make_pipeline(SimpleImputer(), StandardScaler())


def _lgbm(cls, **kw):
    return cls(verbose=-1, n_jobs=1, random_state=0, **kw)


# id -> () -> (search, X, y, groups)
SEARCHES = {
    "ridge-ct-grid-kfold": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), Ridge()), {"ridge__alpha": [0.1, 1, 10]}, cv=KFold(3)
        ),
        df,
        _price(df),
        None,
    ),
    "ridge-ct-randomized": lambda df: (
        RandomizedSearchCV(
            make_pipeline(_pre(), Ridge()),
            {"ridge__alpha": loguniform(1e-2, 1e2)},
            n_iter=4,
            random_state=0,
            cv=3,
        ),
        df,
        _price(df),
        None,
    ),
    "transformed-target": lambda df: (
        GridSearchCV(
            make_pipeline(
                _pre(),
                TransformedTargetRegressor(Ridge(), func=np.log, inverse_func=np.exp),
            ),
            {"transformedtargetregressor__regressor__alpha": [0.5, 5]},
            cv=3,
        ),
        df,
        _price(df),
        None,
    ),
    "nested-pipeline-numpy": lambda df: (
        GridSearchCV(
            make_pipeline(_imputed(), Ridge()),
            {
                "pipeline__simpleimputer__strategy": ["mean", "median"],
                "ridge__alpha": [1, 10],
            },
            cv=3,
        ),
        _numeric(df),
        _price(df),
        None,
    ),
    "feature-union": lambda df: (
        GridSearchCV(
            make_pipeline(
                SimpleImputer(),
                FeatureUnion(
                    [("scale", StandardScaler()), ("poly", PolynomialFeatures(2))]
                ),
                Ridge(),
            ),
            {"ridge__alpha": [0.1, 10], "featureunion__poly__degree": [1, 2]},
            cv=3,
        ),
        _numeric(df),
        _price(df),
        None,
    ),
    "lgbm-multimetric": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), _lgbm(lightgbm.LGBMRegressor)),
            {
                "lgbmregressor__num_leaves": [4, 8],
                "lgbmregressor__n_estimators": [10, 20],
            },
            cv=3,
            scoring=["r2", "neg_mean_absolute_error"],
            refit="r2",
        ),
        df,
        _price(df),
        None,
    ),
    "xgb-regression": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), xgboost.XGBRegressor(n_estimators=15, n_jobs=1)),
            {
                "xgbregressor__max_depth": [2, 4],
                "xgbregressor__learning_rate": [0.1, 0.3],
            },
            cv=3,
        ),
        df,
        _price(df),
        None,
    ),
    "hgb-randomized": lambda df: (
        RandomizedSearchCV(
            make_pipeline(_pre(), ensemble.HistGradientBoostingRegressor(max_iter=15)),
            {
                "histgradientboostingregressor__learning_rate": [0.05, 0.1, 0.3],
                "histgradientboostingregressor__max_leaf_nodes": [7, 15],
            },
            n_iter=3,
            random_state=1,
            cv=3,
        ),
        df,
        _price(df),
        None,
    ),
    "forest-regression": lambda df: (
        GridSearchCV(
            make_pipeline(
                _pre(), ensemble.RandomForestRegressor(random_state=0, n_jobs=1)
            ),
            {
                "randomforestregressor__n_estimators": [5, 10],
                "randomforestregressor__max_depth": [3, None],
            },
            cv=3,
        ),
        df,
        _price(df),
        None,
    ),
    "sparse-tfidf": lambda df: (
        GridSearchCV(
            make_pipeline(
                make_column_transformer(
                    (TfidfVectorizer(), "text"), (_imputed(), ["area"])
                ),
                Ridge(),
            ),
            {"ridge__alpha": [0.1, 1]},
            cv=3,
        ),
        df,
        _price(df),
        None,
    ),
    "time-series": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), Ridge()),
            {"ridge__alpha": [1, 10]},
            cv=TimeSeriesSplit(3),
        ),
        df,
        _price(df),
        None,
    ),
    "groups": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), Ridge()), {"ridge__alpha": [1, 10]}, cv=GroupKFold(3)
        ),
        df,
        _price(df),
        np.arange(N) % 6,
    ),
    "train-scores": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), _lgbm(lightgbm.LGBMRegressor, n_estimators=10)),
            {"lgbmregressor__learning_rate": [0.1, 0.2]},
            cv=3,
            return_train_score=True,
        ),
        df,
        _price(df),
        None,
    ),
    "failing-nan": lambda df: (
        GridSearchCV(make_pipeline(_pre(), Ridge()), {"ridge__alpha": [1, -1]}, cv=3),
        df,
        _price(df),
        None,
    ),
    "logreg-grid": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), LogisticRegression()),
            {"logisticregression__C": [0.1, 1, 10]},
            cv=3,
        ),
        df,
        _classes(df),
        None,
    ),
    "logreg-roc-auc": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), LogisticRegression()),
            {"logisticregression__C": [0.1, 1]},
            cv=3,
            scoring="roc_auc",
        ),
        df,
        _classes(df),
        None,
    ),
    "logreg-multimetric": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), LogisticRegression()),
            {"logisticregression__C": [0.1, 1]},
            cv=StratifiedKFold(3, shuffle=True, random_state=0),
            scoring=["accuracy", "roc_auc", "neg_log_loss"],
            refit="neg_log_loss",
        ),
        df,
        _classes(df),
        None,
    ),
    "lgbm-multiclass": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), _lgbm(lightgbm.LGBMClassifier, n_estimators=10)),
            {"lgbmclassifier__num_leaves": [4, 8]},
            cv=3,
        ),
        df,
        _classes(df, 3),
        None,
    ),
    "xgb-binary": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), xgboost.XGBClassifier(n_estimators=10, n_jobs=1)),
            {"xgbclassifier__max_depth": [2, 3]},
            cv=3,
            scoring="roc_auc",
        ),
        df,
        _classes(df),
        None,
    ),
    "hgb-classifier": lambda df: (
        RandomizedSearchCV(
            make_pipeline(_pre(), ensemble.HistGradientBoostingClassifier(max_iter=10)),
            {"histgradientboostingclassifier__learning_rate": [0.1, 0.2, 0.3]},
            n_iter=2,
            random_state=0,
            cv=3,
        ),
        df,
        _classes(df),
        None,
    ),
    "forest-classifier": lambda df: (
        GridSearchCV(
            make_pipeline(
                _pre(), ensemble.RandomForestClassifier(n_estimators=5, random_state=0)
            ),
            {"randomforestclassifier__max_depth": [2, 4]},
            cv=3,
        ),
        df,
        _classes(df),
        None,
    ),
    "sparse-onehot-logreg": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(sparse=True), LogisticRegression()),
            {"logisticregression__C": [0.5, 2]},
            cv=3,
        ),
        df,
        _classes(df),
        None,
    ),
    "linear-svc-numpy": lambda df: (
        GridSearchCV(
            make_pipeline(_imputed(), LinearSVC()), {"linearsvc__C": [0.1, 1]}, cv=3
        ),
        _numeric(df),
        _classes(df),
        None,
    ),
    "knn": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), KNeighborsClassifier()),
            {"kneighborsclassifier__n_neighbors": [3, 7]},
            cv=3,
        ),
        df,
        _classes(df),
        None,
    ),
    "tree": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), DecisionTreeClassifier(random_state=0)),
            {"decisiontreeclassifier__max_depth": [2, 5]},
            cv=3,
        ),
        df,
        _classes(df),
        None,
    ),
    "naive-bayes": lambda df: (
        GridSearchCV(
            make_pipeline(_imputed(), GaussianNB()),
            {"gaussiannb__var_smoothing": [1e-9, 1e-3]},
            cv=3,
        ),
        _numeric(df),
        _classes(df),
        None,
    ),
    "gradient-boosting": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), ensemble.GradientBoostingClassifier(random_state=0)),
            {"gradientboostingclassifier__n_estimators": [5, 10]},
            cv=3,
        ),
        df,
        _classes(df),
        None,
    ),
    "no-refit": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), LogisticRegression()),
            {"logisticregression__C": [1, 10]},
            cv=3,
            refit=False,
        ),
        df,
        _classes(df),
        None,
    ),
    "failing-classifier": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), LogisticRegression()),
            {"logisticregression__C": [1.0, -1.0]},
            cv=StratifiedKFold(3),
        ),
        df,
        _classes(df),
        None,
    ),
    "plain-ridge-estimator": lambda df: (
        GridSearchCV(make_pipeline(_pre(), Ridge(alpha=3.0)), {}, cv=4, scoring="r2"),
        df,
        _price(df),
        None,
    ),
    "plain-lgbm-estimator": lambda df: (
        GridSearchCV(
            make_pipeline(_pre(), _lgbm(lightgbm.LGBMClassifier, n_estimators=8)),
            {},
            cv=3,
        ),
        df,
        _classes(df),
        None,
    ),
}


SEARCHES.update(
    {
        "halving-grid-ridge": lambda df: (
            HalvingGridSearchCV(
                make_pipeline(_pre(), Ridge()),
                {"ridge__alpha": [0.01, 0.1, 1, 10, 100, 1000]},
                cv=3,
                factor=2,
                random_state=0,
            ),
            df,
            _price(df),
            None,
        ),
        "halving-random-3-classes": lambda df: (
            HalvingRandomSearchCV(
                make_pipeline(_pre(), LogisticRegression()),
                {"logisticregression__C": loguniform(1e-2, 1e2)},
                n_candidates=8,
                min_resources="smallest",
                cv=StratifiedKFold(3),
                random_state=0,
            ),
            df,
            _classes(df, 3),
            None,
        ),
        "halving-resource-n-estimators": lambda df: (
            HalvingGridSearchCV(
                make_pipeline(_pre(), _lgbm(lightgbm.LGBMRegressor)),
                {"lgbmregressor__num_leaves": [3, 7, 15]},
                resource="lgbmregressor__n_estimators",
                min_resources=4,
                max_resources=36,
                cv=3,
            ),
            df,
            _price(df),
            None,
        ),
        "halving-aggressive-groups": lambda df: (
            HalvingGridSearchCV(
                make_pipeline(_pre(), Ridge()),
                {"ridge__alpha": [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100]},
                cv=GroupKFold(3),
                min_resources=60,
                aggressive_elimination=True,
                random_state=1,
            ),
            df,
            _price(df),
            np.arange(N) % 6,
        ),
        "halving-failing-candidates": lambda df: (
            HalvingGridSearchCV(
                make_pipeline(_pre(), Ridge()),
                {"ridge__alpha": [1.0, -1.0, 10.0, -2.0, 0.1]},
                cv=3,
                error_score=np.nan,
                random_state=0,
            ),
            df,
            _price(df),
            None,
        ),
    }
)

_HALVING = (
    "n_resources_",
    "n_candidates_",
    "n_iterations_",
    "n_possible_iterations_",
    "n_required_iterations_",
    "n_remaining_candidates_",
    "min_resources_",
    "max_resources_",
)


def assert_same_search(ours, theirs, X) -> None:
    assert type(ours) is type(theirs)
    a, b = ours.cv_results_, theirs.cv_results_
    assert list(a) == list(b)
    for key in a:
        if key in _TIMES:
            continue
        if isinstance(a[key], np.ma.MaskedArray) or key == "params":
            assert repr(list(a[key])) == repr(list(b[key])), key
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key, strict=True)
    for name in (
        "best_index_",
        "best_score_",
        "best_params_",
        "n_splits_",
        "multimetric_",
        *_HALVING,
    ):
        if hasattr(theirs, name):
            assert repr(getattr(ours, name)) == repr(getattr(theirs, name)), name
    assert hasattr(ours, "best_estimator_") == hasattr(theirs, "best_estimator_")
    if hasattr(theirs, "best_estimator_"):
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X), strict=True)
        if hasattr(theirs, "predict_proba"):
            np.testing.assert_array_equal(
                ours.predict_proba(X), theirs.predict_proba(X)
            )


@pytest.mark.parametrize("case", list(SEARCHES))
def test_search_equals_sklearn(case):
    df = _frame()
    search, X, y, groups = SEARCHES[case](df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = clone(search).fit(X, y, groups=groups)
        with stratum.config_context(progress=False, reuse=False):
            if "plain" in case:  # a plain estimator is a search of one candidate
                result = stratum.search(
                    {"p": search.estimator},
                    X=X,
                    y=y,
                    groups=groups,
                    cv=search.cv,
                    scoring=search.scoring,
                )
            else:
                result = stratum.search({"p": search}, X=X, y=y, groups=groups)
    assert_same_search(result.searches_["p"], theirs, X)


def test_error_score_raise_raises_sklearns_error():
    """In a batch the failing search is an error row (the batch goes on);
    its patched ``fit`` raises what scikit-learn's raises."""
    df = _frame()
    search = GridSearchCV(
        make_pipeline(_pre(), Ridge()),
        {"ridge__alpha": [1, -1]},
        cv=3,
        error_score="raise",
    )
    with pytest.raises(Exception) as theirs:
        clone(search).fit(df, _price(df))
    with stratum.config_context(progress=False, reuse=False):
        result = stratum.search({"p": search}, X=df, y=_price(df))
    (error,) = result.results_["error"]
    assert type(theirs.value).__name__ in error
    assert str(theirs.value).splitlines()[0] in error
    patch.patch_sklearn()
    try:
        with pytest.raises(type(theirs.value)) as ours:
            with stratum.config_context(progress=False, reuse=False):
                clone(search).fit(df, _price(df))
    finally:
        patch.unpatch_sklearn()
    assert str(theirs.value).splitlines()[0] in str(ours.value)


# -- cross_validate / cross_val_score through patch_sklearn --------------------

CROSS_VALIDATIONS = {
    "single": lambda df: (make_pipeline(_pre(), Ridge()), df, _price(df), {"cv": 3}),
    "multimetric-train": lambda df: (
        make_pipeline(_pre(), LogisticRegression()),
        df,
        _classes(df),
        {"cv": 4, "scoring": ["accuracy", "roc_auc"], "return_train_score": True},
    ),
    "indices-groups": lambda df: (
        make_pipeline(_pre(), Ridge()),
        df,
        _price(df),
        {"cv": GroupKFold(3), "groups": np.arange(N) % 5, "return_indices": True},
    ),
    "lgbm-classifier": lambda df: (
        make_pipeline(_pre(), _lgbm(lightgbm.LGBMClassifier, n_estimators=10)),
        df,
        _classes(df, 3),
        {
            "cv": StratifiedKFold(3, shuffle=True, random_state=1),
            "scoring": "neg_log_loss",
        },
    ),
    "all-fits-fail": lambda df: (
        make_pipeline(_pre(), Ridge(alpha=-1.0)),
        df,
        _price(df),
        {"cv": 3, "error_score": np.nan},
    ),
    "some-fits-fail": lambda df: (  # the first training fold has one class
        make_pipeline(_pre(), LogisticRegression()),
        df,
        (np.arange(N) >= 70) ^ ((np.arange(N) % 7 == 0) & (np.arange(N) >= 70)),
        {"cv": TimeSeriesSplit(3), "error_score": np.nan},
    ),
}


def _outcome(function, *args, **kwargs):
    """What calling ``function`` gives: its value, or the error it raised
    (type and first line)."""
    try:
        return function(*args, **kwargs)
    except Exception as error:
        return ("raised", type(error), str(error).strip().splitlines()[0])


def _cross_validate_both(case):
    df = _frame()
    estimator, X, y, kwargs = CROSS_VALIDATIONS[case](df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _outcome(cross_validate, clone(estimator), X, y, **kwargs)
        patch.patch_sklearn()
        try:
            with stratum.config_context(progress=False, reuse=False):
                import sklearn.model_selection as model_selection

                function = model_selection.cross_validate
                assert function is not cross_validate
                ours = _outcome(function, clone(estimator), X, y, **kwargs)
        finally:
            patch.unpatch_sklearn()
    return ours, theirs


@pytest.mark.parametrize("case", list(CROSS_VALIDATIONS))
def test_cross_validate_equals_sklearn(case):
    ours, theirs = _cross_validate_both(case)
    if isinstance(theirs, tuple):  # every fit failed: both raise the same
        assert ours == theirs
        return
    if case == "some-fits-fail":
        scores = theirs["test_score"]
        assert np.isnan(scores[0]) and not np.isnan(scores[1:]).any()
    assert list(ours) == list(theirs)
    for key in theirs:
        if key in ("fit_time", "score_time"):
            assert ours[key].shape == theirs[key].shape and (ours[key] >= 0).all()
        else:
            same(ours[key], theirs[key], key)


def test_cross_val_score_equals_sklearn():
    df = _frame()
    estimator = make_pipeline(_pre(), Ridge())
    theirs = cross_val_score(clone(estimator), df, _price(df), cv=5)
    patch.patch_sklearn()
    try:
        with stratum.config_context(progress=False, reuse=False):
            import sklearn.model_selection as model_selection

            ours = model_selection.cross_val_score(
                clone(estimator), df, _price(df), cv=5
            )
    finally:
        patch.unpatch_sklearn()
    np.testing.assert_array_equal(ours, theirs, strict=True)
    assert model_selection.cross_validate is cross_validate  # unpatched


# -- cross_val_predict through patch_sklearn -----------------------------------

PREDICTIONS = {
    "regression": lambda df: (make_pipeline(_pre(), Ridge()), _price(df), {"cv": 4}),
    "proba-strings-3-classes": lambda df: (
        make_pipeline(_pre(), LogisticRegression()),
        np.array(["ja", "nein", "vielleicht"])[_classes(df, 3)],
        {
            "cv": StratifiedKFold(3, shuffle=True, random_state=0),
            "method": "predict_proba",
        },
    ),
    "decision-groups": lambda df: (
        make_pipeline(_pre(sparse=True), LinearSVC()),
        _classes(df),
        {
            "cv": GroupKFold(4),
            "groups": np.arange(N) % 8,
            "method": "decision_function",
        },
    ),
    "proba-a-fold-lacks-a-class": lambda df: (  # the padding of missing columns
        make_pipeline(_pre(), _lgbm(lightgbm.LGBMClassifier, n_estimators=5)),
        np.where(np.arange(N) < 6, 2, _classes(df)),
        {"cv": KFold(3), "method": "predict_proba"},
    ),
    "not-a-partition": lambda df: (  # scikit-learn's own error
        make_pipeline(_pre(), Ridge()),
        _price(df),
        {"cv": TimeSeriesSplit(3)},
    ),
    "fit-fails": lambda df: (
        make_pipeline(_pre(), Ridge(alpha=-1.0)),
        _price(df),
        {"cv": 3},
    ),
}


@pytest.mark.parametrize("case", list(PREDICTIONS))
def test_cross_val_predict_equals_sklearn(case):
    df = _frame()
    estimator, y, kwargs = PREDICTIONS[case](df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _outcome(cross_val_predict, clone(estimator), df, y, **kwargs)
        patch.patch_sklearn()
        try:
            with stratum.config_context(progress=False, reuse=False):
                import sklearn.model_selection as model_selection

                function = model_selection.cross_val_predict
                assert function is not cross_val_predict
                ours = _outcome(function, clone(estimator), df, y, **kwargs)
        finally:
            patch.unpatch_sklearn()
    assert model_selection.cross_val_predict is cross_val_predict
    if isinstance(theirs, tuple):
        assert ours == theirs
    else:
        np.testing.assert_array_equal(ours, theirs, strict=True)


def test_cross_val_predict_says_what_runs_on_sklearn():
    df = _frame()
    estimator = make_pipeline(_pre(), LogisticRegression())
    theirs = cross_val_predict(estimator, df, _classes(df), method="predict_log_proba")
    patch.patch_sklearn()
    try:
        import sklearn.model_selection as model_selection

        with pytest.warns(UserWarning, match="method='predict_log_proba'"):
            ours = model_selection.cross_val_predict(
                estimator, df, _classes(df), method="predict_log_proba"
            )
    finally:
        patch.unpatch_sklearn()
    np.testing.assert_array_equal(ours, theirs, strict=True)
