"""``content_key``: equal for DataOps describing the same computation."""

from __future__ import annotations

import pickle

import cloudpickle
import numpy as np
import pandas as pd
import skrub
from sklearn.linear_model import Ridge

from stratum.frontend.skrub.identity import content_key


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=n), "c": rng.choice(["é", "東"], n)})
    df["y"] = 2 * df["a"] + rng.normal(size=n)
    return df


def _pipeline(df, alphas=(0.1, 1.0)):
    data = skrub.var("data", df)
    X = data.drop(columns="y").skb.mark_as_X()
    y = data["y"].skb.mark_as_y()
    model = Ridge(alpha=skrub.choose_from(list(alphas), name="alpha"))
    return X.skb.apply(skrub.TableVectorizer()).skb.apply(model, y=y)


def _elsewhere(df):  # built at another place: another creation stack
    return _pipeline(df)


def test_same_computation_same_key():
    df = _frame()
    key = content_key(_pipeline(df))
    assert key is not None
    assert content_key(_elsewhere(df)) == key
    assert content_key(_pipeline(df.copy())) == key  # data by content
    # After a round trip through a pickle shared with another pipeline
    # (shared objects, interned strings) the key does not move.
    both = pickle.loads(cloudpickle.dumps([_pipeline(df), _pipeline(df)]))
    assert content_key(both[0]) == content_key(both[1]) == key


def test_different_computation_different_key():
    df = _frame()
    key = content_key(_pipeline(df))
    assert content_key(_pipeline(df, alphas=(0.1, 2.0))) != key
    changed = df.copy()
    changed.loc[3, "a"] += 1e-9
    assert content_key(_pipeline(changed)) != key
    assert content_key(_pipeline(df.head(39))) != key
    renamed = df.rename(columns={"c": "city"})
    assert content_key(_pipeline(renamed)) != key
