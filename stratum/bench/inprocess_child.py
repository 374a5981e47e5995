"""Run every stage of one workload in this process, with one engine.

The child process of the in-process engines (``skrub``, ``skrub_par``,
``stratum``, ``stratum_par``), started by the benchmark harness as
``python path/to/inprocess_child.py CONFIG OUT``
(by file path, not ``-m``): for the ``skrub`` engines this process never
imports ``stratum``, so skrub is plain skrub, unpatched. The pipelines and the
data come from ``pipelines.py`` and ``data.py`` next to this file, loaded by
path. CONFIG is a JSON file: the workload configuration
(``pipelines.workload_config``) plus ``engine`` ("skrub" or "stratum") and
``n_jobs`` (skrub's). OUT receives the results as JSON: per stage, its
pipelines, their scores (in candidate order), the stage's wall time (building
the DataOps included) and, for stratum, the reuse bound.
"""

import time

_T0 = time.perf_counter()

import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

_HERE = Path(__file__).resolve().parent


def load_module(name: str, path):
    """Import a file as module ``name`` (no package, no parent import)."""
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def reuse_bound(stats) -> dict:
    """The time the deduplicated task set alone took: the sum of the times of
    the unique tasks that were computed.

    Scheduled tasks are timed whole; "inline" ones are computed while
    something else runs: on the full data while the batch is prepared (no
    fold: counted), or per fold inside a scheduled task, e.g. a model's
    predictions inside its score task (already in that task's time: not
    counted again).
    """
    how, seconds = stats["how"], stats["seconds"]
    scheduled = float(seconds[how == "scheduled"].sum())
    inline_prep = float(seconds[(how == "inline") & stats["fold"].isna()].sum())
    inline_nested = float(seconds[(how == "inline") & stats["fold"].notna()].sum())
    return {
        "reuse_bound": scheduled + inline_prep,
        "scheduled_seconds": scheduled,
        "inline_prep_seconds": inline_prep,
        "inline_nested_seconds": inline_nested,
        "n_tasks": int(how.isin(["scheduled", "inline"]).sum()),
    }


def _scores(cv_results) -> dict:
    return {
        "scores": [float(v) for v in cv_results["mean_test_score"]],
        "params": [repr(p) for p in cv_results["params"]],
    }


def run_stage(engine: str, specs: list, df, config: dict, pipelines) -> dict:
    start = time.perf_counter()
    out = {"specs": specs, "scores": {}, "params": {}}
    if engine == "stratum":
        import stratum

        batch = {
            s["name"]: pipelines.build(s["builder"], df, s["kwargs"]) for s in specs
        }
        build_seconds = time.perf_counter() - start
        res = stratum.search(
            batch,
            cv=config["cv"],
            scoring=config["scoring"],
            refit=False,
            n_jobs=config.get("n_jobs", 1),
        )
        for name in batch:
            got = _scores(res.searches_[name].cv_results_)
            out["scores"][name], out["params"][name] = got["scores"], got["params"]
        out.update(reuse_bound(res.stats_))
        out["explain"] = res.explain()
        errors = res.results_[res.results_["status"] != "ok"]
        out["errors"] = [str(e) for e in errors["error"].tolist()]
    else:
        build_seconds = 0.0
        for s in specs:
            t = time.perf_counter()
            pred = pipelines.build(s["builder"], df, s["kwargs"])
            build_seconds += time.perf_counter() - t
            search = pred.skb.make_grid_search(
                cv=config["cv"],
                scoring=config["scoring"],
                fitted=True,
                refit=False,
                n_jobs=config.get("n_jobs", 1),
            )
            got = _scores(search.cv_results_)
            out["scores"][s["name"]], out["params"][s["name"]] = (
                got["scores"],
                got["params"],
            )
        out["errors"] = []
    out["seconds"] = time.perf_counter() - start
    out["build_seconds"] = build_seconds
    return out


def main(config_path: str, out_path: str) -> None:
    warnings.filterwarnings("ignore")
    config = json.loads(Path(config_path).read_text())
    engine = config["engine"]
    if engine == "stratum":
        import stratum  # noqa: F401  (its import time counts as the engine's)
    pipelines = load_module("stratum_bench_pipelines", _HERE / "pipelines.py")
    data = load_module("stratum_bench_data", _HERE / "data.py")
    if engine != "stratum" and config.get("n_jobs", 1) != 1:
        # joblib's workers cannot import a module loaded by path: ship the
        # pipeline functions by value.
        try:
            import cloudpickle  # what joblib's loky uses (joblib >= 1.5)
        except ImportError:  # pragma: no cover - older joblib vendors it
            from joblib.externals import cloudpickle

        cloudpickle.register_pickle_by_value(pipelines)
    imported = time.perf_counter()
    df = pipelines.load_data(config, data)
    loaded = time.perf_counter()
    stages = []
    for index in range(config["n_stages"]):
        specs = pipelines.stage_specs(config, index, stages)
        stages.append(run_stage(engine, specs, df, config, pipelines))
    result = {
        "engine": engine,
        "n_jobs": config.get("n_jobs", 1),
        "import_seconds": imported - _T0,
        "data_seconds": loaded - imported,
        "stages": stages,
        "stratum_imported": "stratum" in sys.modules,
    }
    Path(out_path).write_text(json.dumps(result))


if __name__ == "__main__":
    # Run by path: keep this directory off sys.path (its module names are
    # generic) and import stratum, when asked for, from PYTHONPATH.
    if sys.path and Path(sys.path[0] or ".").resolve() == _HERE:
        sys.path.pop(0)
    main(sys.argv[1], sys.argv[2])
