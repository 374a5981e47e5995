"""Agent-style batches of pipelines over the generated tables."""

from __future__ import annotations

import numpy as np
import skrub
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, Ridge
from sklearn.preprocessing import StandardScaler


def _prefix(df):
    """What every draft of the agent starts with: load, split, encode, impute, scale."""
    data = skrub.var("houses", df)
    X = data.drop(columns=["price"]).skb.mark_as_X()
    y = data["price"].skb.apply_func(np.log1p).skb.mark_as_y()
    vectorizer = skrub.TableVectorizer(
        high_cardinality=skrub.StringEncoder(n_components=16, random_state=0),
        datetime=skrub.DatetimeEncoder(periodic_encoding=None),
    )
    features = (
        X.skb.apply(vectorizer).skb.apply(SimpleImputer()).skb.apply(StandardScaler())
    )
    return features, y


def house_price_batch(df) -> dict:
    """Eight pipelines, each built separately (as an agent writes them), that
    share the TableVectorizer prefix and differ in the model."""
    models = {
        "ridge_0.1": Ridge(alpha=0.1),
        "ridge_1": Ridge(alpha=1.0),
        "ridge_10": Ridge(alpha=10.0),
        "elasticnet": ElasticNet(alpha=0.01, l1_ratio=0.5, max_iter=2000),
        "ridge_grid": Ridge(
            alpha=skrub.choose_float(0.01, 100, log=True, n_steps=4, name="alpha")
        ),
        "hgb_shallow": HistGradientBoostingRegressor(
            max_depth=3, max_iter=50, random_state=0
        ),
        "hgb_deep": HistGradientBoostingRegressor(
            max_depth=8, max_iter=50, random_state=0
        ),
        "hgb_lr": HistGradientBoostingRegressor(
            learning_rate=skrub.choose_from([0.05, 0.2], name="learning_rate"),
            max_iter=50,
            random_state=0,
        ),
    }
    batch = {}
    for name, model in models.items():
        features, y = _prefix(df)
        batch[name] = features.skb.apply(model, y=y)
    return batch
