"""The benchmark's pipelines: one builder per pipeline variant.

This module is the single definition of every pipeline the benchmark runs. The
``skrub`` in-process engines, the ``stratum`` batch and the generated
standalone scripts of the ``base`` engines all call these builders, so they
evaluate exactly the same pipelines.

It imports only skrub, scikit-learn, numpy and pandas (LightGBM and XGBoost
lazily, when a model needs them) and nothing from ``stratum``, not even
relatively: the generated scripts load it by file path so that their process
runs plain skrub without ever importing (and patching) stratum.

Every builder takes the DataFrame and JSON-serializable keyword arguments and
returns a fresh DataOp (new Python objects at each call, as an agent's scripts
build them). Every source of randomness is seeded, including the
``StringEncoder`` inside ``TableVectorizer``: unseeded, skrub does not even
agree with itself from run to run. Models run on one thread (``n_jobs=1``;
``HistGradientBoostingRegressor``, which has no such parameter, through the
``OMP_NUM_THREADS=1`` every engine's processes get).

DataOps are built with ``eager_data_ops=False``: skrub then skips the previews
it would otherwise compute while the pipeline is written (a full fit of every
step on all rows). That cost would be the same for every engine; leaving it out
keeps the measured time the search's own.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import skrub
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from sklearn.model_selection import KFold
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

__all__ = [
    "BUILDERS",
    "W1_MODELS",
    "W1_PREPS",
    "W1_STAGE2_GRIDS",
    "W4_GRIDS",
    "W4_MODELS",
    "WORKLOADS",
    "agent_tree",
    "build",
    "load_data",
    "select_best",
    "stage_specs",
    "w1_pipeline",
    "w1_stage2_pipeline",
    "w2_pipeline",
    "w3_pipeline",
    "w4_pipeline",
    "workload_config",
]


def _lgbm(kind: str, **params):
    from lightgbm import LGBMClassifier, LGBMRegressor

    cls = LGBMRegressor if kind == "regressor" else LGBMClassifier
    return cls(**({"random_state": 0, "n_jobs": 1, "verbose": -1} | params))


def _xgb(kind: str, **params):
    from xgboost import XGBClassifier, XGBRegressor

    cls = XGBRegressor if kind == "regressor" else XGBClassifier
    defaults = {"random_state": 0, "n_jobs": 1, "tree_method": "hist"}
    return cls(**(defaults | params))


def _string_encoder(n_components: int = 16, **kwargs) -> skrub.StringEncoder:
    return skrub.StringEncoder(n_components=n_components, random_state=0, **kwargs)


# ---------------------------------------------------------------------------
# W1: two-stage search over house prices (regression, r2)
# ---------------------------------------------------------------------------

W1_PREPS = ("a", "b")
W1_MODELS = ("ridge", "elasticnet", "lightgbm", "xgboost")

# Stage 1 uses each model's default below; stage 2 tunes the best pair's grid
# (6 configurations whichever model wins).
W1_MODEL_DEFAULTS = {
    "ridge": {"alpha": 1.0},
    "elasticnet": {"alpha": 0.001, "l1_ratio": 0.5},
    "lightgbm": {"n_estimators": 200, "learning_rate": 0.1},
    "xgboost": {"n_estimators": 200, "learning_rate": 0.1, "max_depth": 6},
}
W1_STAGE2_GRIDS = {
    "ridge": {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]},
    "elasticnet": {"alpha": [0.0001, 0.001, 0.01], "l1_ratio": [0.2, 0.8]},
    "lightgbm": {"learning_rate": [0.01, 0.05, 0.1], "max_depth": [5, 7]},
    "xgboost": {"learning_rate": [0.01, 0.05, 0.1], "max_depth": [5, 7]},
}
_HOUSE_LOW_CARD = ["county", "property_type", "old_new", "tenure"]
_HOUSE_MID_CARD = ["town", "district"]
_HOUSE_HIGH_CARD = ["postcode", "street"]


def _house_xy(df):
    data = skrub.var("houses", df)
    X = data.drop(columns=["price"]).skb.mark_as_X()
    y = data["price"].skb.apply_func(np.log1p).skb.mark_as_y()
    return X, y


def _w1_features(X, y, prep: str):
    if prep == "a":
        # Imputation and explicit encoders, column group by column group.
        X = X.skb.apply(
            skrub.DatetimeEncoder(periodic_encoding=None), cols=["sale_date"]
        )
        X = X.skb.apply(
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            cols=_HOUSE_LOW_CARD,
        )
        target_encoder = TargetEncoder(cv=KFold(5, shuffle=True, random_state=0))
        X = X.skb.apply(target_encoder, y=y, cols=_HOUSE_MID_CARD)
        X = X.drop(columns=_HOUSE_HIGH_CARD)
    elif prep == "b":
        X = X.skb.apply(
            skrub.TableVectorizer(
                high_cardinality=_string_encoder(16),
                datetime=skrub.DatetimeEncoder(periodic_encoding=None),
            )
        )
    else:
        raise ValueError(f"unknown W1 preprocessing {prep!r}")
    X = X.skb.apply(SimpleImputer(strategy="median"))
    return X.skb.apply(StandardScaler())


def _w1_model(model: str, params: dict):
    params = W1_MODEL_DEFAULTS[model] | params
    if model == "ridge":
        return Ridge(**params)
    if model == "elasticnet":
        return ElasticNet(max_iter=5000, **params)
    if model == "lightgbm":
        return _lgbm("regressor", **params)
    if model == "xgboost":
        return _xgb("regressor", **params)
    raise ValueError(f"unknown W1 model {model!r}")


def w1_pipeline(df, prep: str, model: str):
    """Stage 1: preprocessing ``prep`` ("a" or "b") then ``model`` with its
    default hyperparameters (one configuration)."""
    with skrub.config_context(eager_data_ops=False):
        X, y = _house_xy(df)
        return _w1_features(X, y, prep).skb.apply(_w1_model(model, {}), y=y)


def w1_stage2_pipeline(df, prep: str, model: str):
    """Stage 2: the best stage-1 pair with its hyperparameter grid as choices."""
    with skrub.config_context(eager_data_ops=False):
        X, y = _house_xy(df)
        grid = {
            name: skrub.choose_from(values, name=name)
            for name, values in W1_STAGE2_GRIDS[model].items()
        }
        return _w1_features(X, y, prep).skb.apply(_w1_model(model, grid), y=y)


# ---------------------------------------------------------------------------
# W2: an AIDE-style agent tree over reviews (classification, free text)
# ---------------------------------------------------------------------------

W2_DRAFTS = ("tv_char", "tv_word", "tv_minhash", "explicit")
W2_MODEL_GRIDS = {
    "logreg": {"C": [1.0, 0.1, 10.0]},
    "lightgbm": {
        "n_estimators": [100, 200],
        "learning_rate": [0.1, 0.05],
        "num_leaves": [31, 15],
    },
    "xgboost": {
        "n_estimators": [50, 100],
        "max_depth": [4, 6],
        "learning_rate": [0.1, 0.3],
    },
}


def _review_len(X):
    return X.assign(review_len=X["review"].fillna("").str.len())


def _n_words(X):
    return X.assign(n_words=X["review"].fillna("").str.split().str.len())


def _n_exclaim(X):
    return X.assign(n_exclaim=X["review"].fillna("").str.count("!"))


def _votes_per_price(X):
    return X.assign(votes_per_price=X["helpful_votes"] / (X["price_paid"] + 1.0))


def _weekend(X):
    return X.assign(weekend=(X["review_date"].dt.dayofweek >= 5).astype("float64"))


W2_EXTRAS = {
    "review_len": _review_len,
    "n_words": _n_words,
    "n_exclaim": _n_exclaim,
    "votes_per_price": _votes_per_price,
    "weekend": _weekend,
}


def _w2_features(X, draft: str):
    if draft == "explicit":
        X = X.skb.apply(
            _string_encoder(40, analyzer="word", ngram_range=(1, 2)), cols=["review"]
        )
        X = X.skb.apply(
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            cols=["product_category", "platform"],
        )
        X = X.skb.apply(
            skrub.DatetimeEncoder(periodic_encoding=None), cols=["review_date"]
        )
    else:
        encoder = {
            "tv_char": _string_encoder(30),
            "tv_word": _string_encoder(30, analyzer="word", ngram_range=(1, 2)),
            "tv_minhash": skrub.MinHashEncoder(n_components=30),
        }[draft]
        X = X.skb.apply(skrub.TableVectorizer(high_cardinality=encoder))
    X = X.skb.apply(SimpleImputer(strategy="median"))
    return X.skb.apply(StandardScaler())


def _w2_model(model: str, params: dict):
    defaults = {name: values[0] for name, values in W2_MODEL_GRIDS[model].items()}
    params = defaults | params
    if model == "logreg":
        return LogisticRegression(max_iter=2000, **params)
    if model == "lightgbm":
        return _lgbm("classifier", **params)
    if model == "xgboost":
        return _xgb("classifier", **params)
    raise ValueError(f"unknown W2 model {model!r}")


def w2_pipeline(df, draft: str, extras: list, model: str, params: dict):
    """One node of the agent tree: a feature-engineering ``draft``, the derived
    columns ``extras`` added to the table first, and ``model(**params)``."""
    with skrub.config_context(eager_data_ops=False):
        data = skrub.var("reviews", df)
        X = data.drop(columns=["label"]).skb.mark_as_X()
        y = data["label"].skb.mark_as_y()
        for extra in extras:
            X = X.skb.apply_func(W2_EXTRAS[extra])
        X = _w2_features(X, draft)
        return X.skb.apply(_w2_model(model, params), y=y)


def agent_tree(n_pipelines: int, seed: int = 0, drafts=None) -> list[dict]:
    """The pipelines an AIDE-style agent writes, as builder arguments.

    A few drafts (one per feature-engineering idea, starting with logistic
    regression), then refinements: the agent picks a draft's branch, in it a
    node (mostly its latest, sometimes an earlier one), and changes one thing:
    the model (to another family's defaults), one hyperparameter, or one extra
    derived column. Every node is a distinct pipeline. Deterministic for a
    ``seed``. ``drafts``: the feature-engineering ideas (default: all of
    ``W2_DRAFTS``).
    """
    drafts = tuple(W2_DRAFTS if drafts is None else drafts)
    rng = random.Random(seed)
    nodes: list[dict] = []
    seen: set = set()

    def add(node: dict) -> bool:
        key = (
            node["draft"],
            tuple(node["extras"]),
            node["model"],
            tuple(sorted(node["params"].items())),
        )
        if key in seen:
            return False
        seen.add(key)
        node["name"] = f"n{len(nodes):03d}_{node['draft']}_{node['model']}"
        nodes.append(node)
        return True

    for draft in drafts[: max(1, min(len(drafts), n_pipelines))]:
        add({"draft": draft, "extras": [], "model": "logreg", "params": {}})
    attempts = 0
    while len(nodes) < n_pipelines:
        attempts += 1
        if attempts > 100 * n_pipelines:
            raise RuntimeError(f"cannot grow an agent tree of {n_pipelines} nodes")
        draft = rng.choice(drafts[: len(nodes)])
        branch = [node for node in nodes if node["draft"] == draft]
        if rng.random() < 0.6:
            parent = branch[-1]
        else:
            parent = branch[rng.randrange(len(branch))]
        child = {
            "draft": parent["draft"],
            "extras": list(parent["extras"]),
            "model": parent["model"],
            "params": dict(parent["params"]),
        }
        change = rng.choice(["model", "param", "param", "extra"])
        if change == "model":
            child["model"] = rng.choice(
                [m for m in W2_MODEL_GRIDS if m != parent["model"]]
            )
            child["params"] = {}
        elif change == "param":
            name, values = rng.choice(sorted(W2_MODEL_GRIDS[child["model"]].items()))
            current = child["params"].get(name, values[0])
            child["params"][name] = rng.choice([v for v in values if v != current])
        else:
            missing = [e for e in W2_EXTRAS if e not in child["extras"]]
            if not missing:
                continue
            child["extras"] = sorted(child["extras"] + [rng.choice(missing)])
        add(child)
    return nodes


# ---------------------------------------------------------------------------
# W3: one wide grid over house prices (regression, r2)
# ---------------------------------------------------------------------------


W3_GRIDS = {
    "full": {
        "encoders": ["string_char", "string_word", "minhash", "drop"],
        "alpha": [0.1, 1.0, 10.0, 100.0],
        "lgbm_lr": [0.05, 0.1],
        "num_leaves": [15, 31, 63],
        "xgb_lr": [0.05, 0.1],
        "max_depth": [4, 6, 8],
    },
    "quick": {
        "encoders": ["string_char", "drop"],
        "alpha": [1.0],
        "lgbm_lr": [0.1],
        "num_leaves": [15],
        "xgb_lr": [0.1],
        "max_depth": [4],
    },
}


def w3_pipeline(df, grid: str = "full"):
    """One DataOp with nested choices. The full grid: 4 high-cardinality
    encoders x (Ridge: 4 alphas + LightGBM: 2 x 3 + XGBoost: 2 x 3) = 64
    configurations (``grid="quick"``: 2 x (1 + 1 + 1) = 6)."""
    values = W3_GRIDS[grid]
    with skrub.config_context(eager_data_ops=False):
        X, y = _house_xy(df)
        encoders = {
            "string_char": _string_encoder(16),
            "string_word": _string_encoder(16, analyzer="word", ngram_range=(1, 2)),
            "minhash": skrub.MinHashEncoder(n_components=16),
            "drop": "drop",
        }
        high_card = skrub.choose_from(
            {k: encoders[k] for k in values["encoders"]}, name="high_card"
        )
        X = X.skb.apply(
            skrub.TableVectorizer(
                high_cardinality=high_card,
                datetime=skrub.DatetimeEncoder(periodic_encoding=None),
            )
        )
        X = X.skb.apply(SimpleImputer(strategy="median")).skb.apply(StandardScaler())
        model = skrub.choose_from(
            {
                "ridge": Ridge(alpha=skrub.choose_from(values["alpha"], name="alpha")),
                "lightgbm": _lgbm(
                    "regressor",
                    n_estimators=100,
                    learning_rate=skrub.choose_from(values["lgbm_lr"], name="lgbm_lr"),
                    num_leaves=skrub.choose_from(
                        values["num_leaves"], name="num_leaves"
                    ),
                ),
                "xgboost": _xgb(
                    "regressor",
                    n_estimators=100,
                    learning_rate=skrub.choose_from(values["xgb_lr"], name="xgb_lr"),
                    max_depth=skrub.choose_from(values["max_depth"], name="max_depth"),
                ),
            },
            name="model",
        )
        return X.skb.apply(model, y=y)


# ---------------------------------------------------------------------------
# W4: an agent's model-tuning stage over house prices (regression, r2)
# ---------------------------------------------------------------------------

W4_MODELS = ("lightgbm", "xgboost", "hgb")
# Each model's number of boosting rounds (its values are the workload's
# ``n_estimators``: 100, 300, 1000; 5, 15, 50 with ``--quick``) ...
W4_ROUNDS = {"lightgbm": "n_estimators", "xgboost": "n_estimators", "hgb": "max_iter"}
# ... times its grid: 3 x 2 x 2 = 12 configurations per model.
W4_GRIDS = {
    "lightgbm": {"learning_rate": [0.05, 0.1], "num_leaves": [15, 63]},
    "xgboost": {"learning_rate": [0.05, 0.1], "max_depth": [4, 8]},
    "hgb": {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 63]},
}


def _w4_model(model: str, params: dict):
    if model == "lightgbm":
        return _lgbm("regressor", **params)
    if model == "xgboost":
        return _xgb("regressor", verbosity=0, **params)
    if model == "hgb":
        # No n_jobs parameter: its OpenMP threads follow OMP_NUM_THREADS (one in
        # every engine). Without early stopping it fits exactly ``max_iter``
        # rounds on all the training rows (no validation split).
        return HistGradientBoostingRegressor(
            early_stopping=False, random_state=0, **params
        )
    raise ValueError(f"unknown W4 model {model!r}")


def w4_pipeline(df, model: str, n_estimators: list, prep: str = "a"):
    """One grid of the tuning stage: W1's preprocessing ``prep`` then ``model``
    ("lightgbm", "xgboost" or "hgb") with its number of boosting rounds in
    ``n_estimators`` times its ``W4_GRIDS`` grid as choices."""
    with skrub.config_context(eager_data_ops=False):
        X, y = _house_xy(df)
        rounds = W4_ROUNDS[model]
        grid = {rounds: skrub.choose_from(list(n_estimators), name=rounds)}
        grid |= {
            name: skrub.choose_from(values, name=name)
            for name, values in W4_GRIDS[model].items()
        }
        return _w1_features(X, y, prep).skb.apply(_w4_model(model, grid), y=y)


BUILDERS = {
    "w1_pipeline": w1_pipeline,
    "w1_stage2_pipeline": w1_stage2_pipeline,
    "w2_pipeline": w2_pipeline,
    "w3_pipeline": w3_pipeline,
    "w4_pipeline": w4_pipeline,
}


def build(builder: str, df: pd.DataFrame, kwargs: dict):
    """``BUILDERS[builder](df, **kwargs)``: what every engine calls."""
    return BUILDERS[builder](df, **kwargs)


# ---------------------------------------------------------------------------
# Workloads: which pipelines each stage evaluates
# ---------------------------------------------------------------------------

# Default sizes. ``quick`` sizes are the CI smoke test's.
WORKLOADS = {
    "W1": {
        "title": "two-stage search",
        "dataset": "house_prices",
        "rows": 100_000,
        "cv": 3,
        "scoring": "r2",
        "n_stages": 2,
        "models": list(W1_MODELS),
    },
    "W2": {
        "title": "agent tree",
        "dataset": "reviews",
        "rows": 10_000,
        "cv": 5,
        "scoring": "neg_log_loss",
        "n_stages": 1,
        "pipelines": 100,
    },
    "W3": {
        "title": "wide grid",
        "dataset": "house_prices",
        "rows": 10_000,
        "cv": 5,
        "scoring": "r2",
        "n_stages": 1,
        "grid": "full",
    },
    "W4": {
        "title": "model tuning",
        "dataset": "house_prices",
        "rows": 100_000,
        "cv": 3,
        "scoring": "r2",
        "n_stages": 1,
        "prep": "a",
        "models": list(W4_MODELS),
        "n_estimators": [100, 300, 1000],
    },
    "W5": {
        "title": "agent scripts",
        "dataset": "house_prices",
        "rows": 20_000,
        "cv": 5,
        "scoring": "rmse",
        "n_stages": 1,
        "unit": "script",
    },
}
QUICK = {
    "W1": {"rows": 500, "cv": 3, "models": ["ridge", "lightgbm"]},
    "W2": {"rows": 500, "cv": 3, "pipelines": 3, "drafts": ["tv_char", "explicit"]},
    "W3": {"rows": 500, "cv": 2, "grid": "quick"},
    # The boosting rounds dominate W4's time, whatever the rows: scaled down
    # 20x, W4 adds about a minute to ``stratum bench all --quick`` on 2 cores.
    "W4": {"rows": 1_000, "cv": 2, "n_estimators": [5, 15, 50]},
    # Engine runs overlap in quick mode: OpenMP teams (LightGBM) that do not
    # spin while they wait keep that from taking minutes (same results).
    "W5": {"rows": 1_000, "omp_wait_policy": "passive"},
}


def workload_config(name: str, quick: bool = False, seed: int = 0, **overrides) -> dict:
    """A workload's complete, JSON-serializable configuration.

    ``overrides`` with a value of None are ignored.
    """
    config = {"workload": name, "seed": seed} | WORKLOADS[name]
    if quick:
        config |= QUICK[name]
    config |= {k: v for k, v in overrides.items() if v is not None}
    return config


def load_data(config: dict, data_module) -> pd.DataFrame:
    """The workload's table, from ``data_module`` (``stratum.bench.data``)."""
    if config["dataset"] == "house_prices":
        return data_module.make_house_prices(config["rows"], seed=config["seed"])
    if config["dataset"] == "reviews":
        return data_module.make_reviews(config["rows"], seed=config["seed"])
    raise ValueError(f"unknown dataset {config['dataset']!r}")


def select_best(scores: dict) -> str:
    """The pipeline with the best mean test score (the first one on ties;
    failed configurations, scored NaN, never win)."""
    best, best_score = None, -np.inf
    for name, values in scores.items():
        finite = [v for v in values if np.isfinite(v)]
        score = max(finite) if finite else -np.inf
        if best is None or score > best_score:
            best, best_score = name, score
    return best


def stage_specs(config: dict, index: int, previous: list | None = None) -> list[dict]:
    """The pipelines of stage ``index``: dicts ``name``, ``builder``, ``kwargs``.

    ``previous`` holds, for each earlier stage, its specs and the scores the
    engine measured (``{"specs": [...], "scores": {name: [...]}}``): W1's
    second stage tunes the best pipeline of the first.
    """
    name = config["workload"]
    if name == "W1" and index == 0:
        return [
            {
                "name": f"{prep}_{model}",
                "builder": "w1_pipeline",
                "kwargs": {"prep": prep, "model": model},
            }
            for prep in W1_PREPS
            for model in config["models"]
        ]
    if name == "W1" and index == 1:
        first = previous[0]
        best = select_best(first["scores"])
        kwargs = next(s for s in first["specs"] if s["name"] == best)["kwargs"]
        return [
            {
                "name": f"tune_{best}",
                "builder": "w1_stage2_pipeline",
                "kwargs": dict(kwargs),
            }
        ]
    if name == "W2" and index == 0:
        return [
            {
                "name": node["name"],
                "builder": "w2_pipeline",
                "kwargs": {k: node[k] for k in ("draft", "extras", "model", "params")},
            }
            for node in agent_tree(
                config["pipelines"], seed=config["seed"], drafts=config.get("drafts")
            )
        ]
    if name == "W3" and index == 0:
        return [
            {
                "name": "wide_grid",
                "builder": "w3_pipeline",
                "kwargs": {"grid": config.get("grid", "full")},
            }
        ]
    if name == "W4" and index == 0:
        return [
            {
                "name": f"tune_{model}",
                "builder": "w4_pipeline",
                "kwargs": {
                    "model": model,
                    "n_estimators": list(config["n_estimators"]),
                    "prep": config["prep"],
                },
            }
            for model in config["models"]
        ]
    raise ValueError(f"workload {name!r} has no stage {index}")
