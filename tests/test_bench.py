"""The benchmark's own machinery: workloads, scripts, engines, cross-check.

Fast (a few processes on tiny tables); the full smoke test of every engine is
``stratum bench all --quick`` (run by CI).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from stratum.bench import pipelines as P
from stratum.bench.crosscheck import check_scores
from stratum.bench.data import make_house_prices, make_reviews
from stratum.bench.engines import child_env, run_engine
from stratum.bench.machine import machine
from stratum.bench.procs import Job, run_jobs
from stratum.bench.scripts import parse_output, script_text
from stratum.bench.summary import summarize
from stratum.bench.tables import format_table, markdown_report


def _configs(**overrides):
    return {
        name: P.workload_config(name, quick=True, **overrides.get(name, {}))
        for name in ("W1", "W2", "W3", "W4")
    }


def test_workload_defaults_match_the_issue():
    w1 = P.workload_config("W1")
    assert (w1["rows"], w1["cv"], w1["scoring"], w1["n_stages"]) == (
        100_000,
        3,
        "r2",
        2,
    )
    specs = P.stage_specs(w1, 0)
    assert len(specs) == 8  # 2 preprocessings x 4 models
    assert {s["kwargs"]["model"] for s in specs} == {
        "ridge",
        "elasticnet",
        "lightgbm",
        "xgboost",
    }
    w2 = P.workload_config("W2")
    assert 50 <= w2["pipelines"] <= 200 and w2["cv"] == 5
    w3 = P.workload_config("W3")
    assert w3["cv"] == 5
    grid = P.W3_GRIDS["full"]
    n_models = (
        len(grid["alpha"])
        + len(grid["lgbm_lr"]) * len(grid["num_leaves"])
        + (len(grid["xgb_lr"]) * len(grid["max_depth"]))
    )
    assert len(grid["encoders"]) * n_models >= 60
    w4 = P.workload_config("W4")
    assert (w4["rows"], w4["cv"], w4["scoring"], w4["n_stages"]) == (
        100_000,
        3,
        "r2",
        1,
    )
    specs = P.stage_specs(w4, 0)
    assert [s["kwargs"]["model"] for s in specs] == ["lightgbm", "xgboost", "hgb"]
    assert all(s["kwargs"]["prep"] == "a" for s in specs)
    assert all(s["kwargs"]["n_estimators"] == [100, 300, 1000] for s in specs)
    quick = P.workload_config("W4", quick=True)
    assert quick["rows"] < 5_000 and max(quick["n_estimators"]) <= 100


def test_w4_tunes_the_boosting_rounds_of_three_seeded_models():
    df = make_house_prices(60, seed=0)
    config = P.workload_config("W4", n_estimators=[10, 30, 100])
    expected = {
        "lightgbm": ("LGBMRegressor", ["learning_rate", "n_estimators", "num_leaves"]),
        "xgboost": ("XGBRegressor", ["learning_rate", "max_depth", "n_estimators"]),
        "hgb": (
            "HistGradientBoostingRegressor",
            ["learning_rate", "max_iter", "max_leaf_nodes"],
        ),
    }
    for spec in P.stage_specs(config, 0):
        model = spec["kwargs"]["model"]
        cls, names = expected[model]
        pred = P.build(spec["builder"], df, spec["kwargs"])
        assert pred.skb.describe_steps().strip().endswith(f"Apply {cls}")
        grid = pred.skb.describe_param_grid()
        lines = [line.strip(" -") for line in grid.splitlines() if line.strip()]
        assert sorted(line.split(":")[0] for line in lines) == names
        assert "[10, 30, 100]" in grid  # x 2 x 2: 12 configurations
        assert P._w4_model(model, {}).get_params()["random_state"] == 0
    assert P._w4_model("hgb", {}).early_stopping is False
    assert P._w4_model("lightgbm", {}).n_jobs == P._w4_model("xgboost", {}).n_jobs == 1


def test_every_pipeline_builds():
    houses, reviews = make_house_prices(60, seed=0), make_reviews(60, seed=0)
    w1 = P.workload_config("W1")
    for spec in P.stage_specs(w1, 0):
        P.build(spec["builder"], houses, spec["kwargs"])
    for model in P.W1_MODELS:
        scores = {f"a_{m}": [0.5] for m in P.W1_MODELS} | {f"b_{model}": [0.9]}
        first = {"specs": P.stage_specs(w1, 0), "scores": scores}
        (spec,) = P.stage_specs(w1, 1, [first])
        assert spec["kwargs"] == {"prep": "b", "model": model}
        P.build(spec["builder"], houses, spec["kwargs"])
    for spec in P.stage_specs(P.workload_config("W2", pipelines=30), 0):
        P.build(spec["builder"], reviews, spec["kwargs"])
    for grid in P.W3_GRIDS:
        P.build("w3_pipeline", houses, {"grid": grid})
    for spec in P.stage_specs(P.workload_config("W4"), 0):
        P.build(spec["builder"], houses, spec["kwargs"])


def test_agent_tree_is_deterministic_distinct_and_refines_every_draft():
    tree = P.agent_tree(60, seed=0)
    assert tree == P.agent_tree(60, seed=0)
    assert tree != P.agent_tree(60, seed=1)
    assert len(tree) == 60
    keys = {
        json.dumps(
            {k: n[k] for k in ("draft", "extras", "model", "params")}, sort_keys=True
        )
        for n in tree
    }
    assert len(keys) == 60
    assert len({n["name"] for n in tree}) == 60
    for draft in P.W2_DRAFTS:
        assert sum(n["draft"] == draft for n in tree) > 3
    assert {n["model"] for n in tree} == set(P.W2_MODEL_GRIDS)
    assert any(n["extras"] for n in tree)


def test_select_best_takes_the_first_of_ties():
    assert P.select_best({"a": [0.1], "b": [0.3], "c": [0.3]}) == "b"
    assert P.select_best({"a": [np.nan], "b": [0.2]}) == "b"


def test_script_round_trip_is_plain_skrub_and_matches_in_process(tmp_path):
    config = P.workload_config("W1", quick=True, rows=200)
    spec = P.stage_specs(config, 0)[0]
    path = tmp_path / "script.py"
    path.write_text(script_text(config, "stage1", spec))
    compile(path.read_text(), str(path), "exec")
    proc = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = parse_output(proc.stdout)
    assert out["name"] == spec["name"]
    assert out["stratum_imported"] is False
    import stratum

    df = make_house_prices(200, seed=0)
    with stratum.config_context(engine="skrub"):
        search = P.build(spec["builder"], df, spec["kwargs"]).skb.make_grid_search(
            cv=config["cv"], scoring=config["scoring"], fitted=True, refit=False
        )
    np.testing.assert_allclose(
        out["scores"], search.cv_results_["mean_test_score"], rtol=1e-12
    )


@pytest.mark.stratum_only
def test_stratum_and_skrub_engines_agree_on_both_w1_stages(tmp_path):
    config = P.workload_config("W1", quick=True, rows=300)
    results = {e: run_engine(e, config, tmp_path) for e in ("skrub", "stratum")}
    for r in results.values():
        assert r["status"] == "ok", r["error"]
        assert [s["name"] for s in r["stages"]] == ["stage1", "stage2"]
    assert check_scores(results) == []
    stratum_run = results["stratum"]
    assert all(s["reuse_bound"] > 0 for s in stratum_run["stages"])
    summary = summarize(config, results)
    table = format_table(summary)
    assert "stratum" in table and "reuse bound" in table
    assert "| engine |" in format_table(summary, markdown=True)


@pytest.mark.stratum_only
def test_stratum_and_skrub_engines_agree_on_w4(tmp_path):
    config = P.workload_config("W4", quick=True, rows=200, cv=2, n_estimators=[2, 4, 8])
    results = {e: run_engine(e, config, tmp_path) for e in ("skrub", "stratum")}
    for r in results.values():
        assert r["status"] == "ok", r["error"]
    assert check_scores(results) == []
    (stage,) = results["stratum"]["stages"]
    assert list(stage["scores"]) == ["tune_lightgbm", "tune_xgboost", "tune_hgb"]
    assert all(len(v) == 12 for v in stage["scores"].values())
    assert all(np.isfinite(v).all() for v in stage["scores"].values())
    summary = summarize(config, results)
    assert summary["stages"] == [
        {"name": "stage1", "pipelines": 3, "configurations": 36}
    ]
    assert all(row["peak_rss"] > 0 for row in summary["rows"])
    assert "MiB" in format_table(summary)


def _fake(engine, scores, status="ok"):
    return {
        "engine": engine,
        "status": status,
        "error": None,
        "total": 2.0,
        "peak_rss": 2**20,
        "stages": [
            {
                "name": "stage1",
                "seconds": 1.0,
                "scores": scores,
                "params": {k: ["{}"] * len(v) for k, v in scores.items()},
            }
        ],
    }


def test_check_scores_reports_every_disagreement():
    same = {"p": [0.5, 0.25]}
    assert (
        check_scores({"skrub": _fake("skrub", same), "stratum": _fake("stratum", same)})
        == []
    )
    problems = check_scores(
        {
            "skrub": _fake("skrub", same),
            "stratum": _fake("stratum", {"p": [0.5, 0.25 + 1e-6]}),
            "base": _fake("base", {"q": [0.5, 0.25]}),
        }
    )
    assert len(problems) == 2
    assert "stratum vs skrub" in problems[0] and "configuration 1" in problems[0]
    assert "different pipelines" in problems[1]
    failed = _fake("skrub", {"p": [np.nan]})
    assert "non-finite" in check_scores({"skrub": failed})[0]
    broken = _fake("stratum", {}, status="error") | {"error": "boom"}
    assert check_scores({"stratum": broken}) == ["stratum failed: boom"]
    # A timeout is reported in the table, not as a disagreement.
    late = _fake("base", {}, status="timeout") | {"stages": []}
    assert check_scores({"skrub": _fake("skrub", same), "base": late}) == []


def test_speedups_and_timeouts_in_the_summary():
    config = P.workload_config("W3", quick=True)
    results = {
        "base": _fake("base", {}, status="timeout") | {"total": 10.0},
        "skrub": _fake("skrub", {"g": [0.1]}) | {"total": 4.0},
        "stratum": _fake("stratum", {"g": [0.1]}) | {"total": 1.0},
    }
    results["stratum"]["stages"][0]["reuse_bound"] = 0.5
    rows = {r["engine"]: r for r in summarize(config, results)["rows"]}
    assert rows["stratum"]["vs_skrub"] == pytest.approx(4.0)
    assert rows["stratum"]["vs_base"] == pytest.approx(10.0)
    assert rows["stratum"]["vs_base_is_lower_bound"]
    assert rows["stratum"]["reuse_bound"] == 0.5
    table = format_table(summarize(config, results))
    assert ">10.00x" in table and "base (timeout)" in table


def test_run_jobs_measures_memory_and_runs_in_parallel(tmp_path):
    code = (
        "import time; b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096]);"
        " time.sleep(0.6)"
    )
    jobs = [
        Job([sys.executable, "-c", code], tmp_path / f"{i}.out", tmp_path / f"{i}.err")
        for i in range(2)
    ]
    report = run_jobs(jobs, parallel=2)
    assert [d.returncode for d in report.done] == [0, 0]
    assert all(d.maxrss >= 80 * 2**20 for d in report.done)
    assert report.seconds < 2 * 0.6 + 1.0  # overlapped
    assert report.peak_rss >= 80 * 2**20
    slow = [
        Job(
            [sys.executable, "-c", "import time; time.sleep(30)"],
            tmp_path / "s.out",
            tmp_path / "s.err",
        )
    ]
    report = run_jobs(slow, timeout=0.5)
    assert report.timed_out and report.seconds < 10


def test_reuse_bound_counts_nested_inline_tasks_once():
    import pandas as pd

    from stratum.bench.inprocess_child import reuse_bound

    stats = pd.DataFrame(
        {
            "how": ["inline", "inline", "scheduled", "scheduled", "inline"],
            "fold": [None, 0, 0, 0, 1],
            "seconds": [0.5, 0.25, 2.0, 1.0, 0.125],
        }
    )
    got = reuse_bound(stats)
    assert got["reuse_bound"] == 3.5  # scheduled + preparation on the full data
    assert got["inline_nested_seconds"] == 0.375
    assert got["n_tasks"] == 5


def test_markdown_report_renders_every_workload():
    config = P.workload_config("W3", quick=True)
    results = {
        "skrub": _fake("skrub", {"g": [0.1]}),
        "stratum": _fake("stratum", {"g": [0.1]}),
    }
    summary = summarize(config, results) | {"problems": []}
    report = {
        "command": "stratum bench W3 --quick",
        "started": "2026-11-25T00:00:00+00:00",
        "seconds": 3.0,
        "machine": machine(),
        "workloads": [summary],
        "scaling": {
            "workload": "W2",
            "x": "pipelines",
            "points": [{"x": 10, "problems": [], "skrub": 4.0, "stratum": 2.0}],
        },
    }
    text = markdown_report(report)
    assert "### W3 — wide grid" in text and "| stratum |" in text
    assert "| 10 | 4.0 | 2.0 | 2.00x |" in text


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from stratum.bench.plot import plot_report

    config = P.workload_config("W3", quick=True)
    results = {
        "skrub": _fake("skrub", {"g": [0.1]}),
        "stratum": _fake("stratum", {"g": [0.1]}),
    }
    results["stratum"]["stages"][0]["reuse_bound"] = 0.5
    summary = summarize(config, results)
    scaling = {
        "workload": "W2",
        "x": "pipelines",
        "points": [
            {"x": 10, "skrub": 4.0, "stratum": 2.0},
            {"x": 20, "skrub": 8.0, "stratum": 3.0},
        ],
    }
    path = tmp_path / "bench.png"
    plot_report({"workloads": [summary], "scaling": scaling}, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
