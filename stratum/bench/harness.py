"""``stratum bench``: the agentic pipeline-search workloads, every engine, one run.

Engines (each measured in its own process(es), so that none warms another's
caches, and with the same thread settings, ``THREAD_ENV``):

``base``
    one standalone script per pipeline (``scripts.py``), run one after the
    other, each in a fresh interpreter: interpreter start, imports and data
    loading included, as they are for an agent.
``base_par``
    the same scripts, one per available core at a time.
``skrub``
    all pipelines in one process (``inprocess_child.py``), plain skrub, ``n_jobs=1``.
``skrub_par``
    the same with ``make_grid_search(n_jobs=-1)``.
``stratum``
    one process, ``stratum.search`` on each stage's batch (W1's stage 2 in the
    same process as its stage 1), with stratum's defaults.
``stratum_par`` (opt-in, not in the default set)
    the same with ``stratum.search(n_jobs=-1)``.

Scores are cross-checked: for each stage, pipeline and configuration, every
engine's mean test score must equal plain skrub's (rtol 1e-9); otherwise,
or when an engine fails, :class:`ScoreMismatch` is raised (after the tables
are printed and the results written). An engine over its time budget is
reported as a timeout, not as a failure.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .._threads import available_cores
from . import pipelines as P
from .procs import Job, run_jobs
from .scripts import parse_output, script_text

ENGINES = ("base", "base_par", "skrub", "skrub_par", "stratum")
# Opt-in: stratum's parallel executor (``stratum.search(n_jobs=-1)``).
ALL_ENGINES = (*ENGINES, "stratum_par")
REFERENCE = "skrub"
RTOL = 1e-9

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


class ScoreMismatch(AssertionError):
    """Engines disagree on a score (or a workload pipeline failed)."""


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
# Engines
# ---------------------------------------------------------------------------


def _stage_name(index: int) -> str:
    return f"stage{index + 1}"


def _n_configs(scores: dict) -> int:
    return sum(len(v) for v in scores.values())


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
    if engine == "base":
        return run_base(config, workdir, parallel=1, timeout=timeout)
    if engine == "base_par":
        return run_base(config, workdir, parallel=n_parallel(), timeout=timeout)
    if engine in ("skrub", "skrub_par", "stratum", "stratum_par"):
        return run_inprocess(config, workdir, engine=engine, timeout=timeout)
    raise ValueError(f"unknown engine {engine!r}; choose from {ALL_ENGINES}")


# ---------------------------------------------------------------------------
# Cross-check
# ---------------------------------------------------------------------------


def check_scores(results: dict) -> list[str]:
    """Compare every engine's scores with the reference engine's.

    Returns the list of problems (empty when everything agrees): a
    configuration whose score differs (rtol 1e-9, NaN only equal to NaN),
    pipelines that differ between engines (W1's stage 2 is chosen by each
    engine from its own stage 1), reported pipeline errors, and reference
    scores that are not finite (a workload pipeline failed).
    """
    problems = [
        f"{e} failed: {r['error']}"
        for e, r in results.items()
        if r["status"] == "error"
    ]
    ok = {e: r for e, r in results.items() if r["status"] == "ok"}
    if not ok:
        return problems
    ref_name = REFERENCE if REFERENCE in ok else next(iter(ok))
    ref = ok[ref_name]
    for stage in ref["stages"]:
        for name, values in stage["scores"].items():
            if not np.all(np.isfinite(values)):
                problems.append(
                    f"{ref_name}, {stage['name']}, {name!r}: "
                    f"non-finite scores {values} (a configuration failed)"
                )
    for engine, res in results.items():
        for stage in res.get("stages", []):
            for error in stage.get("errors", []):
                problems.append(f"{engine}, {stage['name']}: {error}")
        if engine == ref_name or not res.get("stages"):
            continue
        for ours, theirs in zip(res["stages"], ref["stages"]):
            where = f"{engine} vs {ref_name}, {ours['name']}"
            if list(ours["scores"]) != list(theirs["scores"]):
                problems.append(
                    f"{where}: different pipelines "
                    f"{list(ours['scores'])} != {list(theirs['scores'])}"
                )
                continue
            for name, values in ours["scores"].items():
                expected = theirs["scores"][name]
                if len(values) != len(expected):
                    problems.append(
                        f"{where}, {name!r}: {len(values)} configurations "
                        f"!= {len(expected)}"
                    )
                    continue
                a, b = np.asarray(values, float), np.asarray(expected, float)
                bad = ~np.isclose(a, b, rtol=RTOL, atol=0.0, equal_nan=True)
                for i in np.flatnonzero(bad):
                    params = theirs.get("params", {}).get(name, [None] * len(b))[i]
                    problems.append(
                        f"{where}, {name!r} configuration {i} {params}: "
                        f"{a[i]!r} != {b[i]!r}"
                    )
    return problems


# ---------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------


def summarize(config: dict, results: dict) -> dict:
    """Per engine: stage and total times, peak memory, speedups, reuse bound."""

    def total(engine):
        r = results.get(engine)
        if r is None or r["status"] not in ("ok", "timeout"):
            return None, False
        return r["total"], r["status"] == "timeout"

    rows = []
    for engine, r in results.items():
        row = {
            "engine": engine,
            "status": r["status"],
            "total": r.get("total"),
            "peak_rss": r.get("peak_rss"),
            "cpu_seconds": r.get("cpu_seconds"),
            "other_cores": r.get("other_cores"),
            "stages": {s["name"]: s["seconds"] for s in r.get("stages", [])},
        }
        for base in ("base", "base_par", "skrub"):
            t_base, lower = total(base)
            if t_base is None or r["status"] != "ok":
                row[f"vs_{base}"] = None
                continue
            row[f"vs_{base}"] = t_base / r["total"]
            row[f"vs_{base}_is_lower_bound"] = lower
        bounds = [s.get("reuse_bound") for s in r.get("stages", [])]
        if bounds and all(b is not None for b in bounds):
            row["reuse_bound"] = float(sum(bounds))
            row["reuse_bound_stages"] = {
                s["name"]: s["reuse_bound"] for s in r["stages"]
            }
        if r.get("stages") and r["stages"][0].get("scripts") is not None:
            scripts = [x for s in r["stages"] for x in s["scripts"]]
            row["scripts"] = len(scripts)
            row["script_overhead"] = float(
                sum(x["wall"] - x["search_seconds"] for x in scripts)
            )
            row["script_search"] = float(sum(x["search_seconds"] for x in scripts))
        rows.append(row)
    ref = results.get(REFERENCE) or next(iter(results.values()))
    stages = [
        {
            "name": s["name"],
            "pipelines": len(s["scores"]),
            "configurations": _n_configs(s["scores"]),
        }
        for s in ref.get("stages", [])
    ]
    return {
        "workload": config["workload"],
        "config": config,
        "stages": stages,
        "rows": rows,
    }


def _fmt_seconds(value) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _fmt_bytes(value) -> str:
    return "—" if not value else f"{value / 2**20:,.0f} MiB"


def _fmt_speedup(row, base) -> str:
    value = row.get(f"vs_{base}")
    if value is None:
        return "—"
    return (">" if row.get(f"vs_{base}_is_lower_bound") else "") + f"{value:.2f}x"


def describe(summary: dict) -> str:
    c = summary["config"]
    stages = " + ".join(
        f"{s['pipelines']} pipeline{'s' * (s['pipelines'] != 1)} "
        f"({s['configurations']} config.)"
        for s in summary["stages"]
    )
    return (
        f"{c['workload']} — {c['title']}: {c['rows']:,} rows, {stages}, "
        f"{c['cv']}-fold CV, {c['scoring']}"
    )


def format_table(summary: dict, markdown: bool = False) -> str:
    stage_names = [s["name"] for s in summary["stages"]]
    show_stages = len(stage_names) > 1
    header = ["engine"]
    if show_stages:
        header += [f"{n} (s)" for n in stage_names]
    header += [
        "total (s)",
        "peak RSS",
        "vs base",
        "vs base_par",
        "vs skrub",
        "reuse bound (s)",
        "CPU (s)",
        "others (cores)",
    ]
    lines = []
    for row in summary["rows"]:
        cells = [
            row["engine"] + ("" if row["status"] == "ok" else f" ({row['status']})")
        ]
        if show_stages:
            cells += [_fmt_seconds(row["stages"].get(n)) for n in stage_names]
        total = row["total"]
        cells += [
            ("≥" if row["status"] == "timeout" else "") + _fmt_seconds(total),
            _fmt_bytes(row["peak_rss"]),
            _fmt_speedup(row, "base"),
            _fmt_speedup(row, "base_par"),
            _fmt_speedup(row, "skrub"),
        ]
        if "reuse_bound" in row:
            parts = row["reuse_bound_stages"]
            detail = (
                " (" + " + ".join(f"{v:,.1f}" for v in parts.values()) + ")"
                if show_stages
                else ""
            )
            cells.append(_fmt_seconds(row["reuse_bound"]) + detail)
        else:
            cells.append("—")
        cells.append(_fmt_seconds(row.get("cpu_seconds")))
        other = row.get("other_cores")
        cells.append("—" if other is None else f"{other:.2f}")
        lines.append(cells)
    if markdown:
        out = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(header)]

    def fmt(cells):
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        )

    return "\n".join(
        [fmt(header), fmt(["-" * w for w in widths])] + [fmt(c) for c in lines]
    )


# ---------------------------------------------------------------------------
# Machine description
# ---------------------------------------------------------------------------


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    versions = {}
    for name in ("skrub", "sklearn", "pandas", "numpy", "lightgbm", "xgboost"):
        try:
            versions[name] = __import__(name).__version__
        except (ImportError, AttributeError):  # pragma: no cover - optional
            versions[name] = None
    return {
        "stratum_revision": _revision(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_bytes": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "threads": THREAD_ENV,
        "parallel_processes": n_parallel(),
    }


def _revision() -> str | None:
    """``git describe --always --dirty`` of the stratum source tree, if any."""
    import subprocess

    import stratum

    root = Path(stratum.__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        out = None
    if out is not None and out.returncode == 0 and out.stdout.strip():
        return out.stdout.strip()
    # An exported snapshot of the tree (no .git) may say where it came from.
    marker = root / "REVISION"
    return marker.read_text().strip() if marker.is_file() else None


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


def _run_logged(engine: str, config: dict, workdir: Path, timeout, log) -> dict:
    log(f"  {config['workload']}: running {engine} ...")
    r = run_engine(engine, config, workdir, timeout=timeout)
    msg = f"{r['total']:.1f}s" if r.get("total") is not None else ""
    log(
        f"  {config['workload']}: {engine} {r['status']} {msg}"
        + (f": {r['error'][:500]}" if r["error"] else "")
    )
    return r


def _summary(config: dict, results: dict) -> dict:
    summary = summarize(config, results)
    summary["problems"] = check_scores(results)
    summary["results"] = results
    return summary


def run_workload(
    config: dict, engines, workdir: Path, *, timeout=None, log=print
) -> dict:
    """Run ``engines`` on one workload, one after the other."""
    results = {e: _run_logged(e, config, workdir, timeout, log) for e in engines}
    return _summary(config, results)


def _run_all(configs, engines, root: Path, *, timeout, log, concurrency: int):
    """Yield ``(config, summary)`` per workload, in order. With
    ``concurrency > 1`` engine runs overlap (timings are then not comparable:
    the quick smoke test only checks that everything runs and agrees)."""
    for config in configs:
        (root / config["workload"]).mkdir(parents=True, exist_ok=True)
    if concurrency <= 1:
        for config in configs:
            log(
                f"{config['workload']} ({config['title']}): {config['rows']:,} rows, "
                f"{config['cv']}-fold CV"
            )
            sub = root / config["workload"]
            yield config, run_workload(config, engines, sub, timeout=timeout, log=log)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = {
            (c["workload"], e): pool.submit(
                _run_logged, e, c, root / c["workload"], timeout, log
            )
            for c in configs
            for e in engines
        }
        for c in configs:
            results = {e: futures[(c["workload"], e)].result() for e in engines}
            yield c, _summary(c, results)


def scaling_points(config: dict, kind: str) -> list[dict]:
    """Smaller versions of ``config`` for the scaling curve (the full size
    itself comes from the main run): 1/8, 1/4 and 1/2 of the rows (``rows``)
    or of W2's pipelines (``pipelines``), each size once."""
    x_name = "rows" if kind == "rows" else "pipelines"
    points, seen = [], {config[x_name]}
    for fraction in (8, 4, 2):
        c = dict(config)
        if kind == "rows":
            c["rows"] = max(100, config["rows"] // fraction)
        else:
            n_drafts = len(config.get("drafts") or P.W2_DRAFTS)
            c["pipelines"] = max(n_drafts, config["pipelines"] // fraction)
        if c[x_name] not in seen:
            seen.add(c[x_name])
            points.append(c)
    return points


def run_scaling(
    config: dict,
    kind: str,
    main: dict,
    workdir: Path,
    *,
    engines=("skrub", "stratum"),
    timeout=None,
    log=print,
) -> dict:
    """Time ``engines`` on smaller versions of a workload; the main run gives
    the largest point. Scores are cross-checked at every point."""
    x_name = "rows" if kind == "rows" else "pipelines"
    curve = {"workload": config["workload"], "x": x_name, "points": []}
    for c in scaling_points(config, kind):
        log(f"  scaling {config['workload']}: {x_name}={c[x_name]}")
        sub = workdir / f"scale_{c[x_name]}"
        sub.mkdir(parents=True, exist_ok=True)
        results = {e: run_engine(e, c, sub, timeout=timeout) for e in engines}
        problems = check_scores(results)
        curve["points"].append(
            {
                "x": c[x_name],
                "problems": problems,
                **{
                    e: (r["total"] if r["status"] == "ok" else None)
                    for e, r in results.items()
                },
            }
        )
    # The largest point is the main run (its problems are reported there).
    curve["points"].append(
        {
            "x": config[x_name],
            "problems": [],
            **{
                e: (
                    main["results"][e]["total"]
                    if e in main["results"] and main["results"][e]["status"] == "ok"
                    else None
                )
                for e in engines
            },
        }
    )
    return curve


def _save(report: dict, json_path, t0: float) -> None:
    report["seconds"] = time.perf_counter() - t0
    if json_path is not None:
        Path(json_path).write_text(json.dumps(report, indent=1, default=str))


def _exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so that running children are killed."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def bench(
    workloads,
    *,
    quick: bool = False,
    rows: int | None = None,
    scale: float | None = None,
    pipelines: int | None = None,
    cv: int | None = None,
    engines=ENGINES,
    timeout: float | None = None,
    json_path=None,
    plot_path=None,
    scaling: str | None = None,
    workdir=None,
    concurrency: int | None = None,
    log=print,
) -> dict:
    """Run the workloads with the engines, print the tables, check the scores.

    ``concurrency``: how many engine runs at a time (default 1; 2 with
    ``quick``, whose timings are not the point).

    Raises :class:`ScoreMismatch` when engines disagree (after printing the
    tables and writing the JSON).
    """
    started = _dt.datetime.now(_dt.UTC)
    _exit_on_sigterm()
    if concurrency is None:
        concurrency = 2 if quick else 1
    t0 = time.perf_counter()
    configs = []
    for name in workloads:
        overrides = {"cv": cv}
        if rows is not None:
            overrides["rows"] = rows
        elif scale is not None:
            base_rows = P.workload_config(name, quick=quick)["rows"]
            overrides["rows"] = max(50, round(base_rows * scale))
        if name == "W2":
            overrides["pipelines"] = pipelines
        configs.append(P.workload_config(name, quick=quick, **overrides))
    if plot_path is not None and scaling is None:
        scaling = "pipelines" if "W2" in workloads else "rows"
    report = {
        "command": " ".join(["stratum"] + sys.argv[1:]) if sys.argv else None,
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "quick": quick,
        "concurrency": concurrency,
        "engines": list(engines),
        "workloads": [],
        "scaling": None,
    }
    with tempfile.TemporaryDirectory(prefix="stratum-bench-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        if concurrency > 1:
            log(
                f"engine runs overlap ({concurrency} at a time): "
                "timings are not comparable"
            )
        for config, summary in _run_all(
            configs, engines, root, timeout=timeout, log=log, concurrency=concurrency
        ):
            report["workloads"].append(summary)
            _save(report, json_path, t0)  # what is done survives a later crash
            log("")
            log(describe(summary))
            log(format_table(summary))
            if summary["problems"]:
                log("SCORES DIFFER:\n  " + "\n  ".join(summary["problems"]))
            else:
                log(f"scores: all engines agree (rtol {RTOL:g})")
            log("")
        if scaling and scaling != "none":
            target = "W2" if scaling == "pipelines" else "W1"
            main = next(
                (w for w in report["workloads"] if w["workload"] == target), None
            )
            if main is not None:
                config = next(c for c in configs if c["workload"] == target)
                report["scaling"] = run_scaling(
                    config,
                    scaling,
                    main,
                    root / "scaling",
                    engines=[e for e in ("skrub", "stratum") if e in engines],
                    timeout=timeout,
                    log=log,
                )
    _save(report, json_path, t0)
    if json_path is not None:
        log(f"results written to {json_path}")
    if plot_path is not None:
        from .plot import plot_report

        plot_report(report, plot_path)
        log(f"plot written to {plot_path}")
    log(f"stratum bench: {report['seconds']:.1f}s in all")
    problems = [p for w in report["workloads"] for p in w["problems"]]
    if report["scaling"]:
        problems += [p for pt in report["scaling"]["points"] for p in pt["problems"]]
    if problems:
        raise ScoreMismatch("engines disagree:\n  " + "\n  ".join(problems))
    return report


def markdown_report(report: dict) -> str:
    """The tables of a ``--json`` report, as Markdown (for RESULTS.md)."""
    m = report["machine"]
    lines = [
        f"- command: `{report.get('command')}`",
        f"- started: {report['started']}, {report['seconds']:,.0f} s in all",
        f"- machine: {m['cpu']}, {m['cpus']} CPUs, "
        f"{(m['memory_bytes'] or 0) / 2**30:.1f} GiB RAM, {m['platform']}, "
        f"Python {m['python']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- stratum revision: {m.get('stratum_revision')}",
        "- threads: "
        + ", ".join(f"{k}={v}" for k, v in m["threads"].items())
        + f"; parallel engines: {m['parallel_processes']} processes",
        "",
    ]
    for summary in report["workloads"]:
        lines += [f"### {describe(summary)}", "", format_table(summary, True), ""]
        if summary["problems"]:
            lines += ["**Scores differ:**", ""]
            lines += [f"- {p}" for p in summary["problems"]] + [""]
        else:
            lines += [f"Scores: all engines agree (rtol {RTOL:g}).", ""]
    curve = report.get("scaling")
    if curve:
        engines = [k for k in curve["points"][0] if k not in ("x", "problems")]
        lines += [
            f"### Scaling: {curve['workload']} over {curve['x']}",
            "",
            f"| {curve['x']} | "
            + " | ".join(f"{e} (s)" for e in engines)
            + " | speedup |",
            "|---|" + "---|" * len(engines) + "---|",
        ]
        for p in curve["points"]:
            ratio = (
                f"{p['skrub'] / p['stratum']:.2f}x"
                if p.get("skrub") and p.get("stratum")
                else "—"
            )
            cells = [_fmt_seconds(p.get(e)) for e in engines]
            lines.append(f"| {p['x']:,} | " + " | ".join(cells) + f" | {ratio} |")
        lines.append("")
    return "\n".join(lines)
