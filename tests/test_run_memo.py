"""``stratum run`` on AIDE-style scripts (plain pandas, scikit-learn,
LightGBM, XGBoost; ``stratum.bench.aide``): every script prints exactly what
``python SCRIPT`` prints, byte for byte, while their estimator calls are
memoized across scripts, across runs (``cache_dir``) and while they run side
by side (``jobs``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from stratum.agents import explain, run_scripts
from stratum.bench import aide

ROWS = 1_500


def _plain(path: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the scripts cannot even import stratum
    return subprocess.run(
        [sys.executable, os.path.basename(path)],
        cwd=os.path.dirname(path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _write(folder, scripts: dict) -> list[str]:
    folder.mkdir(exist_ok=True)
    paths = []
    for name, text in scripts.items():
        path = folder / f"{name}.py"
        path.write_text(text)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    root = tmp_path_factory.mktemp("aide")
    data = aide.write_dataset(root, ROWS, seed=0)
    paths = _write(root / "scripts", aide.suite_scripts(data))
    with ThreadPoolExecutor(2) as pool:
        plain = dict(zip(paths, pool.map(_plain, paths)))
    cache = root / "memo"
    first = run_scripts(paths, cache_dir=cache, jobs=2)
    second = run_scripts(paths, cache_dir=cache, jobs=1)
    return {"paths": paths, "plain": plain, "runs": (first, second)}


def test_suite_covers_what_agents_write(suite):
    assert len(suite["paths"]) >= 15
    texts = [open(p).read() for p in suite["paths"]]
    for needle in (
        "KFold",
        "train_test_split",
        "LGBMClassifier",
        "LGBMRegressor",
        "XGB",
        "RandomForest",
        "GridSearchCV",
        "cross_val_score",
        "def add_features",
    ):
        assert any(needle in t for t in texts), needle
    codes = Counter(r.returncode for r in suite["plain"].values())
    assert codes[1] == 1 and codes[0] == len(suite["paths"]) - 1, codes


@pytest.mark.parametrize("run", [0, 1], ids=["first run", "second run"])
def test_output_is_byte_identical_to_python(suite, run):
    for path, result in zip(suite["paths"], suite["runs"][run], strict=True):
        plain = suite["plain"][path]
        assert result.stdout == plain.stdout, result.name
        assert result.stderr == plain.stderr, result.name
        assert result.exit_code == plain.returncode, result.name


def test_scripts_share_fits_and_say_what_was_not_shared(suite):
    first, second = suite["runs"]
    reused = sum(sum(r.memo.reused.values()) for r in first)
    assert reused > 0
    reasons = {why for r in first for (_, why) in r.memo.not_shared}
    assert any("random_state=None" in why for why in reasons), reasons
    text = explain(first)
    assert "reused" in text and "not shared" in text
    # The second run computes only what may not be shared.
    for r in second:
        assert not r.memo.computed, (r.name, dict(r.memo.computed))
    assert sum(sum(r.memo.reused.values()) for r in second) >= reused


GRID = """
from sklearn.model_selection import GridSearchCV
search = GridSearchCV(pipe, {"model__alpha": [1.0, 10.0]}, cv=folds, scoring="r2")
print(search.fit(X, y).cv_results_["mean_test_score"].round(10).tolist())
"""
LOOP = """
scores = []
for train, test in folds.split(X, y):
    model = clone(pipe).fit(X.iloc[train], y.iloc[train])
    scores.append(model.score(X.iloc[test], y.iloc[test]))
print(round(float(np.mean(scores)), 10))
"""
PREAMBLE = """
import numpy as np, pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
rng = np.random.default_rng(0)
X = pd.DataFrame({"a": rng.normal(size=600), "c": rng.choice(["x", "ÿ", "z"], 600)})
y = pd.Series(X["a"] * 2 + rng.normal(size=600), name="y")
columns = ColumnTransformer(
    [("num", StandardScaler(), ["a"]), ("cat", OneHotEncoder(), ["c"])]
)
pipe = Pipeline([("columns", columns), ("model", Ridge())])
folds = KFold(3, shuffle=True, random_state=0)
"""


def test_a_search_and_a_kfold_loop_fit_the_column_transformer_once(tmp_path):
    paths = _write(tmp_path, {"grid": PREAMBLE + GRID, "loop": PREAMBLE + LOOP})
    results = run_scripts(paths, jobs=1)
    for path, result in zip(paths, results, strict=True):
        assert result.stdout == _plain(path).stdout
    grid, loop = results
    assert loop.memo.reused["ColumnTransformer.fit_transform"] == 3
    assert loop.memo.origins["grid"] >= 3
    assert "ColumnTransformer.fit_transform" not in loop.memo.computed


SLOW = """
import time
import numpy as np
from sklearn.base import BaseEstimator

class Slow(BaseEstimator):
    def __init__(self, seconds=1.0):
        self.seconds = seconds

    def fit(self, X, y=None):
        time.sleep(self.seconds)
        print("Slow.fit done")
        self.total_ = float(np.sum(X))
        return self

print(Slow(1.5).fit(np.arange(12.0).reshape(4, 3)).total_)
"""


def test_scripts_side_by_side_wait_for_a_fit_in_flight(tmp_path):
    paths = _write(tmp_path, {"one": SLOW, "two": SLOW})
    results = run_scripts(paths, jobs=2)
    assert [r.stdout for r in results] == ["Slow.fit done\n66.0\n"] * 2
    computed = sum(r.memo.computed["Slow.fit"] for r in results)
    reused = sum(r.memo.reused["Slow.fit"] for r in results)
    assert (computed, reused) == (1, 1)
    assert sum(r.memo.waits for r in results) >= 1


def test_cli_run_explain_and_cache_dir(tmp_path, capsys):
    from stratum.cli import main

    script = textwrap.dedent(
        """
        import numpy as np
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.linear_model import Ridge
        X = np.arange(40.0).reshape(20, 2); y = X[:, 0] * 3
        print(Ridge().fit(X, y).predict(X[:2]).round(8).tolist())
        RandomForestRegressor(n_estimators=3).fit(X, y)
        """
    )
    (tmp_path / "s.py").write_text(script)
    argv = ["run", str(tmp_path / "s.py"), "--quiet", "--explain"]
    argv += ["--cache-dir", str(tmp_path / "memo")]
    assert main(argv) == 0
    assert main(argv) == 0
    out = capsys.readouterr().out
    first, second = out.split("s (ok):")[1:]
    assert "computed and stored" in first and "Ridge.fit" in first
    assert "reused 2 call(s) (2 from an earlier run)" in second
    assert "RandomForestRegressor.random_state=None (unseeded randomness)" in second
