"""Builders of skrub DataOps pipelines for the differential tests.

Every builder is registered in ``CASES`` with the task, the default scoring and
any extra search arguments. ``build(name)`` returns a fresh DataOp (new Python
objects each call). Builders take an optional DataFrame; by default they use
small deterministic frames from ``stratum.bench.data``.

All randomness is seeded: skrub's ``StringEncoder`` and ``TableVectorizer``
default to ``random_state=None`` for the string encoder, which makes skrub
disagree with itself across runs, so every ``StringEncoder`` here gets
``random_state=0``.

The pipelines are built with plain ``skrub`` names. ``stratum`` re-exports
them, and its engine must accept DataOps built either way.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import skrub
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.cluster import KMeans
from sklearn.datasets import make_classification, make_regression
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)
from skrub import selectors as s
from xgboost import XGBClassifier, XGBRegressor

from stratum.bench.data import make_house_prices, make_reviews

N_HOUSES = 300
N_REVIEWS = 300

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


@functools.cache
def _houses(n_rows: int, seed: int) -> pd.DataFrame:
    return make_house_prices(n_rows=n_rows, seed=seed)


@functools.cache
def _reviews(n_rows: int, seed: int, n_classes: int) -> pd.DataFrame:
    return make_reviews(n_rows=n_rows, seed=seed, n_classes=n_classes)


def houses(n_rows: int = N_HOUSES, seed: int = 0) -> pd.DataFrame:
    """A fresh copy of the small house-prices frame."""
    return _houses(n_rows, seed).copy()


def reviews(n_rows: int = N_REVIEWS, seed: int = 0, n_classes: int = 3) -> pd.DataFrame:
    """A fresh copy of the small reviews frame."""
    return _reviews(n_rows, seed, n_classes).copy()


# ---------------------------------------------------------------------------
# Helper estimators (module level so that they can be cloned and pickled)
# ---------------------------------------------------------------------------


class CountingScaler(StandardScaler):
    """StandardScaler that counts its fits in a class-level counter.

    ``fit`` and ``fit_transform`` each count one fit; ``fit_transform`` does not
    go through ``self.fit`` so it is never counted twice.
    """

    n_fits = 0

    @classmethod
    def reset(cls) -> None:
        cls.n_fits = 0

    def fit(self, X, y=None, sample_weight=None):
        type(self).n_fits += 1
        return super().fit(X, y, sample_weight=sample_weight)

    def fit_transform(self, X, y=None, **fit_params):
        type(self).n_fits += 1
        return StandardScaler.fit(self, X, y, **fit_params).transform(X)


class FailingRegressor(RegressorMixin, BaseEstimator):
    """A regressor whose ``fit`` always raises ``ValueError('boom ...')``."""

    def __init__(self, message: str = "boom: FailingRegressor.fit"):
        self.message = message

    def fit(self, X, y):
        raise ValueError(self.message)

    def predict(self, X):  # pragma: no cover - never fitted
        raise ValueError(self.message)


class FailingClassifier(ClassifierMixin, BaseEstimator):
    """A classifier whose ``fit`` always raises."""

    def __init__(self, message: str = "boom: FailingClassifier.fit"):
        self.message = message

    def fit(self, X, y):
        raise ValueError(self.message)

    def predict(self, X):  # pragma: no cover - never fitted
        raise ValueError(self.message)


def string_encoder(n_components: Any = 4, **kwargs) -> skrub.StringEncoder:
    return skrub.StringEncoder(n_components=n_components, random_state=0, **kwargs)


def table_vectorizer(n_components: Any = 4, **kwargs) -> skrub.TableVectorizer:
    """TableVectorizer whose high-cardinality encoder is seeded."""
    return skrub.TableVectorizer(
        high_cardinality=string_encoder(n_components), **kwargs
    )


def lgbm_regressor(**params) -> LGBMRegressor:
    params = {
        "n_estimators": 10,
        "random_state": 0,
        "verbose": -1,
        "n_jobs": 1,
    } | params
    return LGBMRegressor(**params)


def lgbm_classifier(**params) -> LGBMClassifier:
    params = {
        "n_estimators": 10,
        "random_state": 0,
        "verbose": -1,
        "n_jobs": 1,
    } | params
    return LGBMClassifier(**params)


def xgb_regressor(**params) -> XGBRegressor:
    params = {
        "n_estimators": 10,
        "random_state": 0,
        "n_jobs": 1,
        "max_depth": 3,
    } | params
    return XGBRegressor(**params)


def xgb_classifier(**params) -> XGBClassifier:
    params = {
        "n_estimators": 10,
        "random_state": 0,
        "n_jobs": 1,
        "max_depth": 3,
    } | params
    return XGBClassifier(**params)


def hgb_regressor(**params) -> HistGradientBoostingRegressor:
    params = {"max_iter": 15, "random_state": 0} | params
    return HistGradientBoostingRegressor(**params)


def hgb_classifier(**params) -> HistGradientBoostingClassifier:
    params = {"max_iter": 15, "random_state": 0} | params
    return HistGradientBoostingClassifier(**params)


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """A registered pipeline builder.

    name : the builder's name (and its pytest id).
    build : builder, ``build(df=None) -> DataOp``.
    task : "regression", "classification" or "clustering".
    scoring : the scoring used by the differential grid search.
    search_kwargs : extra arguments for make_grid_search / make_randomized_search
        (for example ``cv=None`` when the splitter comes from ``mark_as_X``).
    grid : False when the DataOp has continuous ranges (randomized search only).
    fallback_ok : the stratum engine is known to hand this one back to plain
        skrub (``StratumFallbackWarning``); the comparison then accepts it.
    """

    name: str
    build: Callable[..., Any]
    task: str
    scoring: Any
    search_kwargs: dict
    grid: bool = True
    fallback_ok: bool = False

    def search_args(self, **overrides) -> dict:
        args = {"cv": 3, "scoring": self.scoring} | self.search_kwargs
        return args | overrides


CASES: dict[str, Case] = {}


def case(
    task: str,
    scoring: Any,
    grid: bool = True,
    fallback_ok: bool = False,
    **search_kwargs,
):
    def register(func):
        CASES[func.__name__] = Case(
            func.__name__, func, task, scoring, dict(search_kwargs), grid, fallback_ok
        )
        return func

    return register


def build(name: str, df: pd.DataFrame | None = None):
    """A fresh DataOp for the registered pipeline ``name``."""
    return CASES[name].build(df)


def grid_cases() -> list[str]:
    return [n for n, c in CASES.items() if c.grid]


# ---------------------------------------------------------------------------
# Shared beginnings
# ---------------------------------------------------------------------------


def house_xy(df=None, log_target=False, drop=()):
    data = skrub.var("houses", houses() if df is None else df)
    X = data.drop(columns=["price", *drop]).skb.mark_as_X()
    y = data["price"]
    if log_target:
        y = skrub.deferred(np.log)(y)
    return X, y.skb.mark_as_y()


def review_xy(df=None, drop=()):
    data = skrub.var("reviews", reviews() if df is None else df)
    X = data.drop(columns=["label", *drop]).skb.mark_as_X()
    y = data["label"].skb.mark_as_y()
    return X, y


def numeric_only(X):
    return X.skb.select(s.numeric())


# ---------------------------------------------------------------------------
# Regression: house prices
# ---------------------------------------------------------------------------


@case("regression", "r2")
def hp_tv_ridge(df=None):
    X, y = house_xy(df, log_target=True)
    X = X.skb.apply(table_vectorizer()).skb.apply(SimpleImputer())
    ridge = Ridge(alpha=skrub.choose_float(0.01, 100.0, log=True, n_steps=3, name="α"))
    return X.skb.apply(ridge, y=y)


@case("regression", "r2")
def hp_tv_hgb(df=None):
    X, y = house_xy(df, drop=("postcode",))
    X = X.skb.apply(table_vectorizer())
    model = hgb_regressor(
        max_iter=skrub.choose_int(10, 30, n_steps=2, name="max_iter"),
        learning_rate=0.2,
    )
    return X.skb.apply(model, y=y)


@case("regression", "neg_mean_absolute_error")
def hp_lgbm(df=None):
    X, y = house_xy(df, log_target=True, drop=("postcode", "street"))
    X = X.skb.apply(table_vectorizer(3))
    model = lgbm_regressor(
        n_estimators=skrub.choose_from([10, 20], name="n_estimators"),
        num_leaves=skrub.choose_int(4, 16, n_steps=2, name="num_leaves"),
    )
    return X.skb.apply(model, y=y)


@case("regression", "r2")
def hp_xgb(df=None):
    X, y = house_xy(df, log_target=True, drop=("postcode", "street"))
    X = X.skb.apply(table_vectorizer(3))
    model = xgb_regressor(
        n_estimators=skrub.choose_from([10, 20], name="n_estimators"),
        max_depth=3,
    )
    return X.skb.apply(model, y=y)


@case("regression", "r2")
def hp_model_dict_choice(df=None):
    """Choices of choices: a dict choice whose outcomes contain choices."""
    X, y = house_xy(df, log_target=True, drop=("postcode", "street", "town"))
    X = X.skb.apply(table_vectorizer(3)).skb.apply(SimpleImputer())
    model = skrub.choose_from(
        {
            "ridge": Ridge(
                alpha=skrub.choose_float(0.1, 10.0, log=True, n_steps=2, name="alpha")
            ),
            "hgb": hgb_regressor(
                max_leaf_nodes=skrub.choose_from([7, 15], name="leaves")
            ),
            "lgbm": lgbm_regressor(
                learning_rate=skrub.choose_from([0.1, 0.2], name="lgbm_lr")
            ),
        },
        name="model",
    )
    return X.skb.apply(model, y=y)


@case("regression", "r2")
def hp_model_list_choice(df=None):
    """An unnamed list choice of estimators (display name is the repr)."""
    X, y = house_xy(df, log_target=True)
    X = numeric_only(X).skb.apply(SimpleImputer())
    model = skrub.choose_from([Ridge(alpha=1.0), Lasso(alpha=0.01), hgb_regressor()])
    return X.skb.apply(model, y=y)


@case("regression", "r2")
def hp_imputer_scaler_choices(df=None):
    X, y = house_xy(df, log_target=True)
    X = numeric_only(X)
    X = X.skb.apply(
        SimpleImputer(strategy=skrub.choose_from(["mean", "median"], name="strategy"))
    )
    scaler = skrub.choose_from(
        {"standard": StandardScaler(), "minmax": MinMaxScaler()}, name="scaler"
    )
    return X.skb.apply(scaler).skb.apply(Ridge(), y=y)


@case("regression", "r2")
def hp_optional_scaler(df=None):
    X, y = house_xy(df, log_target=True)
    X = numeric_only(X).skb.apply(SimpleImputer())
    X = X.skb.apply(skrub.optional(StandardScaler(), name="scale"))
    ridge = Ridge(
        alpha=skrub.choose_float(0.001, 1000.0, log=True, n_steps=3, name="alpha")
    )
    return X.skb.apply(ridge, y=y)


@case("regression", "r2")
def hp_onehot_cols(df=None):
    X, y = house_xy(df, log_target=True)
    low = ["property_type", "old_new", "tenure", "county"]
    X = X.skb.apply(
        OneHotEncoder(handle_unknown="ignore", sparse_output=False), cols=low
    )
    X = numeric_only(X).skb.apply(SimpleImputer(strategy="median"))
    return X.skb.apply(
        Ridge(alpha=skrub.choose_from([0.1, 1.0, 10.0], name="alpha")), y=y
    )


@case("regression", "r2")
def hp_ordinal_hgb(df=None):
    X, y = house_xy(df)
    X = X.skb.apply(
        OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=-1,
            encoded_missing_value=-2,
        ),
        cols=s.string(),
    )
    X = X.skb.drop(["sale_date"])
    model = hgb_regressor(l2_regularization=skrub.choose_from([0.0, 1.0], name="l2"))
    return X.skb.apply(model, y=y)


@case("regression", "r2")
def hp_string_encoder_cols(df=None):
    X, y = house_xy(df, log_target=True, drop=("postcode", "town"))
    X = X.skb.apply(
        string_encoder(skrub.choose_from([2, 5], name="street_dim")), cols="street"
    )
    X = X.skb.apply(table_vectorizer(2)).skb.apply(SimpleImputer())
    return X.skb.apply(Ridge(), y=y)


@case("regression", "r2")
def hp_exclude_cols(df=None):
    X, y = house_xy(df, log_target=True)
    X = numeric_only(X).skb.apply(SimpleImputer())
    scaler = skrub.choose_from([StandardScaler(), MinMaxScaler()], name="scaler")
    X = X.skb.apply(scaler, cols=s.numeric(), exclude_cols=["lat", "lon"])
    return X.skb.apply(Ridge(), y=y)


@case("regression", "r2")
def hp_selector_ops(df=None):
    """Selector algebra in cols= (glob, |, -)."""
    X, y = house_xy(df, log_target=True)
    X = X.skb.apply(
        OneHotEncoder(sparse_output=False, handle_unknown="ignore"),
        cols=s.cols("property_type") | s.glob("old_*"),
    )
    X = X.skb.select(s.numeric() - s.cols("lon"))
    X = X.skb.apply(SimpleImputer(), cols=s.all())
    return X.skb.apply(Ridge(alpha=skrub.choose_from([0.5, 5.0], name="alpha")), y=y)


def _house_features(df):
    out = df.copy()
    out["area_per_room"] = out["floor_area"] / out["n_rooms"]
    out["is_flat"] = (out["property_type"] == "Flat").astype(float)
    return out


@case("regression", "r2")
def hp_apply_func(df=None):
    X, y = house_xy(df, log_target=True)
    X = X.skb.apply_func(_house_features)
    X = numeric_only(X).skb.apply(SimpleImputer())
    return X.skb.apply(Ridge(alpha=skrub.choose_from([0.1, 10.0], name="alpha")), y=y)


@skrub.deferred
def clip_area(df, max_area):
    out = df.copy()
    out["floor_area"] = out["floor_area"].clip(upper=max_area)
    return out


@case("regression", "r2")
def hp_deferred_with_choice(df=None):
    """A deferred function whose argument is a choice."""
    X, y = house_xy(df, log_target=True)
    X = clip_area(X, skrub.choose_from([150.0, 400.0], name="max_area"))
    X = numeric_only(X).skb.apply(SimpleImputer())
    return X.skb.apply(Ridge(), y=y)


@case("regression", "r2")
def hp_method_calls(df=None):
    """.assign / .drop / .fillna / item access / operators."""
    X, y = house_xy(df, log_target=True)
    X = X.assign(
        area2=X["floor_area"] * 2,
        rooms_p1=X["n_rooms"] + 1,
        density=X["floor_area"] / (X["n_rooms"] + 1),
        north=(X["lat"] > 52.0).astype(float),
    )
    X = X.drop(columns=["postcode", "street", "sale_date"])
    X = X.fillna({"floor_area": 0.0, "n_rooms": 3.0, "area2": 0.0})
    X = numeric_only(X).skb.apply(SimpleImputer())
    return X.skb.apply(Ridge(alpha=skrub.choose_from([1.0, 3.0], name="alpha")), y=y)


@case("regression", "r2")
def hp_attribute_access(df=None):
    """Attribute access (.dt, .columns, .str) and method chains."""
    X, y = house_xy(df, log_target=True)
    X = X.assign(
        year=X["sale_date"].dt.year,
        month=X["sale_date"].dt.month,
        street_len=X["street"].str.len(),
    )
    num_cols = X.select_dtypes("number").columns
    X = X[num_cols]
    model = hgb_regressor(max_depth=skrub.choose_from([2, None], name="max_depth"))
    return X.skb.apply(model, y=y)


@case("regression", "r2")
def hp_datetime_encoder(df=None):
    X, y = house_xy(df, log_target=True)
    X = X.skb.apply(
        skrub.DatetimeEncoder(
            periodic_encoding=skrub.choose_from([None, "circular"], name="periodic"),
            add_weekday=True,
        ),
        cols="sale_date",
    )
    X = numeric_only(X)
    return X.skb.apply(hgb_regressor(), y=y)


@case("regression", "r2")
def hp_concat(df=None):
    X, y = house_xy(df, log_target=True)
    nums = numeric_only(X).skb.apply(SimpleImputer()).skb.apply(StandardScaler())
    cats = X[["property_type", "tenure", "county"]].skb.apply(
        OneHotEncoder(sparse_output=False, handle_unknown="ignore")
    )
    features = nums.skb.concat([cats], axis=1)
    return features.skb.apply(
        Ridge(alpha=skrub.choose_from([0.3, 3.0], name="alpha")), y=y
    )


@case("regression", "r2")
def hp_select_drop(df=None):
    X, y = house_xy(df, log_target=True)
    X = X.skb.select(s.numeric() | s.cols("county", "property_type"))
    X = X.skb.drop(["lat"])
    X = X.skb.apply(table_vectorizer()).skb.apply(SimpleImputer())
    return X.skb.apply(Ridge(), y=y)


@case("regression", "r2")
def hp_choice_if_else(df=None):
    """Choice.if_else: two feature branches."""
    X, y = house_xy(df, log_target=True, drop=("postcode", "town"))
    rich = X.skb.apply(table_vectorizer(2)).skb.apply(SimpleImputer())
    simple = numeric_only(X).skb.apply(SimpleImputer())
    features = skrub.choose_bool(name="rich_features").if_else(rich, simple)
    features = skrub.as_data_op(features)
    return features.skb.apply(Ridge(), y=y)


@case("regression", "r2")
def hp_dataop_if_else(df=None):
    """DataOp.skb.if_else on a DataOp computed from a choice."""
    X, y = house_xy(df, log_target=True)
    flag = skrub.as_data_op(skrub.choose_bool(name="scale", default=False))
    imputed = numeric_only(X).skb.apply(SimpleImputer())
    scaled = imputed.skb.apply(StandardScaler())
    return flag.skb.if_else(scaled, imputed).skb.apply(Ridge(alpha=2.0), y=y)


@case("regression", "r2")
def hp_choice_match(df=None):
    X, y = house_xy(df, log_target=True, drop=("postcode", "street"))
    enc = skrub.choose_from(["tv", "numeric", "ordinal"], name="features")
    tv = X.skb.apply(table_vectorizer(2))
    numeric = numeric_only(X)
    ordinal = X.skb.apply(
        OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
        cols=["county", "property_type", "tenure"],
    ).skb.select(s.numeric())
    features = enc.match({"tv": tv, "numeric": numeric, "ordinal": ordinal})
    return skrub.as_data_op(features).skb.apply(hgb_regressor(), y=y)


@case("regression", "r2")
def hp_dataop_match(df=None):
    X, y = house_xy(df, log_target=True)
    strategy = skrub.as_data_op(skrub.choose_from(["mean", "zero"], name="fill"))
    X = numeric_only(X)
    filled = strategy.skb.match(
        {"mean": X.skb.apply(SimpleImputer()), "zero": X.fillna(0.0)},
        default=X.fillna(-1.0),
    )
    return filled.skb.apply(Ridge(), y=y)


@case("regression", "r2")
def hp_as_data_op(df=None):
    X, y = house_xy(df, log_target=True)
    cols = skrub.as_data_op(["floor_area", "n_rooms", "lat"])
    X = X[cols].skb.apply(SimpleImputer())
    params = skrub.as_data_op({"alpha": skrub.choose_from([0.1, 1.0], name="alpha")})
    ridge = skrub.deferred(lambda p: Ridge(**p))(params)
    return X.skb.apply(ridge, y=y)


def make_ridge(alpha):
    return Ridge(alpha=alpha)


@case("regression", "r2")
def hp_deferred_estimator(df=None):
    """The estimator itself is computed by a deferred call from a choice: every
    fold must fit its own instance (a shared instance leaks across folds)."""
    X, y = house_xy(df, log_target=True)
    X = X[["floor_area", "n_rooms", "lat"]].skb.apply(SimpleImputer())
    ridge = skrub.deferred(make_ridge)(skrub.choose_from([0.1, 1.0], name="alpha"))
    return X.skb.apply(ridge, y=y)


@case("regression", "r2")
def hp_subsample_head(df=None):
    """.skb.subsample (no effect outside previews without keep_subsampling)."""
    data = skrub.var("houses", houses() if df is None else df).skb.subsample(n=100)
    X = data.drop(columns=["price"]).skb.mark_as_X()
    y = skrub.deferred(np.log)(data["price"]).skb.mark_as_y()
    X = numeric_only(X).skb.apply(SimpleImputer())
    return X.skb.apply(Ridge(alpha=skrub.choose_from([0.1, 1.0], name="alpha")), y=y)


@case("regression", "r2", keep_subsampling=True)
def hp_subsample_random_kept(df=None):
    """how='random' subsampling, kept during the search (keep_subsampling=True)."""
    data = skrub.var("houses", houses() if df is None else df)
    data = data.skb.subsample(n=150, how="random")
    X = data.drop(columns=["price"]).skb.mark_as_X()
    y = data["price"].skb.mark_as_y()
    X = numeric_only(X)
    return X.skb.apply(
        hgb_regressor(max_iter=skrub.choose_from([5, 10], name="it")), y=y
    )


@case("regression", "r2", keep_subsampling=True)
def hp_subsample_after_split_kept(df=None):
    """Subsampling after mark_as_X/y with keep_subsampling=True: skrub subsamples
    the training side of every split and the refit, never the test side."""
    X, y = house_xy(df, log_target=True)
    X = numeric_only(X).skb.subsample(n=120).skb.apply(SimpleImputer())
    y = y.skb.subsample(n=120)
    return X.skb.apply(Ridge(alpha=skrub.choose_from([0.1, 1.0], name="alpha")), y=y)


@case("regression", "r2")
def hp_freeze_after_fit(df=None):
    X, y = house_xy(df, log_target=True)
    mean_area = X["floor_area"].mean().skb.freeze_after_fit()
    X = X.assign(area_centered=X["floor_area"] - mean_area)
    X = numeric_only(X).skb.apply(SimpleImputer())
    return X.skb.apply(Ridge(alpha=skrub.choose_from([1.0, 10.0], name="alpha")), y=y)


@skrub.deferred
def clip_in_fit(df, mode):
    """Clip floor areas only while fitting; depends on skrub.eval_mode()."""
    if mode in ("fit", "fit_transform"):
        df = df.assign(floor_area=df["floor_area"].clip(upper=200.0))
    return df


@case("regression", "r2")
def hp_eval_mode(df=None):
    X, y = house_xy(df, log_target=True)
    X = clip_in_fit(X, skrub.eval_mode())
    X = numeric_only(X).skb.apply(SimpleImputer())
    return X.skb.apply(Ridge(alpha=skrub.choose_from([0.1, 1.0], name="alpha")), y=y)


@case("regression", "r2", cv=None)
def hp_mark_as_x_kfold(df=None):
    """The splitter comes from mark_as_X(cv=...): search with cv=None."""
    data = skrub.var("houses", houses() if df is None else df)
    X = data.drop(columns=["price"]).skb.mark_as_X(
        cv=KFold(n_splits=3, shuffle=True, random_state=1)
    )
    y = skrub.deferred(np.log)(data["price"]).skb.mark_as_y()
    X = numeric_only(X).skb.apply(SimpleImputer())
    return X.skb.apply(Ridge(alpha=skrub.choose_from([0.1, 10.0], name="alpha")), y=y)


@case("regression", "r2", cv=None)
def hp_group_kfold(df=None):
    data = skrub.var("houses", houses() if df is None else df)
    groups = data["county"].fillna("unknown")
    X = data.drop(columns=["price"]).skb.mark_as_X(
        cv=GroupKFold(n_splits=3), split_kwargs={"groups": groups}
    )
    y = skrub.deferred(np.log)(data["price"]).skb.mark_as_y()
    X = numeric_only(X).skb.apply(SimpleImputer())
    return X.skb.apply(Ridge(alpha=skrub.choose_from([0.1, 10.0], name="alpha")), y=y)


@case("regression", "r2")
def hp_nested_tv_choices(df=None):
    """Choices nested inside TableVectorizer's parameters (two levels deep)."""
    X, y = house_xy(df, log_target=True, drop=("postcode", "street"))
    tv = skrub.TableVectorizer(
        cardinality_threshold=skrub.choose_from([10, 50], name="card"),
        high_cardinality=string_encoder(skrub.choose_from([2, 4], name="dim")),
    )
    X = X.skb.apply(tv)
    return X.skb.apply(hgb_regressor(), y=y)


@case("regression", "r2")
def hp_fit_kwargs(df=None):
    """Estimator fit kwargs computed by the DataOp (sample weights)."""
    X, y = house_xy(df, log_target=True)
    X = numeric_only(X).skb.apply(SimpleImputer())
    weights = (X["n_rooms"] + 1.0) / 5.0
    ridge = Ridge(alpha=skrub.choose_from([0.1, 1.0], name="alpha"))
    return X.skb.apply(ridge, y=y, fit_kwargs={"sample_weight": weights})


# stratum announces that .skb.with_scoring() is evaluated by skrub
@case("regression", None, fallback_ok=True)
def hp_with_scoring(df=None):
    """Scoring attached to the DataOp (.skb.with_scoring), search scoring=None."""
    X, y = house_xy(df, log_target=True)
    X = numeric_only(X).skb.apply(SimpleImputer())
    pred = X.skb.apply(Ridge(alpha=skrub.choose_from([0.1, 30.0], name="alpha")), y=y)
    return pred.skb.with_scoring("neg_mean_absolute_error")


@case("regression", "r2")
def hp_random_forest(df=None):
    X, y = house_xy(df, log_target=True)
    X = numeric_only(X).skb.apply(SimpleImputer())
    rf = RandomForestRegressor(
        n_estimators=5,
        max_depth=skrub.choose_int(2, 6, n_steps=2, name="depth"),
        random_state=0,
        n_jobs=1,
    )
    return X.skb.apply(rf, y=y)


@case("clustering", None)
def hp_kmeans_unsupervised(df=None):
    """unsupervised=True: y is only used for scoring (KMeans.score)."""
    X, y = house_xy(df, log_target=True)
    X = numeric_only(X).skb.apply(SimpleImputer()).skb.apply(StandardScaler())
    km = KMeans(
        n_clusters=skrub.choose_from([2, 3], name="k"), n_init=1, random_state=0
    )
    return X.skb.apply(km, y=y, unsupervised=True)


@case("regression", "r2")
def hp_cleaner_squashing(df=None):
    X, y = house_xy(df, log_target=True, drop=("postcode", "street", "town"))
    X = X.skb.apply(skrub.Cleaner())
    X = X.skb.apply(table_vectorizer(2))
    X = X.skb.apply(
        skrub.SquashingScaler(
            max_absolute_value=skrub.choose_from([3.0, 5.0], name="squash")
        )
    )
    return X.skb.apply(SimpleImputer()).skb.apply(Ridge(), y=y)


@case("regression", "r2", grid=False)
def hp_continuous(df=None):
    """Continuous ranges: randomized search only."""
    X, y = house_xy(df, log_target=True)
    X = numeric_only(X).skb.apply(SimpleImputer())
    model = skrub.choose_from(
        {
            "ridge": Ridge(
                alpha=skrub.choose_float(0.001, 100.0, log=True, name="alpha")
            ),
            "hgb": hgb_regressor(
                max_iter=skrub.choose_int(5, 30, name="max_iter"),
                learning_rate=skrub.choose_float(0.05, 0.5, name="lr"),
            ),
        },
        name="model",
    )
    return X.skb.apply(model, y=y)


# ---------------------------------------------------------------------------
# Classification: reviews
# ---------------------------------------------------------------------------


@case("classification", "accuracy")
def rv_text_logreg(df=None):
    X, y = review_xy(df)
    X = X.skb.apply(
        string_encoder(skrub.choose_from([4, 8], name="text_dim")), cols="review"
    )
    X = (
        X.skb.apply(table_vectorizer())
        .skb.apply(SimpleImputer())
        .skb.apply(StandardScaler())
    )
    logreg = LogisticRegression(
        C=skrub.choose_float(0.01, 10.0, log=True, n_steps=2, name="C")
    )
    return X.skb.apply(logreg, y=y)


@case("classification", "accuracy")
def rv_tv_hgb(df=None):
    X, y = review_xy(df)
    X = X.skb.apply(table_vectorizer(6))
    model = hgb_classifier(max_depth=skrub.choose_from([2, 3], name="max_depth"))
    return X.skb.apply(model, y=y)


@case("classification", "neg_log_loss")
def rv_lgbm(df=None):
    X, y = review_xy(df)
    X = X.skb.apply(table_vectorizer(4))
    model = lgbm_classifier(
        num_leaves=skrub.choose_from([4, 8], name="leaves"),
        learning_rate=skrub.choose_float(0.05, 0.2, log=True, n_steps=2, name="lr"),
    )
    return X.skb.apply(model, y=y)


@case("classification", "accuracy")
def rv_xgb(df=None):
    X, y = review_xy(df)
    X = X.skb.apply(table_vectorizer(4))
    model = xgb_classifier(
        max_depth=skrub.choose_int(2, 3, name="max_depth", n_steps=2)
    )
    return X.skb.apply(model, y=y)


@skrub.deferred
def text_stats(df):
    text = df["review"].fillna("")
    return df.assign(
        n_chars=text.str.len(),
        n_words=text.str.split().str.len(),
        n_excl=text.str.count("!"),
        has_thumbs=text.str.contains("👍").astype(float),
        has_accent=text.str.contains("é").astype(float),
    )


@case("classification", "accuracy")
def rv_deferred_text_stats(df=None):
    X, y = review_xy(df)
    X = text_stats(X).drop(columns=["review"])
    X = (
        X.skb.apply(table_vectorizer())
        .skb.apply(SimpleImputer())
        .skb.apply(StandardScaler())
    )
    return X.skb.apply(
        LogisticRegression(C=skrub.choose_from([0.1, 1.0], name="C")), y=y
    )


@case("classification", "accuracy")
def rv_model_choice(df=None):
    X, y = review_xy(df)
    X = (
        X.skb.apply(table_vectorizer(4))
        .skb.apply(SimpleImputer())
        .skb.apply(StandardScaler())
    )
    model = skrub.choose_from(
        {
            "logreg": LogisticRegression(C=0.1),
            "hgb": hgb_classifier(
                learning_rate=skrub.choose_float(
                    0.05, 0.5, log=True, n_steps=2, name="lr"
                )
            ),
            "xgb": xgb_classifier(),
        },
        name="classifier",
    )
    return X.skb.apply(model, y=y)


@case("classification", "roc_auc")
def rv_binary_roc_auc(df=None):
    data = skrub.var("reviews", reviews(n_classes=2) if df is None else df)
    X = data.drop(columns=["label"]).skb.mark_as_X()
    y = (data["label"] == 1).skb.mark_as_y()
    X = (
        X.skb.apply(table_vectorizer(4))
        .skb.apply(SimpleImputer())
        .skb.apply(StandardScaler())
    )
    logreg = LogisticRegression(
        C=skrub.choose_from([0.1, 1.0], name="C"),
        class_weight=skrub.choose_from([None, "balanced"], name="class_weight"),
    )
    return X.skb.apply(logreg, y=y)


def sorted_reviews(n_rows: int = N_REVIEWS) -> pd.DataFrame:
    """Reviews sorted by label: plain KFold would give single-class folds."""
    return reviews(n_rows).sort_values("label", kind="stable").reset_index(drop=True)


@case("classification", "accuracy")
def rv_sorted_labels(df=None):
    """int cv on a classifier -> StratifiedKFold; KFold would give other scores."""
    X, y = review_xy(sorted_reviews() if df is None else df)
    X = (
        X.skb.apply(table_vectorizer(3))
        .skb.apply(SimpleImputer())
        .skb.apply(StandardScaler())
    )
    return X.skb.apply(
        LogisticRegression(C=skrub.choose_from([0.1, 1.0], name="C")), y=y
    )


@case("classification", "accuracy")
def rv_string_labels(df=None):
    data = skrub.var("reviews", reviews() if df is None else df)
    X = data.drop(columns=["label"]).skb.mark_as_X()
    y = data["label"].map({0: "négatif", 1: "neutre", 2: "positif"}).skb.mark_as_y()
    X = X.skb.apply(table_vectorizer(3))
    model = hgb_classifier(
        max_iter=skrub.choose_from([5, 15], name="max_iter"),
        class_weight=skrub.optional("balanced", name="balanced"),
    )
    return X.skb.apply(model, y=y)


@case("classification", "accuracy")
def rv_minhash(df=None):
    X, y = review_xy(df)
    X = X.skb.apply(skrub.MinHashEncoder(n_components=8), cols="review")
    X = X.skb.apply(table_vectorizer(2))
    return X.skb.apply(
        hgb_classifier(max_depth=skrub.choose_from([2, 4], name="depth")), y=y
    )


@case("classification", "accuracy")
def rv_optional_pca(df=None):
    X, y = review_xy(df)
    X = (
        X.skb.apply(table_vectorizer(4))
        .skb.apply(SimpleImputer())
        .skb.apply(StandardScaler())
    )
    X = X.skb.apply(
        skrub.optional(
            PCA(
                n_components=skrub.choose_int(2, 4, n_steps=2, name="n_pc"),
                random_state=0,
            ),
            name="pca",
        )
    )
    return X.skb.apply(LogisticRegression(), y=y)


@case("classification", "accuracy")
def rv_choose_bool(df=None):
    X, y = review_xy(df)
    X = numeric_only(X.skb.apply(table_vectorizer(2))).skb.apply(SimpleImputer())
    X = X.skb.apply(StandardScaler())
    logreg = LogisticRegression(
        fit_intercept=skrub.choose_bool(name="intercept"),
        C=skrub.choose_from([0.05, 5.0], name="C"),
    )
    return X.skb.apply(logreg, y=y)


@case("classification", "accuracy")
def rv_datetime_onehot(df=None):
    X, y = review_xy(df, drop=("review",))
    X = X.skb.apply(skrub.DatetimeEncoder(add_weekday=True), cols="review_date")
    X = X.skb.apply(
        OneHotEncoder(
            sparse_output=False, drop=skrub.choose_from([None, "first"], name="drop")
        ),
        cols=["product_category", "platform"],
    )
    X = X.skb.apply(SimpleImputer()).skb.apply(StandardScaler(), cols=s.numeric())
    return X.skb.apply(LogisticRegression(max_iter=200), y=y)


@case("classification", "accuracy", cv=None)
def rv_mark_as_x_stratified(df=None):
    data = skrub.var("reviews", reviews() if df is None else df)
    X = data.drop(columns=["label"]).skb.mark_as_X(
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    )
    y = data["label"].skb.mark_as_y()
    X = X.skb.apply(table_vectorizer(3))
    return X.skb.apply(
        lgbm_classifier(min_child_samples=skrub.choose_from([5, 20], name="mcs")), y=y
    )


@case("classification", "balanced_accuracy")
def rv_ordinal_xgb(df=None):
    X, y = review_xy(df, drop=("review", "review_date"))
    X = X.skb.apply(OrdinalEncoder(), cols=["product_category", "platform"])
    X = X.skb.apply(
        SimpleImputer(strategy=skrub.choose_from(["mean", "median"], name="imp"))
    )
    return X.skb.apply(
        xgb_classifier(learning_rate=skrub.choose_from([0.1, 0.3], name="lr")), y=y
    )


@case("classification", "accuracy", grid=False)
def rv_continuous(df=None):
    X, y = review_xy(df)
    X = (
        X.skb.apply(table_vectorizer(3))
        .skb.apply(SimpleImputer())
        .skb.apply(StandardScaler())
    )
    logreg = LogisticRegression(C=skrub.choose_float(0.001, 10.0, log=True, name="C"))
    hgb = hgb_classifier(
        max_leaf_nodes=skrub.choose_int(3, 31, log=True, name="leaves")
    )
    return X.skb.apply(skrub.choose_from({"lr": logreg, "hgb": hgb}, name="clf"), y=y)


# ---------------------------------------------------------------------------
# numpy inputs (skrub.X / skrub.y)
# ---------------------------------------------------------------------------


@case("regression", "r2")
def np_ridge(df=None):
    X_a, y_a = make_regression(n_samples=200, n_features=6, noise=5.0, random_state=0)
    X, y = skrub.X(X_a), skrub.y(y_a)
    X = X.skb.apply(skrub.optional(StandardScaler(), name="scale"))
    return X.skb.apply(Ridge(alpha=skrub.choose_from([0.1, 100.0], name="alpha")), y=y)


@case("classification", "accuracy")
def np_logreg(df=None):
    X_a, y_a = make_classification(n_samples=200, n_features=6, random_state=0)
    X, y = skrub.X(X_a), skrub.y(y_a)
    X = X.skb.apply(MinMaxScaler())
    return X.skb.apply(
        LogisticRegression(
            C=skrub.choose_float(0.01, 1.0, log=True, n_steps=3, name="C")
        ),
        y=y,
    )


# ---------------------------------------------------------------------------
# Pipelines for batch tests: same prefix, different final models
# ---------------------------------------------------------------------------


def shared_prefix_features(df=None, scaler_cls=CountingScaler):
    """Numeric features -> imputer -> (counting) scaler: the shared prefix."""
    X, y = house_xy(df, log_target=True)
    X = numeric_only(X).skb.apply(SimpleImputer())
    return X.skb.apply(scaler_cls()), y


def prefix_then_model(model, df=None, scaler_cls=CountingScaler):
    X, y = shared_prefix_features(df, scaler_cls)
    return X.skb.apply(model, y=y)


def batch_models() -> dict[str, Any]:
    """Five different final models (no choices) for the shared-prefix batch."""
    return {
        "ridge": Ridge(alpha=1.0),
        "lasso": Lasso(alpha=0.01),
        "hgb": hgb_regressor(),
        "lgbm": lgbm_regressor(),
        "xgb": xgb_regressor(),
    }


# Grid cases covering a shared prefix, choices, if_else, boosting and text: the
# batch the remote backends (processes, Ray) are checked on.
SAMPLE = [
    "hp_tv_ridge",
    "hp_model_dict_choice",
    "hp_choice_if_else",
    "hp_lgbm",
    "rv_text_logreg",
]


def sample_batch(names=tuple(SAMPLE)) -> dict:
    return {name: build(name) for name in names}
