"""The engines of ``stratum bench``: how each runs one workload, in its own
process(es), so that none warms another's caches, and with the same thread
settings, ``THREAD_ENV``.

``base``
    one standalone script per pipeline (``scripts.py``), run one after the
    other, each in a fresh interpreter: interpreter start, imports and data
    loading included, as they are for an agent.
``base_par``
    the same scripts, one per available core at a time.
``skrub``
    all pipelines in one process (``inprocess_child.py``), plain skrub,
    ``n_jobs=1``.
``skrub_par``
    the same with ``make_grid_search(n_jobs=-1)``.
``stratum``
    one process, ``stratum.search`` on each stage's batch (W1's stage 2 in the
    same process as its stage 1), with stratum's defaults.
``stratum_par`` (opt-in, not in the default set)
    the same with ``stratum.search(n_jobs=-1)``.

``run_engine`` returns the engine's result: its status (``ok``, ``error`` or
``timeout``: an engine over its time budget), per stage the scores and times,
and the process totals (wall time, peak memory, CPU time).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from .._threads import available_cores
from . import pipelines as P
from .procs import Job, run_jobs
from .scripts import parse_output, script_text

ENGINES = ("base", "base_par", "skrub", "skrub_par", "stratum")
# Opt-in: stratum's parallel executor (``stratum.search(n_jobs=-1)``).
ALL_ENGINES = (*ENGINES, "stratum_par")

# One thread per process for every engine: the sequential engines use one
# core; base_par and skrub_par use one process per core. Oversubscribed
# OpenMP pools (LightGBM, XGBoost, HistGradientBoosting) spin and get 10-100x
# slower on a small machine, and equal settings keep the engines comparable.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}

_INPROCESS_CHILD = Path(__file__).resolve().parent / "inprocess_child.py"


# ---------------------------------------------------------------------------
# Environment of the children
# ---------------------------------------------------------------------------


def child_env() -> dict:
    """The environment of every benchmark process: same threads, same hash
    seed, no ``STRATUM_*`` settings, and this copy of stratum first on the
    path."""
    import stratum

    env = dict(os.environ)
    env.update(THREAD_ENV)
    env["PYTHONHASHSEED"] = "0"
    # stratum's defaults, and no disk cache warmed by an earlier run
    # (STRATUM_CACHE_DIR): every engine starts cold.
    for name in [n for n in env if n.startswith("STRATUM_")]:
        del env[name]
    root = str(Path(stratum.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    return env


def n_parallel() -> int:
    return available_cores()


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


def _stage_name(index: int) -> str:
    return f"stage{index + 1}"


def run_base(config: dict, workdir: Path, *, parallel: int, timeout=None) -> dict:
    """Engine ``base`` (parallel=1) or ``base_par``: one script per pipeline."""
    engine = "base" if parallel == 1 else "base_par"
    env = child_env()
    result = {
        "engine": engine,
        "status": "ok",
        "error": None,
        "stages": [],
        "peak_rss": 0,
        "cpu_seconds": 0.0,
        "machine_busy_seconds": 0.0,
        "parallel": parallel,
    }
    start = time.perf_counter()
    for index in range(config["n_stages"]):
        specs = P.stage_specs(config, index, result["stages"])
        jobs = []
        for i, spec in enumerate(specs):
            stem = f"{config['workload']}_{engine}_{_stage_name(index)}_{i:03d}"
            path = workdir / f"{stem}.py"
            path.write_text(script_text(config, _stage_name(index), spec))
            jobs.append(
                Job(
                    [sys.executable, str(path)],
                    workdir / f"{stem}.out",
                    workdir / f"{stem}.err",
                    tag=spec["name"],
                )
            )
        left = None if timeout is None else timeout - (time.perf_counter() - start)
        report = run_jobs(jobs, parallel=parallel, env=env, timeout=left)
        result["peak_rss"] = max(result["peak_rss"], report.peak_rss)
        _add_load(result, report)
        if report.timed_out:
            result["status"] = "timeout"
            result["error"] = (
                f"{_stage_name(index)}: time budget of {timeout:.0f}s "
                f"spent after {len(report.done)} of {len(jobs)} scripts"
            )
            break
        stage = {
            "name": _stage_name(index),
            "seconds": report.seconds,
            "specs": specs,
            "scores": {},
            "params": {},
            "scripts": [],
        }
        for done in sorted(report.done, key=lambda d: jobs.index(d.job)):
            if done.returncode != 0:
                result["status"] = "error"
                result["error"] = (
                    f"script for {done.job.tag!r} exited with "
                    f"{done.returncode}: {done.errors()[-2000:]}"
                )
                break
            out = parse_output(done.output())
            if out["stratum_imported"]:
                raise RuntimeError("a base script imported stratum: not plain skrub")
            stage["scores"][out["name"]] = out["scores"]
            stage["params"][out["name"]] = out["params"]
            stage["scripts"].append(
                {
                    "pipeline": out["name"],
                    "wall": done.seconds,
                    "maxrss": done.maxrss,
                    "import_seconds": out["import_seconds"],
                    "data_seconds": out["data_seconds"],
                    "search_seconds": out["search_seconds"],
                }
            )
        if result["status"] != "ok":
            break
        result["stages"].append(stage)
    result["total"] = time.perf_counter() - start
    _finish_load(result)
    return result


def run_inprocess(config: dict, workdir: Path, *, engine: str, timeout=None) -> dict:
    """Engines ``skrub``, ``skrub_par`` and ``stratum``: one fresh process
    (``inprocess_child.py``) runs every stage; its whole life is the engine's
    time."""
    child_config = dict(config)
    child_config["engine"] = "stratum" if engine.startswith("stratum") else "skrub"
    child_config["n_jobs"] = -1 if engine.endswith("_par") else 1
    stem = f"{config['workload']}_{engine}"
    config_path = workdir / f"{stem}.json"
    out_path = workdir / f"{stem}.result.json"
    config_path.write_text(json.dumps(child_config))
    job = Job(
        [sys.executable, str(_INPROCESS_CHILD), str(config_path), str(out_path)],
        workdir / f"{stem}.out",
        workdir / f"{stem}.err",
        tag=engine,
    )
    report = run_jobs([job], env=child_env(), timeout=timeout)
    done = report.done[0]
    result = {
        "engine": engine,
        "status": "ok",
        "error": None,
        "stages": [],
        "peak_rss": report.peak_rss,
        "total": done.seconds,
        "cpu_seconds": 0.0,
        "machine_busy_seconds": 0.0,
    }
    _add_load(result, report)
    _finish_load(result)
    if report.timed_out:
        result["status"] = "timeout"
        result["error"] = f"time budget of {timeout:.0f}s spent"
        return result
    if done.returncode != 0:
        result["status"] = "error"
        result["error"] = (
            f"the child process exited with {done.returncode}: {done.errors()[-3000:]}"
        )
        return result
    out = json.loads(out_path.read_text())
    if child_config["engine"] == "skrub" and out["stratum_imported"]:
        raise RuntimeError(
            f"the {engine} child process imported stratum: not plain skrub"
        )
    for index, stage in enumerate(out["stages"]):
        stage["name"] = _stage_name(index)
        result["stages"].append(stage)
    result["import_seconds"] = out["import_seconds"]
    result["data_seconds"] = out["data_seconds"]
    return result


def _add_load(result: dict, report) -> None:
    result["cpu_seconds"] += report.cpu_seconds
    if report.machine_busy_seconds is None or result["machine_busy_seconds"] is None:
        result["machine_busy_seconds"] = None
    else:
        result["machine_busy_seconds"] += report.machine_busy_seconds


def _finish_load(result: dict) -> None:
    """``other_cores``: cores other processes kept busy during the engine's
    run, on average (the machine is shared: 0 means it was ours alone)."""
    busy, total = result["machine_busy_seconds"], result.get("total")
    if busy is None or not total:
        result["other_cores"] = None
    else:
        result["other_cores"] = max(0.0, busy - result["cpu_seconds"]) / total


def run_engine(engine: str, config: dict, workdir: Path, timeout=None) -> dict:
    if config["workload"] == "W5":
        from .script_engines import run_script_engine

        return run_script_engine(
            engine,
            config,
            workdir,
            env=child_env(),
            parallel=n_parallel(),
            timeout=timeout,
        )
    if engine == "base":
        return run_base(config, workdir, parallel=1, timeout=timeout)
    if engine == "base_par":
        return run_base(config, workdir, parallel=n_parallel(), timeout=timeout)
    if engine in ("skrub", "skrub_par", "stratum", "stratum_par"):
        return run_inprocess(config, workdir, engine=engine, timeout=timeout)
    raise ValueError(f"unknown engine {engine!r}; choose from {ALL_ENGINES}")
