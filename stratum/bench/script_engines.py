"""W5's engines: twelve AIDE-style agent scripts (plain pandas, scikit-learn
and LightGBM; ``aide.w5_scripts``), run as an agent runs them and with
``stratum run``.

``base``
    ``python SCRIPT`` for each script, one after the other.
``base_par``
    the same, one script per available core at a time.
``stratum``
    ``stratum run SCRIPTS`` with a fresh memo on disk (``--cache-dir``).
``stratum_rerun``
    ``stratum run`` a second time on the memo the first run left (the first
    run is not timed): an agent re-running its scripts, or a later session.

Every engine's result has, per script, the floats its output printed
(``scores``) and its whole standard output (``outputs``): the cross-check
wants them equal, byte for byte.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

from . import aide
from .procs import Job, run_jobs

ENGINES = ("base", "base_par", "stratum", "stratum_rerun")
_FLOAT = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def _scripts(config: dict, workdir: Path) -> list[Path]:
    data = aide.write_dataset(workdir / "data", config["rows"], seed=config["seed"])
    folder = workdir / "scripts"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in aide.w5_scripts(data).items():
        path = folder / f"{name}.py"
        path.write_text(text)
        paths.append(path)
    return paths


def _result(engine: str) -> dict:
    return {
        "engine": engine,
        "status": "ok",
        "error": None,
        "stages": [],
        "peak_rss": 0,
        "cpu_seconds": 0.0,
        "machine_busy_seconds": 0.0,
    }


def _stage(seconds: float, outputs: dict[str, str]) -> dict:
    return {
        "name": "stage1",
        "seconds": seconds,
        "scores": {
            name: [float(v) for v in _FLOAT.findall(text)]
            for name, text in outputs.items()
        },
        "outputs": outputs,
    }


def run_script_engine(
    engine: str, config: dict, workdir: Path, *, env: dict, parallel: int, timeout=None
) -> dict:
    """Run W5 with ``engine`` (see the module docstring)."""
    from .engines import _add_load, _finish_load

    if config.get("omp_wait_policy"):
        env = dict(env, OMP_WAIT_POLICY=config["omp_wait_policy"])
    workdir = workdir / engine
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    paths = _scripts(config, workdir)
    result = _result(engine)
    start = time.perf_counter()
    if engine in ("base", "base_par"):
        jobs = [
            Job(
                [sys.executable, str(p)],
                p.with_suffix(".out"),
                p.with_suffix(".err"),
                p,
            )
            for p in paths
        ]
        report = run_jobs(
            jobs,
            parallel=parallel if engine == "base_par" else 1,
            env=env,
            timeout=timeout,
        )
        failed = [d for d in report.done if d.returncode != 0]
        finished = {d.job.tag: d for d in report.done}
        outputs = {p.stem: finished[p].output() for p in paths if p in finished}
        if failed:
            result["error"] = f"{failed[0].job.tag.name}: {failed[0].errors()[-2000:]}"
    elif engine in ("stratum", "stratum_rerun"):
        cache = workdir / "memo"
        if engine == "stratum_rerun":  # the first run fills the memo, untimed
            first = _stratum_run(paths, workdir / "first", cache, env, timeout)
            if first.timed_out or first.done[0].returncode != 0:
                result["status"] = "timeout" if first.timed_out else "error"
                result["error"] = "first run: " + (
                    "timed out" if first.timed_out else first.done[0].errors()[-2000:]
                )
                return result
            start = time.perf_counter()
        report = _stratum_run(paths, workdir / "out", cache, env, timeout)
        outputs = {
            p.stem: (workdir / "out" / p.stem / "stdout").read_text()
            for p in paths
            if (workdir / "out" / p.stem / "stdout").exists()
        }
        result["memo"] = _memo_totals(workdir / "out" / "summary.json")
        done = report.done[0] if report.done else None
        if done is not None and done.returncode != 0:
            result["error"] = done.output()[-2000:] + done.errors()[-2000:]
    else:
        raise ValueError(f"W5 has no engine {engine!r}; choose from {ENGINES}")
    result["peak_rss"] = report.peak_rss
    _add_load(result, report)
    result["total"] = time.perf_counter() - start
    _finish_load(result)
    if report.timed_out:
        result["status"] = "timeout"
        result["error"] = f"time budget of {timeout:.0f}s spent"
        return result
    if result["error"] is not None:
        result["status"] = "error"
        return result
    result["stages"].append(_stage(report.seconds, outputs))
    return result


def _stratum_run(paths, out: Path, cache: Path, env: dict, timeout):
    argv = [sys.executable, "-m", "stratum", "run", *map(str, paths)]
    argv += ["--quiet", "--out", str(out), "--cache-dir", str(cache)]
    job = Job(argv, out.with_suffix(".out"), out.with_suffix(".err"), "stratum run")
    return run_jobs([job], env=env, timeout=timeout)


def _memo_totals(path: Path) -> dict | None:
    """What the scripts' memo reused and what its keys cost, summed."""
    import json

    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    keys = ("reused", "prefixes", "computed", "not_shared")
    keys += ("saved_seconds", "computed_seconds", "key_seconds")
    return {k: sum(row["memo"][k] for row in rows) for k in keys}
