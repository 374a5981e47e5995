"""``stratum mcp``: stratum's batch evaluation as MCP tools over stdio.

Tools: ``evaluate`` (pipeline sources or pickled pipelines, merged with other
submissions in a batching window), ``get_results``, ``cancel`` and
``profile_table``. Pipelines run in local worker processes (as in ``stratum
serve``), or on a ``stratum serve`` given by ``url``.
"""

from __future__ import annotations

import base64
import functools
import os
import time
from typing import Any

from .jobs import FINISHED, JobManager
from .profile import Profiler

_LOCAL = "local"


class LocalBackend:
    """Jobs run by a :class:`JobManager` in this process's workers."""

    def __init__(self, **options: Any):
        self.manager = JobManager(**options).start()

    def submit(self, options, payload, sources, scripts) -> dict:
        return self.manager.submit(_LOCAL, options, payload, sources, scripts).status()

    def status(self, job_id: str) -> dict:
        job = self.manager.get(job_id, _LOCAL)
        if job is None:
            raise KeyError(f"no job {job_id}")
        return job.status()

    def results(self, job_id: str) -> dict:
        job = self.manager.get(job_id, _LOCAL)
        if job is None:
            raise KeyError(f"no job {job_id}")
        return {
            **job.status(),
            "results": job.results,
            "best": job.best,
            "scripts": job.script_results,
        }

    def cancel(self, job_id: str) -> dict:
        job = self.manager.cancel(job_id, _LOCAL)
        if job is None:
            raise KeyError(f"no job {job_id}")
        return job.status()

    def close(self) -> None:
        self.manager.close()


class RemoteBackend:
    """Jobs sent to a ``stratum serve`` (merged with its other clients')."""

    def __init__(self, url: str, token: str | None = None):
        from .client import Client

        self.client = Client(url, token)

    def submit(self, options, payload, sources, scripts) -> dict:
        body: dict[str, Any] = {
            "sources": sources,
            "scripts": scripts,
            "options": options,
        }
        if payload is not None:
            body["pipelines"] = base64.b64encode(payload).decode()
        return self.client._request("POST", "/v1/jobs", json=body)

    def status(self, job_id: str) -> dict:
        return self.client.status(job_id)

    def results(self, job_id: str) -> dict:
        status = self.client.status(job_id)
        if status["state"] != "done":
            return {**status, "results": None, "best": None}
        return self.client._request("GET", f"/v1/jobs/{job_id}/results")

    def cancel(self, job_id: str) -> dict:
        return self.client.cancel(job_id)

    def close(self) -> None:
        self.client.close()


def _records(payload: dict, limit: int | None) -> dict:
    """A job's results for a tool answer: rows as records, best first."""
    table = payload.get("results")
    out = {
        k: payload.get(k)
        for k in (
            "id",
            "state",
            "error",
            "batch",
            "batch_jobs",
            "merged_with",
            "best",
            "scripts",
        )
    }
    if table is not None:
        rows = [dict(zip(table["columns"], row)) for row in table["rows"]]
        out["n_rows"] = len(rows)
        out["results"] = rows if limit is None else rows[:limit]
    else:
        out["progress"] = payload.get("progress")
    return out


def build_server(backend, profiler: Profiler | None = None):
    """The MCP server exposing ``backend`` and ``profiler`` as tools."""
    import anyio

    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:  # mcp < 2
        from mcp.server.fastmcp import FastMCP as MCPServer
        from mcp.server.fastmcp.exceptions import ToolError

    def tool(fn):
        """Register ``fn``; its errors reach the caller with their message."""

        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            try:
                return await fn(*args, **kwargs)
            except ToolError:
                raise
            except Exception as error:
                raise ToolError(f"{type(error).__name__}: {error}") from error

        server.tool()(wrapper)
        return wrapper

    profiler = profiler or Profiler()
    server = MCPServer(
        "stratum",
        instructions=(
            "Evaluate batches of skrub pipelines with stratum: shared work is "
            "computed once, results are exactly skrub's. Write each pipeline "
            "source as Python that defines `pipelines` (a dict name -> skrub "
            "DataOp, or a list) or `pipeline`. Profile a table before writing "
            "pipelines for it."
        ),
    )

    async def wait_for(job_id: str, seconds: float) -> dict:
        end = time.monotonic() + max(0.0, seconds)
        while True:
            status = await anyio.to_thread.run_sync(backend.status, job_id)
            if status["state"] in FINISHED or time.monotonic() >= end:
                return status
            await anyio.sleep(0.1)

    @tool
    async def evaluate(
        sources: list[str] | None = None,
        scripts: list[str] | None = None,
        pipelines_base64: str | None = None,
        cv: int = 5,
        scoring: str | list[str] | None = None,
        n_iter: int | None = None,
        random_state: int | None = None,
        timeout: float | None = None,
        wait_seconds: float = 600.0,
        max_rows: int | None = 50,
    ) -> dict:
        """Evaluate a batch of skrub pipelines with cross-validation.

        `sources`: Python source texts, each defining `pipelines` (dict name ->
        DataOp, or list) or `pipeline` (one DataOp). `pipelines_base64`:
        base64 cloudpickle of such a dict or list. `scripts`: whole agent
        scripts (Python texts using skrub's searches) run unmodified, their
        searches batched; each one's stdout, stderr and exit code are in
        `scripts` of the answer. Returns the results table
        (one row per pipeline and configuration: params, scores, status,
        error), the best configuration, and the job id for `get_results` if
        the job is still running after `wait_seconds`.
        """
        payload = (
            base64.b64decode(pipelines_base64, validate=True)
            if pipelines_base64
            else None
        )
        if payload is None and not sources and not scripts:
            raise ValueError("give `sources`, `scripts` or `pipelines_base64`")
        options = {
            "cv": cv,
            "scoring": scoring,
            "n_iter": n_iter,
            "random_state": random_state,
            "refit": True,
            "return_train_score": False,
            "timeout": timeout,
        }
        status = await anyio.to_thread.run_sync(
            backend.submit, options, payload, list(sources or []), list(scripts or [])
        )
        status = await wait_for(status["id"], wait_seconds)
        if status["state"] != "done":
            return _records(status, max_rows)
        payload = await anyio.to_thread.run_sync(backend.results, status["id"])
        return _records(payload, max_rows)

    @tool
    async def get_results(
        job_id: str, wait_seconds: float = 0.0, max_rows: int | None = None
    ) -> dict:
        """The state and, once done, the results of a job from `evaluate`."""
        status = await wait_for(job_id, wait_seconds)
        if status["state"] != "done":
            return _records(status, max_rows)
        payload = await anyio.to_thread.run_sync(backend.results, job_id)
        return _records(payload, max_rows)

    @tool
    async def cancel(job_id: str) -> dict:
        """Cancel a job from `evaluate`."""
        return await anyio.to_thread.run_sync(backend.cancel, job_id)

    @tool
    async def profile_table(path: str) -> dict:
        """Profile a CSV, TSV or Parquet file: rows, and per column its dtype,
        kind (numeric, categorical, text, datetime, bool), number of distinct
        values, missing rate and a short summary. Cached by file content."""
        return await anyio.to_thread.run_sync(profiler.profile_path, path)

    return server


def run(
    url: str | None = None,
    window: float = 0.2,
    job_timeout: float = 600.0,
    n_jobs: int = -1,
    cache_dir: str | None = None,
) -> None:
    """Serve the MCP tools over stdio until the client disconnects."""
    if url:
        backend = RemoteBackend(url, os.environ.get("STRATUM_SERVE_TOKEN"))
    else:
        backend = LocalBackend(
            window=window, job_timeout=job_timeout, n_jobs=n_jobs, cache_dir=cache_dir
        )
    profiles = os.path.join(cache_dir, "profiles") if cache_dir else None
    try:
        build_server(backend, Profiler(profiles)).run()
    finally:
        backend.close()
