"""``stratum bench``: the agentic pipeline-search workloads, every engine, one run.

``bench`` runs each workload with each engine (``engines``), cross-checks
their scores (``crosscheck``), sums them up (``summary``), prints the tables
(``tables``), optionally times a scaling curve (``scaling``), and writes the
report, with the machine it ran on (``machine``), as JSON; it raises
:class:`~stratum.bench.crosscheck.ScoreMismatch` when engines disagree.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
import tempfile
import time
from pathlib import Path

from . import pipelines as P
from .crosscheck import RTOL, ScoreMismatch, check_scores
from .engines import ENGINES, run_engine
from .machine import machine
from .scaling import run_scaling
from .script_engines import ENGINES as SCRIPT_ENGINES
from .summary import summarize
from .tables import describe, format_table


def _run_logged(engine: str, config: dict, workdir: Path, timeout, log) -> dict:
    log(f"  {config['workload']}: running {engine} ...")
    r = run_engine(engine, config, workdir, timeout=timeout)
    msg = f"{r['total']:.1f}s" if r.get("total") is not None else ""
    log(
        f"  {config['workload']}: {engine} {r['status']} {msg}"
        + (f": {r['error'][:500]}" if r["error"] else "")
    )
    memo = r.get("memo")
    if memo:
        log(
            f"  {config['workload']}: {engine} memo: {memo['reused']} calls reused "
            f"({memo['prefixes']} as prefixes; they took {memo['saved_seconds']:.1f}s"
            f"), {memo['computed']} computed in {memo['computed_seconds']:.1f}s, "
            f"{memo['not_shared']} not shared; content keys "
            f"{memo['key_seconds']:.2f}s"
        )
    return r


def _summary(config: dict, results: dict) -> dict:
    summary = summarize(config, results)
    summary["problems"] = check_scores(results)
    summary["results"] = results
    return summary


def engines_for(config: dict, engines) -> list[str]:
    """The engines that apply to a workload: W5 (scripts) has no in-process
    engines, and its stratum engine comes with a second run on its memo."""
    if config["workload"] != "W5":
        return [e for e in engines if e not in SCRIPT_ENGINES or e in ENGINES]
    chosen = [e for e in engines if e in SCRIPT_ENGINES]
    if "stratum" in chosen and "stratum_rerun" not in chosen:
        chosen.append("stratum_rerun")
    return chosen


def run_workload(
    config: dict, engines, workdir: Path, *, timeout=None, log=print
) -> dict:
    """Run ``engines`` on one workload, one after the other."""
    results = {
        e: _run_logged(e, config, workdir, timeout, log)
        for e in engines_for(config, engines)
    }
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
            for e in engines_for(c, engines)
        }
        for c in configs:
            results = {
                e: futures[(c["workload"], e)].result() for e in engines_for(c, engines)
            }
            yield c, _summary(c, results)


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
