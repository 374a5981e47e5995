"""The worker process: where submitted pipelines are unpickled and run.

A worker keeps one :class:`stratum.Session` for its whole life, so a batch
reuses what earlier batches computed. It talks to the server over a pipe with
bytes only (JSON messages and opaque payloads): the server never unpickles
anything a worker sends.

Messages from the server: a JSON header ``{"batch": id, "jobs": [...]}``
followed by one payload per job (the cloudpickled pipelines, possibly empty).
Messages to the server (JSON): ``ready``, ``progress``, one ``job`` message
per job (its results or its error) and ``done`` at the end of a batch.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from .._config import get_config
from ..agents.runner import Runner, script_names
from ..frontend.skrub.identity import content_key
from ..runtime.progress import subscribe
from ..session import current_session

SEPARATOR = "/"


class _Terminated(BaseException):
    """SIGTERM: leave the batch (its scripts are stopped on the way out)."""


def _terminate(*_) -> None:
    raise _Terminated()


def main(conn, config: dict) -> None:
    """Entry point of a worker process (``multiprocessing`` target)."""
    # Submitted code may print: keep stdout (a protocol channel for `stratum
    # mcp`) clean by sending it to stderr.
    try:
        os.dup2(2, 1)
    except OSError:  # pragma: no cover - no stderr
        pass
    sys.stdout = sys.stderr

    import stratum

    stratum.set_config(
        n_jobs=config.get("n_jobs") or -1,
        progress=False,
        **(
            {"memory_budget": config["memory_budget"]}
            if config.get("memory_budget")
            else {}
        ),
    )
    session = stratum.Session(cache_dir=config.get("cache_dir"))
    lock = threading.Lock()

    def send(message: dict) -> None:
        data = json.dumps(message, allow_nan=False).encode()
        with lock:
            conn.send_bytes(data)

    # SIGTERM unwinds (stopping the scripts a batch runs); SIGKILL follows.
    signal.signal(signal.SIGTERM, _terminate)
    send({"type": "ready", "pid": os.getpid()})
    try:
        with session:
            while True:
                try:
                    header = json.loads(conn.recv_bytes())
                except (EOFError, OSError):
                    return
                if header.get("type") == "stop":
                    return
                blobs = [conn.recv_bytes() for _ in header["jobs"]]
                try:
                    run_batch(header, blobs, send)
                except (Exception, SystemExit) as error:
                    traceback.print_exc()
                    message = f"{type(error).__name__}: {error}"
                    send({"type": "done", "batch": header["batch"], "error": message})
    except _Terminated:
        sys.exit(143)


def run_batch(header: dict, blobs: list[bytes], send: Callable[[dict], None]):
    """Run one batch: every job's pipelines, merged by search options, then
    every job's scripts, together."""
    batch_id = header["batch"]
    start = time.monotonic()
    items: list[tuple[str, str, Any, dict, float | None]] = []
    ranking: dict[str, Any] = {}
    with_scripts = {j["id"]: j for j in header["jobs"] if j.get("scripts")}
    held: dict[str, dict] = {}

    def emit(message: dict) -> None:
        # A job with scripts answers once its scripts have run too.
        if message["job"] in with_scripts:
            held[message["job"]] = message
        else:
            send(message)

    for job, blob in zip(header["jobs"], blobs):
        send({"type": "current", "batch": batch_id, "jobs": [job["id"]]})
        try:
            loaded = load_job(job, blob)
        except (Exception, SystemExit) as error:
            emit(_job_error(batch_id, job["id"], error))
            continue
        ranking[job["id"]] = job["options"].get("refit", True)
        timeout = job["options"].get("timeout")
        items += [(job["id"], name, op, kw, timeout) for name, op, kw in loaded]

    groups = group_items(items)
    state = {"groups": len(groups), "groups_done": 0}
    last = [0.0]

    def on_progress(progress: dict) -> None:
        now = time.monotonic()
        if now - last[0] < 0.2 and progress["tasks_done"] < progress["tasks"]:
            return
        last[0] = now
        send({"type": "progress", "batch": batch_id, "progress": {**state, **progress}})

    unsubscribe = subscribe(on_progress)
    try:
        for members in groups:
            current = list(dict.fromkeys(m[0] for m in members))
            send({"type": "current", "batch": batch_id, "jobs": current})
            _run_group(batch_id, members, ranking, start, emit)
            state["groups_done"] += 1
            send({"type": "progress", "batch": batch_id, "progress": dict(state)})
        runnable = {
            job_id: job
            for job_id, job in with_scripts.items()
            if held.get(job_id, {}).get("state", "done") == "done"
        }
        if runnable:
            send({"type": "current", "batch": batch_id, "jobs": list(runnable)})
            _run_scripts(batch_id, runnable, held, start)
    finally:
        unsubscribe()
    for job_id in with_scripts:
        send(held[job_id])
    send({"type": "done", "batch": batch_id})


def _run_scripts(batch_id: str, jobs: dict[str, dict], held: dict, start) -> None:
    """Run the scripts of ``jobs`` together (as ``stratum run``), their
    searches in shared batches that reuse this worker's session."""
    texts = {
        f"{job_id}-{i}": text
        for job_id, job in jobs.items()
        for i, text in enumerate(job["scripts"])
    }
    limits = [job["options"].get("timeout") for job in jobs.values()]
    timeout = None
    if all(limit is not None for limit in limits):
        timeout = max(limits) - (time.monotonic() - start)
    try:
        with tempfile.TemporaryDirectory(prefix="stratum-serve-") as workdir:
            runner = Runner(
                script_names(texts, workdir),
                n_jobs=get_config()["n_jobs"],
                timeout=max(timeout, 0.1) if timeout is not None else None,
            )
            session = current_session()
            if session is not None:
                runner.session = session  # reuse earlier batches' work
            outcomes = runner.run()
    except Exception as error:
        for job_id in jobs:
            held[job_id] = _job_error(batch_id, job_id, error)
        return
    for job_id in jobs:
        mine = [
            {
                **{
                    k: v
                    for k, v in dataclasses.asdict(o).items()
                    if k not in ("batches", "path")
                },
                "name": o.name.split("-", 1)[1],
                "batches": len(o.batches),
            }
            for o in outcomes
            if o.name.startswith(job_id + "-")
        ]
        message = held.get(job_id) or {
            "type": "job",
            "batch": batch_id,
            "job": job_id,
            "state": "done",
            "merged_with": list(jobs),
            "results": {"columns": [], "rows": []},
            "best": None,
        }
        message["scripts"] = jsonable(mine)
        held[job_id] = message


def load_job(job: dict, blob: bytes) -> list[tuple[str, Any, dict]]:
    """A job's pipelines as ``(name, data_op, search arguments)``."""
    named: list[tuple[str, Any]] = []
    if blob:
        import pickle

        import cloudpickle  # noqa: F401  (registers what cloudpickle payloads need)

        try:
            obj = pickle.loads(blob)
        except Exception as error:
            raise ValueError(
                f"could not unpickle the pipelines: {type(error).__name__}: {error}"
            ) from error
        named += _named(obj, "pipeline")
    for i, text in enumerate(job.get("sources") or []):
        named += _named(_exec_source(text, i), f"source{i}")
    if not named and not job.get("scripts"):
        raise ValueError("the job has no pipelines")
    names = [n for n, _ in named]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate pipeline names: {duplicates}")
    options = job["options"]
    return [(name, *_search_arguments(name, obj, options)) for name, obj in named]


def _exec_source(text: str, index: int) -> Any:
    namespace: dict[str, Any] = {"__name__": f"stratum_source_{index}"}
    try:
        exec(compile(text, f"<source {index}>", "exec"), namespace)
    except (Exception, SystemExit) as error:
        raise ValueError(
            f"source {index} raised {type(error).__name__}: {error}\n"
            + traceback.format_exc(limit=-3)
        ) from error
    for name in ("pipelines", "pipeline"):
        if name in namespace:
            return namespace[name]
    raise ValueError(
        f"source {index} defines neither `pipelines` (a dict or list of DataOps) "
        "nor `pipeline` (a DataOp)"
    )


def _named(obj: Any, prefix: str) -> list[tuple[str, Any]]:
    from skrub import DataOp

    if isinstance(obj, Mapping):
        named = [(str(k), v) for k, v in obj.items()]
    elif isinstance(obj, Sequence) and not isinstance(obj, (str, bytes)):
        named = [(f"{prefix}_{i}", v) for i, v in enumerate(obj)]
    else:
        named = [(prefix, obj)]
    for name, value in named:
        if SEPARATOR in name:
            raise ValueError(f"pipeline name {name!r} must not contain {SEPARATOR!r}")
        if not isinstance(value, DataOp) and not _is_param_search(value):
            raise TypeError(
                f"pipeline {name!r} is a {type(value).__name__}, not a skrub DataOp "
                "or an unfitted skrub search (make_grid_search / "
                "make_randomized_search)"
            )
    return named


def _is_param_search(obj: Any) -> bool:
    from skrub._data_ops._estimator import ParamSearch

    return isinstance(obj, ParamSearch)


def _search_arguments(name: str, obj: Any, options: dict) -> tuple[Any, dict]:
    """The DataOp and the ``stratum.search`` arguments of one pipeline."""
    if not _is_param_search(obj):
        kw = {
            "cv": options.get("cv", 5),
            "scoring": options.get("scoring"),
            "n_iter": options.get("n_iter"),
            "random_state": options.get("random_state"),
            "return_train_score": bool(options.get("return_train_score", False)),
        }
        return obj, kw
    search = obj.search
    kw = {
        "cv": search.cv,
        "scoring": search.scoring,
        "n_iter": getattr(search, "n_iter", None)
        if type(search).__name__ == "RandomizedSearchCV"
        else None,
        "random_state": getattr(search, "random_state", None),
        "return_train_score": search.return_train_score,
        "error_score": search.error_score,
    }
    return obj.data_op, kw


def group_items(items: list) -> list[list]:
    """Pipelines with the same search arguments and time limit, in order."""
    import cloudpickle

    groups: dict[bytes, list] = {}
    for item in items:
        _, _, _, kw, timeout = item
        try:
            key = cloudpickle.dumps((sorted(kw.items()), timeout))
        except Exception:
            key = repr(id(item)).encode()
        groups.setdefault(key, []).append(item)
    return list(groups.values())


def _run_group(batch_id, members, ranking, start, send) -> None:
    import stratum

    job_ids = list(dict.fromkeys(m[0] for m in members))
    kw, timeout = members[0][3], members[0][4]
    remaining = None
    if timeout is not None:
        remaining = timeout - (time.monotonic() - start)
        if remaining <= 0:
            for job_id in job_ids:
                send(
                    _job_error(
                        batch_id,
                        job_id,
                        TimeoutError(
                            f"the job's time limit ({timeout:g} s) ran out before "
                            "its pipelines could start"
                        ),
                        state="timeout",
                    )
                )
            return
    # Pipelines submitted more than once (the same computation on the same
    # data) are evaluated once, under the first submitter's name.
    fingerprints: dict = {}
    canonical: dict[bytes, str] = {}
    pipelines, alias = {}, []
    for job_id, name, op, _, _ in members:
        key = pipeline_key(op, fingerprints)
        full = f"{job_id}{SEPARATOR}{name}"
        if key is None or key not in canonical:
            if key is not None:
                canonical[key] = full
            pipelines[full] = op
            alias.append((job_id, name, full))
        else:
            alias.append((job_id, name, canonical[key]))
    try:
        result = stratum.search(pipelines, refit=False, timeout=remaining, **kw)
    except Exception as error:
        if len(job_ids) > 1:
            # Isolate the job that makes the whole search fail.
            for job_id in job_ids:
                mine = [m for m in members if m[0] == job_id]
                _run_group(batch_id, mine, ranking, start, send)
            return
        send(_job_error(batch_id, job_ids[0], error))
        return
    table = result.results_.reset_index(drop=True)
    store = result._batch.driver.store
    stats = {
        "pipelines_submitted": len(members),
        "pipelines_evaluated": len(pipelines),
        "tasks_executed": len(result.stats_),
        "results_reused": store.reused,
    }
    for job_id in job_ids:
        parts = []
        for owner, name, full in alias:
            if owner != job_id:
                continue
            rows = table[table["pipeline"] == full].copy()
            rows["pipeline"] = name
            rows["error"] = rows["error"].map(
                lambda e, a=repr(full), b=repr(name): (
                    e if e is None else e.replace(a, b)
                )
            )
            parts.append(rows)
        rows = pd.concat(parts).sort_index(kind="stable").reset_index(drop=True)
        send(
            {
                "type": "job",
                "batch": batch_id,
                "job": job_id,
                "state": "done",
                "merged_with": job_ids,
                "stats": stats,
                "results": table_to_json(rows),
                "best": best_row(rows, ranking.get(job_id, True)),
            }
        )


def pipeline_key(op: Any, fingerprints: dict) -> bytes | None:
    """Equal for pipelines describing the same computation (see
    :func:`stratum.frontend.skrub.identity.content_key`)."""
    return content_key(op, fingerprints)


def _job_error(batch_id, job_id, error: BaseException, state: str = "failed"):
    return {
        "type": "job",
        "batch": batch_id,
        "job": job_id,
        "state": state,
        "error": f"{type(error).__name__}: {error}",
    }


def best_row(rows, refit: bool | str) -> dict | None:
    """The best configuration of a job's rows (already sorted, best first)."""
    column = None
    if isinstance(refit, str) and f"mean_test_{refit}" in rows:
        column = f"mean_test_{refit}"
    else:
        scores = [c for c in rows.columns if c.startswith("mean_test_")]
        column = scores[0] if scores else None
    if column is None:
        return None
    ok = rows[rows["status"].eq("ok") & rows[column].notna()]
    if ok.empty:
        return None
    row = ok.loc[ok[column].idxmax()]
    return {
        "pipeline": row["pipeline"],
        "params": jsonable(row["params"]),
        "score": jsonable(row[column]),
        "metric": column.removeprefix("mean_test_"),
    }


def table_to_json(frame) -> dict:
    """A results table as ``{"columns": [...], "rows": [[...], ...]}``."""
    return {
        "columns": [str(c) for c in frame.columns],
        "rows": [[jsonable(v) for v in row] for row in frame.itertuples(index=False)],
    }


def jsonable(value: Any) -> Any:
    """``value`` as JSON data: NaN and infinities become None, numpy scalars
    Python numbers, anything else without a JSON form its repr."""
    import numpy as np

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    return repr(value)
