"""AIDE-style agent scripts: plain pandas + scikit-learn + LightGBM + XGBoost.

An LLM agent searching for a model (AIDE and friends) writes one standalone
script per tree node: it reads a CSV, engineers features in pandas, runs a
manual ``KFold`` loop or a ``train_test_split`` hold-out, calls ``.fit`` /
``.predict`` / ``.predict_proba`` / ``.score`` and prints a metric. This module
generates such scripts as Python source text, for two uses:

* :func:`suite_scripts`: small, fast scripts for the test suite, covering the
  patterns a memoizing runner must handle (sibling scripts that differ in one
  parameter, exact re-runs, a crash after the first fold, an estimator that
  prints while fitting, an unseeded model, a frame mutated after fitting, ...);
* :func:`w5_scripts`: the 12 scripts of the W5 benchmark, an agent tree that
  improves a log-price regression with 5-fold CV.

The scripts never import ``stratum`` or ``skrub``; they take no arguments (the
CSV path is baked in) and their stdout and stderr are deterministic: every
random source is seeded (except where a script says otherwise and prints
nothing that depends on it), floats are printed with a fixed format and
warnings are silenced. :func:`write_dataset` writes the CSV they read.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

import numpy as np

__all__ = ["suite_scripts", "w5_scripts", "write_dataset"]


def write_dataset(folder: str | Path, rows: int, seed: int = 0) -> str:
    """Write the house-prices table the scripts read, as ``train.csv``.

    Parameters
    ----------
    folder : str or Path
        Folder to write into (created if missing).
    rows : int
        Number of rows.
    seed : int, default=0
        Seed of :func:`stratum.bench.data.make_house_prices`.

    Returns
    -------
    str
        Path of the CSV. Besides the generator's columns (``sale_date``,
        strings, numbers and the ``price`` target) it has a binary
        classification target ``expensive`` (price above the median).
    """
    from stratum.bench.data import make_house_prices

    df = make_house_prices(rows, seed=seed)
    df["expensive"] = (df["price"] > np.median(df["price"])).astype(int)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.csv"
    df.to_csv(path, index=False)
    return str(path)


# ---------------------------------------------------------------------------
# Shared text pieces. Scripts are built as: header (warnings first), imports,
# data loading + the feature-engineering helpers, then a body. ``$name``
# placeholders are filled with string.Template (the scripts' own f-strings use
# braces, so str.format is not an option).
# ---------------------------------------------------------------------------

_HEADER = """\
import warnings

warnings.filterwarnings("ignore")

# AIDE-style agent script: $title
"""

_LOAD = """\
DATA_PATH = $data_path
TARGETS = ["price", "expensive"]

df = pd.read_csv(DATA_PATH, parse_dates=["sale_date"])
print(f"loaded {df.shape[0]} rows, {df.shape[1]} columns")
"""

# The agent's feature engineering, copied verbatim into every script that uses
# it: date parts, log transforms, ratios, group-by statistics, categoricals.
_FEATURES = """\
CAT_COLS = ["county", "district", "town", "property_type", "old_new", "tenure"]


def add_features(df):
    df = df.copy()
    df["sale_year"] = df["sale_date"].dt.year
    df["sale_month"] = df["sale_date"].dt.month
    df["sale_dayofweek"] = df["sale_date"].dt.dayofweek
    df["days_since_2015"] = (df["sale_date"] - pd.Timestamp("2015-01-01")).dt.days
    df["log_floor_area"] = np.log1p(df["floor_area"])
    df["area_per_room"] = df["floor_area"] / df["n_rooms"].clip(lower=1)
    df["postcode_area"] = df["postcode"].str.extract(r"^([A-Z]+)", expand=False)
    df["county_mean_area"] = df.groupby("county")["floor_area"].transform("mean")
    df["area_vs_county"] = df["floor_area"] / df["county_mean_area"]
    df["town_count"] = df.groupby("town")["county"].transform("count")
    df["district_mean_rooms"] = df.groupby("district")["n_rooms"].transform("mean")
    for col in CAT_COLS + ["postcode_area"]:
        df[col] = df[col].astype("category")
    return df.drop(columns=["sale_date", "postcode", "street"])
"""

# Category codes + median fill, for models that want a numeric matrix.
_TO_NUMERIC = """\


def to_numeric_matrix(X):
    X = X.copy()
    for col in X.select_dtypes("category").columns:
        X[col] = X[col].cat.codes
    return X.fillna(X.median())
"""

# The scikit-learn preprocessing an agent writes for linear models.
_PREPROCESS = """\


def make_preprocessor(X):
    cat_cols = list(X.select_dtypes("category").columns)
    num_cols = [c for c in X.columns if c not in cat_cols]
    numeric = Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
    )
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    return ColumnTransformer(
        [("num", numeric, num_cols), ("cat", categorical, cat_cols)]
    )
"""

_PREPROCESS_IMPORTS = """\
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
"""

_REG_TARGET = """\
X = add_features(df).drop(columns=TARGETS)
y = np.log1p(df["price"])
"""

_CLF_TARGET = """\
X = add_features(df).drop(columns=TARGETS)
y = df["expensive"]
"""

# Manual K-fold loops. ``$model`` is the model expression, ``$prep`` an
# optional line turning X into what the model wants.
_KFOLD_REG = """\
$prep
kf = KFold(n_splits=$folds, shuffle=True, random_state=0)
scores = []
for fold, (train_idx, val_idx) in enumerate(kf.split(X, y)):
    X_train, X_val = X.iloc[train_idx], X.iloc[val_idx]
    y_train, y_val = y.iloc[train_idx], y.iloc[val_idx]
    model = $model
    model.fit(X_train, y_train)
    pred = model.predict(X_val)
    rmse = np.sqrt(mean_squared_error(y_val, pred))
    scores.append(rmse)
    print(f"fold {fold}: rmse={rmse:.6f}")
print(f"mean rmse: {np.mean(scores):.6f} (std {np.std(scores):.6f})")
"""

_KFOLD_CLF = """\
$prep
skf = StratifiedKFold(n_splits=$folds, shuffle=True, random_state=0)
aucs, accs = [], []
for fold, (train_idx, val_idx) in enumerate(skf.split(X, y)):
    X_train, X_val = X.iloc[train_idx], X.iloc[val_idx]
    y_train, y_val = y.iloc[train_idx], y.iloc[val_idx]
    model = $model
    model.fit(X_train, y_train)
    proba = model.predict_proba(X_val)[:, 1]
    auc = roc_auc_score(y_val, proba)
    acc = accuracy_score(y_val, model.predict(X_val))
    aucs.append(auc)
    accs.append(acc)
    print(f"fold {fold}: auc={auc:.6f} accuracy={acc:.6f}")
print(f"mean auc: {np.mean(aucs):.6f}, mean accuracy: {np.mean(accs):.6f}")
"""

_REG_IMPORTS = """\
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import KFold
"""

_CLF_IMPORTS = """\
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
"""

_BASE_IMPORTS = """\
import numpy as np
import pandas as pd
"""


def _script(
    title: str,
    data_path: str,
    imports: str,
    body: str,
    *,
    helpers: str = "",
    **fill: object,
) -> str:
    """Assemble one standalone script from the shared pieces."""
    lines = sorted(set((_BASE_IMPORTS + imports).splitlines()))
    lines.sort(key=lambda line: not line.startswith("import "))
    body = Template(body).substitute({k: str(v) for k, v in fill.items()})
    text = "\n".join(
        [
            Template(_HEADER).substitute(title=title),
            "\n".join(lines) + "\n",
            _FEATURES + helpers + "\n",
            Template(_LOAD).substitute(data_path=repr(data_path)),
            body.lstrip("\n"),
        ]
    )
    return text


def _lgbm(kind: str, **params: object) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"LGBM{kind}({args}, random_state=0, verbose=-1)"


# ---------------------------------------------------------------------------
# Test-suite scripts
# ---------------------------------------------------------------------------

_GRIDSEARCH_RIDGE = """\
pipe = Pipeline([("prep", make_preprocessor(X)), ("model", Ridge(alpha=1.0))])
kf = KFold(n_splits=3, shuffle=True, random_state=0)
search = GridSearchCV(
    pipe,
    {"model__alpha": [0.1, 1.0, 10.0]},
    cv=kf,
    scoring="neg_root_mean_squared_error",
)
search.fit(X, y)
results = search.cv_results_
for params, mean, std in zip(
    results["params"], results["mean_test_score"], results["std_test_score"]
):
    print(f"alpha={params['model__alpha']}: rmse={-mean:.6f} (std {std:.6f})")
print(f"best alpha: {search.best_params_['model__alpha']}")
print(f"best rmse: {-search.best_score_:.6f}")
"""

_HOLDOUT_XGB_PROBA = """\
X_train, X_val, y_train, y_val = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
print(f"train {X_train.shape}, validation {X_val.shape}")
model = XGBClassifier(
    n_estimators=30,
    max_depth=4,
    learning_rate=0.1,
    tree_method="hist",
    enable_categorical=True,
    n_jobs=1,
    random_state=0,
)
model.fit(X_train, y_train)
proba = model.predict_proba(X_val)[:, 1]
print(f"validation log loss: {log_loss(y_val, proba):.6f}")
print(f"validation roc auc: {roc_auc_score(y_val, proba):.6f}")
"""

_HOLDOUT_LGBM_PROBA = """\
X_train, X_val, y_train, y_val = train_test_split(
    X, y, test_size=0.2, stratify=y, random_state=0
)
model = LGBMClassifier(
    n_estimators=40, learning_rate=0.1, num_leaves=15, random_state=0, verbose=-1
)
model.fit(X_train, y_train)
proba = model.predict_proba(X_val)
print(f"proba shape: {proba.shape}")
print(f"log loss: {log_loss(y_val, proba):.6f}")
print(f"roc auc: {roc_auc_score(y_val, proba[:, 1]):.6f}")
print(f"mean predicted probability: {proba[:, 1].mean():.6f}")
"""

_CROSS_VAL_SCORE_RF = """\
X = to_numeric_matrix(X)
model = RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0)
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
scores = cross_val_score(model, X, y, cv=cv, scoring="roc_auc")
for fold, score in enumerate(scores):
    print(f"fold {fold}: auc={score:.6f}")
print(f"mean auc: {scores.mean():.6f} (std {scores.std():.6f})")
"""

_CROSS_VALIDATE_HGB = """\
X = to_numeric_matrix(X)
model = HistGradientBoostingRegressor(max_iter=30, learning_rate=0.1, random_state=0)
cv = KFold(n_splits=3, shuffle=True, random_state=0)
results = cross_validate(
    model,
    X,
    y,
    cv=cv,
    scoring=["neg_root_mean_squared_error", "r2"],
    return_train_score=True,
)
for key in sorted(k for k in results if "_time" not in k):
    values = ", ".join(f"{v:.6f}" for v in results[key])
    print(f"{key}: [{values}]")
rmse = -results["test_neg_root_mean_squared_error"]
print(f"mean validation rmse: {rmse.mean():.6f}")
"""

_HOLDOUT_LOGREG_SCORE = """\
X_train, X_val, y_train, y_val = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
clf = Pipeline(
    [("prep", make_preprocessor(X)), ("model", LogisticRegression(C=1.0, max_iter=500))]
)
clf.fit(X_train, y_train)
print(f"train accuracy: {clf.score(X_train, y_train):.6f}")
print(f"validation accuracy: {clf.score(X_val, y_val):.6f}")
"""

_FIT_TRANSFORM_RIDGE = """\
cat_cols = list(X.select_dtypes("category").columns)
num_cols = [c for c in X.columns if c not in cat_cols]
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, random_state=0)

imputer = SimpleImputer(strategy="median")
scaler = StandardScaler()
num_train = scaler.fit_transform(imputer.fit_transform(X_train[num_cols]))
num_val = scaler.transform(imputer.transform(X_val[num_cols]))

encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
cat_train = encoder.fit_transform(X_train[cat_cols].astype(str))
cat_val = encoder.transform(X_val[cat_cols].astype(str))
print(f"numeric block {num_train.shape}, one-hot block {cat_train.shape}")

model = Ridge(alpha=1.0)
model.fit(np.hstack([num_train, cat_train]), y_train)
pred = model.predict(np.hstack([num_val, cat_val]))
print(f"validation rmse: {np.sqrt(mean_squared_error(y_val, pred)):.6f}")
"""

_CRASH_AFTER_FOLD = """\
kf = KFold(n_splits=3, shuffle=True, random_state=0)
for fold, (train_idx, val_idx) in enumerate(kf.split(X, y)):
    X_train, X_val = X.iloc[train_idx], X.iloc[val_idx]
    y_train, y_val = y.iloc[train_idx], y.iloc[val_idx]
    model = LGBMRegressor(n_estimators=30, random_state=0, verbose=-1)
    model.fit(X_train, y_train)
    pred = model.predict(X_val)
    rmse = np.sqrt(mean_squared_error(y_val, pred))
    print(f"fold {fold}: rmse={rmse:.6f}")
    # error analysis: are the large houses harder to price?
    large = (X_val["flor_area"] > X_val["floor_area"].median()).to_numpy()
    rmse_large = np.sqrt(mean_squared_error(y_val[large], pred[large]))
    print(f"fold {fold}: large-house rmse={rmse_large:.6f}")
print("done")
"""

_CUSTOM_TRANSFORMER = """\


class FeatureScaler(BaseEstimator, TransformerMixin):
    def __init__(self, columns=None, log_columns=()):
        self.columns = columns
        self.log_columns = log_columns

    def _select(self, X):
        Z = X[self.columns_].astype(float)
        for col in self.log_columns:
            Z[col] = np.log1p(Z[col])
        return Z

    def fit(self, X, y=None):
        print(f"FeatureScaler.fit on {len(X)} rows")
        self.columns_ = list(X.columns) if self.columns is None else list(self.columns)
        Z = self._select(X)
        self.mean_ = Z.mean()
        self.std_ = Z.std().replace(0.0, 1.0)
        return self

    def transform(self, X):
        return ((self._select(X) - self.mean_) / self.std_).fillna(0.0).to_numpy()
"""

_CUSTOM_TRANSFORMER_BODY = """\
num_cols = [c for c in X.columns if c not in CAT_COLS + ["postcode_area"]]
kf = KFold(n_splits=3, shuffle=True, random_state=0)
scores = []
for fold, (train_idx, val_idx) in enumerate(kf.split(X, y)):
    X_train, X_val = X.iloc[train_idx], X.iloc[val_idx]
    y_train, y_val = y.iloc[train_idx], y.iloc[val_idx]
    model = Pipeline(
        [
            ("scale", FeatureScaler(columns=num_cols, log_columns=("town_count",))),
            ("model", Ridge(alpha=1.0)),
        ]
    )
    model.fit(X_train, y_train)
    rmse = np.sqrt(mean_squared_error(y_val, model.predict(X_val)))
    scores.append(rmse)
    print(f"fold {fold}: rmse={rmse:.6f}")
print(f"mean rmse: {np.mean(scores):.6f}")
"""

_UNSEEDED_RF = """\
X = to_numeric_matrix(X)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, random_state=0)
# no random_state: the forest differs between runs, so print only what does not
model = RandomForestRegressor(n_estimators=20, max_depth=10)
model.fit(X_train, y_train)
pred = model.predict(X_val)
print(f"trees: {len(model.estimators_)}")
print(f"features seen: {model.n_features_in_}")
print(f"prediction shape: {pred.shape}")
print(f"all finite: {bool(np.isfinite(pred).all())}")
"""

_MUTATE_AFTER_FIT = """\
X = to_numeric_matrix(X)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, random_state=0)
model = LGBMRegressor(n_estimators=30, random_state=0, verbose=-1)
model.fit(X_train, y_train)
pred_before = model.predict(X_val)
print(f"mean prediction: {pred_before.mean():.6f}")

# ablation: what if we did not know the floor area?
X_train.loc[:, "floor_area"] = 0
X_train.loc[:, "log_floor_area"] = 0
model.fit(X_train, y_train)
pred_after = model.predict(X_val)
print(f"mean prediction without floor area: {pred_after.mean():.6f}")
print(f"mean absolute change: {np.abs(pred_after - pred_before).mean():.6f}")
"""

_RERUN_TAIL = """\
print(f"best fold: {int(np.argmin(scores))}, worst fold: {int(np.argmax(scores))}")
"""


def suite_scripts(data_path: str) -> dict[str, str]:
    """Small AIDE-style scripts for the test suite.

    Parameters
    ----------
    data_path : str
        Path of the CSV written by :func:`write_dataset` (baked into the text).

    Returns
    -------
    dict of str to str
        Script name (a valid file stem) -> complete Python source. At ~1,500
        rows each script fits in well under a second. ``crash_after_fold``
        exits 1 with a ``KeyError`` traceback after printing its first fold;
        every other script exits 0.
    """
    p = data_path
    lgbm_imp = "from lightgbm import LGBMClassifier, LGBMRegressor\n"
    reg = _REG_IMPORTS
    clf = _CLF_IMPORTS

    def kfold_lgbm_clf(lr: float) -> str:
        return _script(
            f"LightGBM classifier, StratifiedKFold, learning_rate={lr}",
            p,
            lgbm_imp + clf,
            _CLF_TARGET + _KFOLD_CLF,
            prep="",
            folds=3,
            model=_lgbm("Classifier", n_estimators=30, learning_rate=lr),
        )

    def kfold_lgbm_reg(n: int, tail: str = "", title: str = "") -> str:
        return _script(
            title or f"LightGBM regressor on log price, KFold, n_estimators={n}",
            p,
            lgbm_imp + reg,
            _REG_TARGET + _KFOLD_REG + tail,
            prep="",
            folds=3,
            model=_lgbm("Regressor", n_estimators=n, learning_rate=0.1),
        )

    pipe_ridge = _script(
        "Ridge in a Pipeline/ColumnTransformer, manual KFold loop",
        p,
        "from sklearn.linear_model import Ridge\n" + reg + _PREPROCESS_IMPORTS,
        _REG_TARGET + _KFOLD_REG,
        helpers=_PREPROCESS,
        prep="",
        folds=3,
        model='Pipeline([("prep", make_preprocessor(X)), ("model", Ridge(alpha=1.0))])',
    )

    scripts = {
        "kfold_lgbm_clf": kfold_lgbm_clf(0.1),
        "kfold_lgbm_clf_lr005": kfold_lgbm_clf(0.05),
        "kfold_lgbm_reg_n40": kfold_lgbm_reg(40),
        "kfold_lgbm_reg_n20": kfold_lgbm_reg(20),
        "kfold_lgbm_reg_n40_rerun": kfold_lgbm_reg(
            40,
            _RERUN_TAIL,
            "re-run of kfold_lgbm_reg_n40 (same model), extra summary line",
        ),
        "holdout_xgb_clf_proba": _script(
            "XGBoost classifier, train_test_split hold-out, log loss and AUC",
            p,
            "from sklearn.metrics import log_loss, roc_auc_score\n"
            "from sklearn.model_selection import train_test_split\n"
            "from xgboost import XGBClassifier\n",
            _CLF_TARGET + _HOLDOUT_XGB_PROBA,
        ),
        "kfold_xgb_reg": _script(
            "XGBoost regressor on category codes, KFold",
            p,
            "from xgboost import XGBRegressor\n" + reg,
            _REG_TARGET + _KFOLD_REG,
            helpers=_TO_NUMERIC,
            prep="X = to_numeric_matrix(X)\n",
            folds=3,
            model="XGBRegressor(n_estimators=30, max_depth=5, learning_rate=0.1, "
            'tree_method="hist", n_jobs=1, random_state=0)',
        ),
        "kfold_pipeline_ridge": pipe_ridge,
        "gridsearch_pipeline_ridge": _script(
            "GridSearchCV over the kfold_pipeline_ridge Pipeline, same KFold",
            p,
            "from sklearn.linear_model import Ridge\n"
            "from sklearn.model_selection import GridSearchCV, KFold\n"
            + _PREPROCESS_IMPORTS,
            _REG_TARGET + _GRIDSEARCH_RIDGE,
            helpers=_PREPROCESS,
        ),
        "cross_val_score_rf_clf": _script(
            "cross_val_score of a seeded RandomForestClassifier",
            p,
            "from sklearn.ensemble import RandomForestClassifier\n"
            "from sklearn.model_selection import StratifiedKFold, cross_val_score\n",
            _CLF_TARGET + _CROSS_VAL_SCORE_RF,
            helpers=_TO_NUMERIC,
        ),
        "cross_validate_hgb_reg": _script(
            "cross_validate of a seeded HistGradientBoostingRegressor",
            p,
            "from sklearn.ensemble import HistGradientBoostingRegressor\n"
            "from sklearn.model_selection import KFold, cross_validate\n",
            _REG_TARGET + _CROSS_VALIDATE_HGB,
            helpers=_TO_NUMERIC,
        ),
        "kfold_hgb_clf": _script(
            "HistGradientBoostingClassifier, StratifiedKFold",
            p,
            "from sklearn.ensemble import HistGradientBoostingClassifier\n" + clf,
            _CLF_TARGET + _KFOLD_CLF,
            helpers=_TO_NUMERIC,
            prep="X = to_numeric_matrix(X)\n",
            folds=3,
            model="HistGradientBoostingClassifier(max_iter=30, random_state=0)",
        ),
        "holdout_lgbm_clf_proba": _script(
            "LightGBM classifier hold-out, predict_proba, log loss and AUC",
            p,
            "from lightgbm import LGBMClassifier\n"
            "from sklearn.metrics import log_loss, roc_auc_score\n"
            "from sklearn.model_selection import train_test_split\n",
            _CLF_TARGET + _HOLDOUT_LGBM_PROBA,
        ),
        "holdout_logreg_score": _script(
            "LogisticRegression Pipeline, hold-out, .score",
            p,
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.model_selection import train_test_split\n"
            + _PREPROCESS_IMPORTS,
            _CLF_TARGET + _HOLDOUT_LOGREG_SCORE,
            helpers=_PREPROCESS,
        ),
        "fit_transform_ridge": _script(
            "fit_transform on imputer/scaler/encoder directly, then Ridge",
            p,
            "from sklearn.impute import SimpleImputer\n"
            "from sklearn.linear_model import Ridge\n"
            "from sklearn.metrics import mean_squared_error\n"
            "from sklearn.model_selection import train_test_split\n"
            "from sklearn.preprocessing import OneHotEncoder, StandardScaler\n",
            _REG_TARGET + _FIT_TRANSFORM_RIDGE,
        ),
        "crash_after_fold": _script(
            "KFold loop that crashes (KeyError, misspelled column) after fold 0",
            p,
            lgbm_imp + reg,
            _REG_TARGET + _CRASH_AFTER_FOLD,
        ),
        "custom_transformer_prints": _script(
            "user-defined transformer whose fit prints, in a KFold loop",
            p,
            "from sklearn.base import BaseEstimator, TransformerMixin\n"
            "from sklearn.linear_model import Ridge\n"
            "from sklearn.pipeline import Pipeline\n" + reg,
            _REG_TARGET + _CUSTOM_TRANSFORMER_BODY,
            helpers=_CUSTOM_TRANSFORMER,
        ),
        "unseeded_rf_shapes": _script(
            "RandomForestRegressor without random_state, prints only shapes",
            p,
            "from sklearn.ensemble import RandomForestRegressor\n"
            "from sklearn.model_selection import train_test_split\n",
            _REG_TARGET + _UNSEEDED_RF,
            helpers=_TO_NUMERIC,
        ),
        "mutate_after_fit": _script(
            "mutates X_train after fitting, refits, prints both mean predictions",
            p,
            "from lightgbm import LGBMRegressor\n"
            "from sklearn.model_selection import train_test_split\n",
            _REG_TARGET + _MUTATE_AFTER_FIT,
            helpers=_TO_NUMERIC,
        ),
    }
    return scripts


# ---------------------------------------------------------------------------
# W5: an AIDE tree improving a log-price regression, 5-fold CV each node
# ---------------------------------------------------------------------------

_W5_KFOLD = """\
$prep
kf = KFold(n_splits=5, shuffle=True, random_state=0)
fold_rmse = []
oof = np.zeros(len(X))
for fold, (train_idx, val_idx) in enumerate(kf.split(X, y)):
    X_train, X_val = X.iloc[train_idx], X.iloc[val_idx]
    y_train, y_val = y.iloc[train_idx], y.iloc[val_idx]
    model = $model
    model.fit(X_train, y_train)
    oof[val_idx] = model.predict(X_val)
    fold_rmse.append(np.sqrt(mean_squared_error(y_val, oof[val_idx])))
"""

_W5_REPORT = """\
for fold, rmse in enumerate(fold_rmse):
    print(f"Fold {fold + 1} RMSE: {rmse:.6f}")
print(f"Mean CV RMSE: {np.mean(fold_rmse):.6f}")
"""

# The "debug" node re-runs its parent unchanged and only reports differently.
_W5_DEBUG_REPORT = """\
print(f"Per-fold RMSE: {', '.join(f'{r:.6f}' for r in fold_rmse)}")
print(f"Mean CV RMSE: {np.mean(fold_rmse):.6f} (std {np.std(fold_rmse):.6f})")
print(f"OOF RMSE: {np.sqrt(mean_squared_error(y, oof)):.6f}")
residual = y - oof
print(f"OOF residual mean: {residual.mean():.6f}, max abs: {residual.abs().max():.6f}")
"""

# The "submission" node: same CV, then a final fit on all rows.
_W5_SUBMISSION = """\
final_model = $model
final_model.fit(X, y)
final_pred = final_model.predict(X)
print(f"Final model trained on {len(X)} rows")
print(f"Mean predicted log price: {final_pred.mean():.6f}")
print(f"Mean predicted price: {np.expm1(final_pred).mean():.2f}")
"""


def w5_scripts(data_path: str) -> dict[str, str]:
    """The 12 scripts of the W5 benchmark: an AIDE tree on log price.

    Parameters
    ----------
    data_path : str
        Path of the CSV written by :func:`write_dataset` (baked into the text).

    Returns
    -------
    dict of str to str
        Script name -> complete Python source, in the order an agent would
        have written them: a draft, improvements and sibling variants that
        differ in one parameter (``learning_rate``, ``num_leaves``,
        ``min_child_samples``, ``n_estimators`` 600 then 300), a Ridge and a
        HistGradientBoosting node, a debug node that re-runs its parent
        unchanged, and a submission node that re-runs the best LightGBM
        configuration (``w5_03``) and fits it on all rows. Each prints per-fold
        and mean 5-fold RMSE.
    """
    p = data_path
    reg = "from sklearn.metrics import mean_squared_error\n"
    reg += "from sklearn.model_selection import KFold\n"
    lgbm_imp = "from lightgbm import LGBMRegressor\n"

    def lgbm(**params: object) -> str:
        return _lgbm("Regressor", **params)

    def lgbm_node(title: str, model: str, report: str = _W5_REPORT) -> str:
        return _script(
            title,
            p,
            lgbm_imp + reg,
            _REG_TARGET + _W5_KFOLD + report,
            prep="",
            model=model,
        )

    draft = lgbm(n_estimators=300, learning_rate=0.1)
    n600 = lgbm(n_estimators=600, learning_rate=0.05, num_leaves=31)
    n300 = lgbm(n_estimators=300, learning_rate=0.05, num_leaves=31)
    mcs50 = lgbm(
        n_estimators=600, learning_rate=0.05, num_leaves=63, min_child_samples=50
    )
    ridge = 'Pipeline([("prep", make_preprocessor(X)), ("model", Ridge(alpha=1.0))])'
    submission_tail = Template(_W5_SUBMISSION).substitute(model=n300)

    return {
        "w5_00_draft_lgbm": lgbm_node("draft: LightGBM, 300 trees", draft),
        "w5_01_draft_ridge": _script(
            "draft: Ridge on one-hot + scaled features",
            p,
            "from sklearn.linear_model import Ridge\n" + reg + _PREPROCESS_IMPORTS,
            _REG_TARGET + _W5_KFOLD + _W5_REPORT,
            helpers=_PREPROCESS,
            prep="",
            model=ridge,
        ),
        "w5_02_lgbm_lr005_n600": lgbm_node(
            "improve draft: lower learning_rate, more trees", n600
        ),
        "w5_03_lgbm_lr005_n300": lgbm_node("sibling: n_estimators 300", n300),
        "w5_04_lgbm_lr01_n600": lgbm_node(
            "sibling: learning_rate 0.1",
            lgbm(n_estimators=600, learning_rate=0.1, num_leaves=31),
        ),
        "w5_05_lgbm_leaves63": lgbm_node(
            "improve: num_leaves 63",
            lgbm(n_estimators=600, learning_rate=0.05, num_leaves=63),
        ),
        "w5_06_lgbm_leaves15": lgbm_node(
            "sibling: num_leaves 15",
            lgbm(n_estimators=600, learning_rate=0.05, num_leaves=15),
        ),
        "w5_07_debug_leaves63": lgbm_node(
            "debug: re-run w5_05 unchanged, print OOF diagnostics",
            lgbm(n_estimators=600, learning_rate=0.05, num_leaves=63),
            _W5_DEBUG_REPORT,
        ),
        "w5_08_lgbm_leaves63_mcs50": lgbm_node("improve: min_child_samples 50", mcs50),
        "w5_09_lgbm_leaves63_mcs100": lgbm_node(
            "sibling: min_child_samples 100",
            lgbm(
                n_estimators=600,
                learning_rate=0.05,
                num_leaves=63,
                min_child_samples=100,
            ),
        ),
        "w5_10_hgb": _script(
            "alternative: HistGradientBoostingRegressor",
            p,
            "from sklearn.ensemble import HistGradientBoostingRegressor\n" + reg,
            _REG_TARGET + _W5_KFOLD + _W5_REPORT,
            helpers=_TO_NUMERIC,
            prep="X = to_numeric_matrix(X)\n",
            model="HistGradientBoostingRegressor(max_iter=300, random_state=0)",
        ),
        "w5_11_submission": lgbm_node(
            "submission: re-run the best LightGBM config (w5_03), fit on all rows",
            n300,
            _W5_REPORT + submission_tail,
        ),
    }
