"""The README's examples still run and print what the README says."""

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

import stratum
from stratum.agents import run_scripts, summary

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _block_after(marker: str) -> str:
    """The first fenced code block after ``marker`` in the README."""
    rest = README[README.index(marker) :]
    match = re.search(r"```\w*\n(.*?)```", rest, flags=re.S)
    assert match, marker
    return match.group(1)


@pytest.mark.stratum_only
def test_stratum_run_example_prints_the_readme_summary(tmp_path):
    a = _block_after("For example, with `a.py`:")
    call = "print(pred.skb.make_grid_search(cv=5, fitted=True).best_score_)"
    assert call in a
    b = a.replace(call, "print(pred.skb.cross_validate(cv=5))")
    (tmp_path / "a.py").write_text(a)
    (tmp_path / "b.py").write_text(b)
    results = run_scripts([str(tmp_path / "a.py"), str(tmp_path / "b.py")])
    assert [r.status for r in results] == ["ok", "ok"]
    shown = _block_after("then a summary (times vary):")
    # The batch line, less its time: what was shared is deterministic.
    (expected,) = [line for line in shown.splitlines() if line.startswith("batch 1")]
    (got,) = [
        line for line in summary(results).splitlines() if line.startswith("batch 1")
    ]
    untimed = re.compile(r" in [0-9.]+s;")
    assert untimed.sub(";", got) == untimed.sub(";", expected)
    # Each script's own lines, as printed by python (to 1e-10: the last digits
    # of a score may move with the BLAS build).
    (a_line,) = [line for line in shown.splitlines() if line.startswith("[a] ")]
    assert float(a_line[4:]) == pytest.approx(float(results[0].stdout), abs=1e-10)
    assert "[b]    fit_time  score_time  test_score" in shown
    assert results[1].stdout.splitlines()[0].split() == [
        "fit_time",
        "score_time",
        "test_score",
    ]


def test_scikit_learn_example_runs_and_equals_sklearn():
    """The README's scikit-learn example runs as written, and its searches
    equal scikit-learn's own fit."""
    code = _block_after("This runs as is (`house_prices.py`):")
    namespace: dict = {}
    with stratum.config_context(progress=False, reuse=False):
        exec(compile(code, "house_prices.py", "exec"), namespace)
    res, X, y = namespace["res"], namespace["X"], namespace["y"]
    for name in ("ridge", "lgbm"):
        theirs = clone(namespace[{"ridge": "a", "lgbm": "b"}[name]]).fit(X, y)
        ours = res.searches_[name]
        np.testing.assert_array_equal(
            ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"]
        )
        assert ours.best_params_ == theirs.best_params_
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
