"""The ``stratum`` command: ``stratum --help`` lists its subcommands."""

from __future__ import annotations

import argparse
import os
import sys

from ._extras import install_hint

DESCRIPTION = (
    "stratum: batched, deduplicated execution of many skrub pipelines, with "
    "results identical to skrub's. 'stratum demo' runs the main job on "
    "built-in data; 'stratum COMMAND --help' describes each command."
)


def build_parser() -> argparse.ArgumentParser:
    """The ``stratum`` command line (every subcommand and option)."""
    from . import __version__

    parser = argparse.ArgumentParser(prog="stratum", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"stratum {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="run an agent-style batch, stratum vs plain skrub",
        description=(
            "Evaluate eight agent-style pipelines over a generated house-price "
            "table with plain skrub, then with stratum, in this process; print "
            "the results, the plan's deduplication counts and both wall times, "
            "and fail if any score differs."
        ),
    )
    demo.add_argument(
        "--rows", type=int, default=5000, help="rows of the generated table (5000)"
    )
    demo.add_argument("--cv", type=int, default=3, help="cross-validation folds (3)")
    explain = sub.add_parser(
        "explain",
        help="show the plan of the demo batch",
        description=(
            "Compile the demo's batch and print its plan (what is shared, the "
            "tasks per fold) without fitting anything."
        ),
    )
    explain.add_argument(
        "--rows", type=int, default=2000, help="rows of the generated table (2000)"
    )
    explain.add_argument("--cv", type=int, default=3, help="cross-validation folds (3)")
    explain.add_argument(
        "--dot", action="store_true", help="print Graphviz DOT instead"
    )
    _add_bench(sub)
    _add_serve(sub)
    _add_mcp(sub)
    _add_run(sub)
    cache = sub.add_parser("cache", help="inspect or clear the disk cache")
    cache.add_argument(
        "action",
        choices=["info", "clear"],
        help="info: entries and size; clear: remove every entry",
    )
    cache.add_argument(
        "--dir", help="cache directory (default: STRATUM_CACHE_DIR)", default=None
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    if args.command == "demo":
        from .bench.demo import main as demo_main

        demo_main(rows=args.rows, cv=args.cv)
        return 0
    if args.command == "explain":
        from .batch_search import explain as explain_batch
        from .bench.data import make_house_prices
        from .bench.workloads import house_price_batch

        batch = house_price_batch(make_house_prices(args.rows, seed=0))
        print(explain_batch(batch, cv=args.cv, dot=args.dot))
        return 0
    if args.command == "bench":
        return _bench(args)
    if args.command == "cache":
        return _cache(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "mcp":
        return _mcp(args)
    if args.command == "run":
        return _run(args)
    return 1


def _cache(args) -> int:
    """``stratum cache info|clear`` on a disk cache directory."""
    import os

    from .runtime.cache import DiskCache

    path = args.dir or os.environ.get("STRATUM_CACHE_DIR")
    if not path:
        print(
            "no cache directory: pass --dir or set STRATUM_CACHE_DIR", file=sys.stderr
        )
        return 2
    cache = DiskCache(path)
    entries = cache.entries()
    if args.action == "clear":
        cache.clear()
        print(f"removed {len(entries)} entries from {cache.path}")
        return 0
    size = sum(s for _, s, _ in entries)
    print(f"{cache.path}: {len(entries)} entries, {size / 2**20:,.1f} MiB")
    print(f"library versions in keys: {cache.versions}")
    return 0


def _add_bench(sub) -> None:
    bench = sub.add_parser(
        "bench",
        help="agentic pipeline-search benchmark: every engine, scores cross-checked",
        description=(
            "Run the benchmark workloads (W1: two-stage search, W2: agent tree, "
            "W3: wide grid, W4: model tuning, W5: agent scripts) with every "
            "engine (base, base_par, skrub, skrub_par, stratum; W5: base, "
            "base_par, stratum run and a second stratum run on its memo), print "
            "wall time, peak memory, speedups and stratum's reuse bound, and "
            "fail if any engine's scores (W5: printed output) differ from the "
            "reference's."
        ),
    )
    bench.add_argument(
        "workload",
        choices=[*_WORKLOADS, "all"],
        help="W1: two-stage search, W2: agent tree, W3: wide grid, W4: model "
        "tuning (three boosted-model grids on one preprocessing), W5: agent "
        "scripts (plain pandas/scikit-learn/LightGBM, stratum run), or all",
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes: the CI smoke test (correctness, not speed)",
    )
    size = bench.add_mutually_exclusive_group()
    size.add_argument("--rows", type=int, help="rows of every selected workload")
    size.add_argument(
        "--scale", type=float, help="multiply every selected workload's default rows"
    )
    bench.add_argument(
        "--pipelines",
        type=int,
        help="number of pipelines of W2's agent tree (default 100)",
    )
    bench.add_argument("--cv", type=int, help="number of folds (default: per workload)")
    bench.add_argument(
        "--engines",
        default=",".join(_ENGINES),
        help="comma-separated engines (default: all but stratum_par) among: "
        + ", ".join(_ALL_ENGINES),
    )
    bench.add_argument(
        "--timeout",
        type=float,
        help="time budget per engine and workload, in seconds "
        "(an engine over budget is reported as a timeout)",
    )
    bench.add_argument("--json", metavar="PATH", help="write all results as JSON")
    bench.add_argument(
        "--plot",
        metavar="PATH",
        help="write a plot (needs matplotlib): time per engine per "
        "workload and a scaling curve",
    )
    bench.add_argument(
        "--scaling",
        choices=["pipelines", "rows", "none"],
        help="the plot's scaling curve: W2 over pipelines (default "
        "when W2 runs) or W1 over rows; skrub vs stratum",
    )
    bench.add_argument(
        "--workdir", metavar="DIR", help="keep the generated scripts and outputs in DIR"
    )
    bench.add_argument(
        "--concurrency",
        type=int,
        help="engine runs at a time (default 1, or 2 with --quick); above 1 the "
        "timings are not comparable",
    )


# The options of ``serve`` and ``mcp`` (both batch jobs and run them in worker
# processes), by flag; ``--window``'s default is each command's own.
_BATCHING_OPTIONS = {
    "--window": {"type": float, "help": "batching window, seconds"},
    "--job-timeout": {"type": float, "default": 600.0, "help": "most seconds per job"},
    "--n-jobs": {
        "type": int,
        "default": -1,
        "help": "stratum's n_jobs in each worker (default -1: all cores)",
    },
    "--cache-dir": {"default": None, "help": "disk cache shared by the workers"},
}


def _add_batching_option(parser, flag: str, **settings) -> None:
    parser.add_argument(flag, **(_BATCHING_OPTIONS[flag] | settings))


def _batching_settings(args) -> dict:
    """The ``_BATCHING_OPTIONS`` given, as keyword arguments."""
    return {
        "window": args.window,
        "job_timeout": args.job_timeout,
        "n_jobs": args.n_jobs,
        "cache_dir": args.cache_dir,
    }


def _needs_extra(command: str, extra: str, error: ImportError) -> int:
    """Say which extra ``stratum COMMAND`` needs; the exit status (2)."""
    print(
        f"stratum {command} needs the '{extra}' extra ({install_hint(extra)}): {error}",
        file=sys.stderr,
    )
    return 2


def _add_serve(sub) -> None:
    serve = sub.add_parser(
        "serve",
        help="HTTP service evaluating many clients' pipelines in shared batches",
        description=(
            "Serve stratum over HTTP: clients (stratum.Client) submit pipelines; "
            "submissions arriving within the batching window run as one batch "
            "in worker processes that share their results. Every request needs "
            "'Authorization: Bearer <token>' (tokens from STRATUM_SERVE_TOKENS, "
            "comma-separated, each SECRET or SECRET@EXPIRY with an ISO 8601 "
            "date or time, or one generated and printed at start)."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="default: loopback only")
    serve.add_argument("--port", type=int, default=8765, help="default: 8765")
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    _add_batching_option(serve, "--window", default=0.5)
    _add_batching_option(serve, "--job-timeout")
    serve.add_argument(
        "--max-payload", default="64MB", help="largest request body (e.g. 64MB)"
    )
    serve.add_argument(
        "--max-batch-jobs", type=int, default=64, help="most jobs in one batch"
    )
    _add_batching_option(serve, "--n-jobs")
    serve.add_argument("--memory-budget", default=None, help="per worker, e.g. 4GB")
    _add_batching_option(serve, "--cache-dir")
    serve.add_argument(
        "--state-dir",
        default=os.environ.get("STRATUM_SERVE_STATE_DIR") or _default_state_dir(),
        help="where jobs, their payloads and results are kept (SQLite), so that "
        "a restart loses none; 'none': in memory only (default: "
        "$STRATUM_SERVE_STATE_DIR, else the user cache folder)",
    )
    serve.add_argument(
        "--token-ttl",
        default=None,
        help="how long the generated token is valid, e.g. '12h', '30d' "
        "(default: until the server stops)",
    )
    serve.add_argument(
        "--keep",
        default="7d,1GB",
        help="finished jobs kept in the state database, by age and total size "
        "(oldest dropped first), e.g. '7d,1GB', '12h', '500MB'",
    )


def _default_state_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "stratum", "serve")


_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_seconds(text: str) -> float | None:
    """``'90s'``, ``'12h'``, ``'7d'`` -> seconds; None when not a duration."""
    text = text.strip().lower()
    if text and text[-1] in _SECONDS and text[:-1].replace(".", "", 1).isdigit():
        return float(text[:-1]) * _SECONDS[text[-1]]
    return None


def _parse_keep(text: str) -> tuple[float | None, int | None]:
    """``--keep``: (seconds, bytes), each None when not given."""
    from ._sizes import parse_bytes

    seconds = size = None
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if _parse_seconds(part) is not None:
            seconds = _parse_seconds(part)
        else:
            size = parse_bytes(part)
    return seconds, size


def _serve(args) -> int:
    from ._sizes import parse_bytes

    try:
        from .serve.app import serve
    except ImportError as error:
        return _needs_extra("serve", "serve", error)
    try:
        keep_seconds, keep_bytes = _parse_keep(args.keep)
    except ValueError as error:
        print(f"stratum serve: --keep {args.keep!r}: {error}", file=sys.stderr)
        return 2
    token_ttl = None
    if args.token_ttl is not None:
        token_ttl = _parse_seconds(args.token_ttl)
        if not token_ttl:
            print(
                f"stratum serve: --token-ttl {args.token_ttl!r}: not a duration "
                "(e.g. '12h', '30d')",
                file=sys.stderr,
            )
            return 2
    state_dir = None if args.state_dir.lower() == "none" else args.state_dir
    serve(
        host=args.host,
        port=args.port,
        state_dir=state_dir,
        keep_seconds=keep_seconds,
        keep_bytes=keep_bytes,
        max_payload=parse_bytes(args.max_payload),
        token_ttl=token_ttl,
        workers=args.workers,
        max_batch_jobs=args.max_batch_jobs,
        memory_budget=args.memory_budget,
        **_batching_settings(args),
    )
    return 0


def _add_mcp(sub) -> None:
    mcp = sub.add_parser(
        "mcp",
        help="MCP tools over stdio: evaluate pipelines, fetch results, profile tables",
        description=(
            "Run an MCP server over stdio. Pipelines run in local worker "
            "processes, or on a `stratum serve` with --url (token from "
            "STRATUM_SERVE_TOKEN)."
        ),
    )
    mcp.add_argument("--url", default=None, help="a stratum serve to submit to")
    _add_batching_option(mcp, "--window", default=0.2)
    _add_batching_option(mcp, "--job-timeout")
    _add_batching_option(mcp, "--n-jobs")
    _add_batching_option(mcp, "--cache-dir")


def _mcp(args) -> int:
    try:
        from .serve.mcp_server import run
    except ImportError as error:
        return _needs_extra("mcp", "mcp", error)
    run(url=args.url, **_batching_settings(args))
    return 0


def _add_run(sub) -> None:
    run = sub.add_parser(
        "run",
        help="run agent scripts, each in its own process, their searches batched",
        description=(
            "Run unmodified Python scripts, each in its own process. Their "
            "estimator calls (fit, transform, predict, score ...) are memoized "
            "by content and shared: a fit another script already made on the "
            "same data is not repeated. Their skrub make_grid_search / "
            "make_randomized_search fits and cross-validations are evaluated "
            "together in stratum batches (shared work done once) and returned "
            "to each script as skrub would return them. Prints each script's "
            "output prefixed with its name, then a summary; exits 1 if any "
            "script did not exit with 0."
        ),
    )
    run.add_argument(
        "scripts", nargs="+", metavar="SCRIPT", help="Python scripts to run"
    )
    run.add_argument(
        "-j",
        "--jobs",
        type=int,
        help="scripts computing at once (default: one per core); each gets its "
        "share of the cores for LightGBM and OpenMP",
    )
    run.add_argument(
        "--n-jobs",
        type=int,
        default=-1,
        help="n_jobs of the batch executor (default -1: all cores)",
    )
    run.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=os.environ.get("STRATUM_CACHE_DIR") or None,
        help="keep the memo of estimator calls on disk in DIR, for later runs "
        "(default: $STRATUM_CACHE_DIR; none: this run only)",
    )
    run.add_argument(
        "--no-memo",
        action="store_true",
        help="do not memoize estimator calls (fit, transform, predict ...)",
    )
    run.add_argument(
        "--explain",
        action="store_true",
        help="after the summary, print per script what its estimator calls "
        "reused, computed, and could not share (and why)",
    )
    run.add_argument(
        "--timeout",
        type=float,
        help="seconds a script may run (not counting its wait for batches); "
        "past it, it is killed",
    )
    run.add_argument(
        "--out", metavar="DIR", help="write DIR/<script>/stdout, stderr, exit_code"
    )
    run.add_argument(
        "--quiet", action="store_true", help="do not stream the scripts' output"
    )
    run.add_argument(
        "--max-live", type=int, help="scripts running at once (default: all)"
    )
    run.add_argument(
        "--no-preload",
        action="store_true",
        help="start each script as a new python process (by default they are "
        "forked from a process that has already imported stratum and skrub)",
    )


def _run(args) -> int:
    import json
    from dataclasses import asdict
    from pathlib import Path

    from .agents import explain, run_scripts, summary

    try:
        results = run_scripts(
            args.scripts,
            n_jobs=args.n_jobs,
            jobs=args.jobs,
            memo=not args.no_memo,
            cache_dir=args.cache_dir,
            timeout=args.timeout,
            out=args.out,
            stream=not args.quiet,
            max_live=args.max_live,
            preload=not args.no_preload,
        )
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    table = summary(results)
    if args.explain:
        table += "\n" + explain(results)
    print(table)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        Path(args.out, "summary.txt").write_text(table + "\n")
        rows = [
            asdict(r) | {"stdout": None, "stderr": None, "memo": r.memo.totals()}
            for r in results
        ]
        Path(args.out, "summary.json").write_text(json.dumps(rows, indent=1))
    return 0 if all(r.status == "ok" for r in results) else 1


_WORKLOADS = ("W1", "W2", "W3", "W4", "W5")
_ENGINES = ("base", "base_par", "skrub", "skrub_par", "stratum")
_ALL_ENGINES = (*_ENGINES, "stratum_par", "stratum_rerun")


def _bench(args) -> int:
    import importlib.util

    missing = [
        m for m in ("lightgbm", "xgboost") if importlib.util.find_spec(m) is None
    ]
    if missing:
        print(
            f"stratum bench: the workloads' models need {' and '.join(missing)} "
            f"({install_hint('models')})",
            file=sys.stderr,
        )
        return 2
    from .bench.crosscheck import ScoreMismatch
    from .bench.harness import bench

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(_ALL_ENGINES))
    if unknown:
        print(f"stratum bench: unknown engine(s) {unknown}", file=sys.stderr)
        return 2
    workloads = list(_WORKLOADS) if args.workload == "all" else [args.workload]
    try:
        bench(
            workloads,
            quick=args.quick,
            rows=args.rows,
            scale=args.scale,
            pipelines=args.pipelines,
            cv=args.cv,
            engines=engines,
            timeout=args.timeout,
            json_path=args.json,
            plot_path=args.plot,
            scaling=args.scaling,
            workdir=args.workdir,
            concurrency=args.concurrency,
        )
    except ScoreMismatch as error:
        print(f"stratum bench: FAILED: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
