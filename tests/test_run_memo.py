"""``stratum run`` on AIDE-style scripts (plain pandas, scikit-learn,
LightGBM, XGBoost; ``stratum.bench.aide``): every script prints exactly what
``python SCRIPT`` prints, byte for byte, while their estimator calls are
memoized across scripts, across runs (``cache_dir``) and while they run side
by side (``jobs``)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import types
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from stratum.agents import explain, run_scripts
from stratum.bench import aide
from stratum.cli import main

ROWS = 1_000


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
    cache, out = root / "memo", root / "out"
    first = run_scripts(paths, cache_dir=cache, jobs=2)
    # The second run, on the first's memo, through the command line.
    argv = ["run", *paths, "--quiet", "--explain", "-j", "2"]
    argv += ["--cache-dir", str(cache), "--out", str(out)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(argv)
    summary = json.loads((out / "summary.json").read_text())
    second = [
        types.SimpleNamespace(
            name=row["name"],
            exit_code=row["exit_code"],
            stdout=(out / row["name"] / "stdout").read_text(),
            stderr=(out / row["name"] / "stderr").read_text(),
            memo=row["memo"],
        )
        for row in summary
    ]
    return {
        "paths": paths,
        "plain": plain,
        "runs": (first, second),
        "cli": (code, printed.getvalue()),
    }


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
        assert r.memo["computed"] == 0, (r.name, r.memo["lines"])
    assert sum(r.memo["reused"] for r in second) >= reused
    code, printed = suite["cli"]
    assert code == 1  # the crashing script
    assert "from an earlier run" in printed
    assert "RandomForestRegressor.random_state=None (unseeded randomness)" in printed


def test_a_search_and_a_kfold_loop_fit_the_column_transformer_once(suite):
    first = {r.name: r for r in suite["runs"][0]}
    pair = [first["gridsearch_pipeline_ridge"], first["kfold_pipeline_ridge"]]
    label = "ColumnTransformer.fit_transform"
    # 3 folds, shared, and the search's refit on every row.
    assert sum(r.memo.computed[label] for r in pair) == 4
    assert sum(r.memo.reused[label] for r in pair) == 3


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
