"""The HTTP API of ``stratum serve`` (FastAPI).

Every route needs ``Authorization: Bearer <token>``; a job is visible only to
the token that submitted it (404 for any other). Pipelines arrive as base64
cloudpickle bytes and are stored as bytes: they are unpickled in the worker
processes only (see :mod:`stratum.serve.jobs`).
"""

from __future__ import annotations

import base64
import binascii
import json
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from .auth import Refusal, TokenChecker
from .job_store import StoreError
from .jobs import FINISHED, JobManager

API = "/v1"

_ERRORS = {
    401: {"description": "Missing or malformed Authorization header, or expired token"},
    403: {"description": "Unknown token"},
    413: {"description": "Request body over the size limit"},
}
_NOT_FOUND = {404: {"description": "No such job for this token"}}


class SearchOptions(BaseModel):
    """How each pipeline is evaluated (as ``stratum.search``)."""

    model_config = ConfigDict(extra="forbid")

    cv: int = Field(5, ge=2, le=100, description="number of folds (KFold)")
    scoring: str | list[str] | None = Field(
        None, description="scikit-learn scorer name(s); default: the estimator's"
    )
    n_iter: int | None = Field(
        None, ge=1, le=100_000, description="sample this many configurations"
    )
    random_state: int | None = Field(None, ge=0, le=2**32 - 1)
    refit: bool | str = Field(
        True, description="with several scorers, the one that ranks ('best')"
    )
    return_train_score: bool = False
    timeout: float | None = Field(
        None, gt=0, le=1e7, description="seconds (capped by the server's limit)"
    )


class SubmitRequest(BaseModel):
    """A batch of pipelines from one client."""

    model_config = ConfigDict(extra="forbid")

    pipelines: str | None = Field(
        None,
        description="base64 of cloudpickle bytes: a dict name -> skrub DataOp, "
        "a list of DataOps, or a list/dict of unfitted skrub searches",
    )
    sources: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Python source texts, each defining `pipelines` (dict or "
        "list of DataOps) or `pipeline` (a DataOp)",
    )
    scripts: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="agent scripts (Python source texts) run unmodified as by "
        "`stratum run`: their searches join one shared batch",
    )
    options: SearchOptions = Field(default_factory=SearchOptions)


class ScriptOutcome(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    status: str
    exit_code: int | None
    stdout: str
    stderr: str


class Progress(BaseModel):
    model_config = ConfigDict(extra="allow")


class JobStatus(BaseModel):
    id: str
    state: Literal["queued", "running", "done", "failed", "cancelled", "timeout"]
    batch: str | None = Field(None, description="the batch the job ran in")
    batch_jobs: list[str] = Field(description="every job of that batch")
    merged_with: list[str] = Field(
        description="jobs evaluated in the same stratum.search call"
    )
    submitted: float
    started: float | None
    finished: float | None
    error: str | None
    progress: dict[str, Any]
    stats: dict[str, Any] = Field(
        default_factory=dict,
        description="of the search the job was part of: pipelines submitted "
        "and evaluated, tasks executed, results reused from earlier batches",
    )


class Best(BaseModel):
    pipeline: str
    params: dict[str, Any]
    score: float | None
    metric: str


class Table(BaseModel):
    columns: list[str]
    rows: list[list[Any]]


class JobResults(JobStatus):
    results: Table = Field(description="stratum.search(...).results_ of the job")
    best: Best | None
    scripts: list[ScriptOutcome] | None = Field(
        None, description="what each submitted script did"
    )


class Health(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: str


def create_app(
    manager: JobManager,
    tokens: list[str],
    max_payload: int = 64 * 2**20,
    start_manager: bool = True,
) -> FastAPI:
    """The FastAPI application serving ``manager`` to holders of ``tokens``."""
    checker = TokenChecker(tokens)

    @asynccontextmanager
    async def lifespan(app):
        if start_manager:
            manager.start()
        try:
            yield
        finally:
            if start_manager:
                manager.close()

    app = FastAPI(
        title="stratum serve",
        version="1",
        description="Batched evaluation of skrub pipelines for many clients.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.manager = manager

    def owner(request: Request) -> str:
        checked = checker.check(request.headers.get("authorization"))
        if isinstance(checked, Refusal):
            headers = (
                {"WWW-Authenticate": checked.challenge} if checked.challenge else None
            )
            raise HTTPException(checked.status, checked.message, headers=headers)
        return checked

    @app.get(f"{API}/health", response_model=Health, responses=_ERRORS)
    def health(who: str = Depends(owner)) -> dict:
        return {"status": "ok", **manager.info()}

    @app.post(
        f"{API}/jobs",
        status_code=202,
        response_model=JobStatus,
        responses={
            **_ERRORS,
            422: {"description": "Malformed submission"},
            507: {"description": "The job database cannot record the job"},
        },
    )
    def submit(
        body: SubmitRequest,
        who: str = Depends(owner),
        idempotency_key: str | None = Header(
            None,
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="a retried submission with the same key returns the "
            "first job instead of running again (per token)",
        ),
    ) -> dict:
        payload = None
        if body.pipelines is not None:
            try:
                payload = base64.b64decode(body.pipelines, validate=True)
            except (binascii.Error, ValueError) as error:
                raise HTTPException(
                    422, f"`pipelines` is not valid base64: {error}"
                ) from error
            if not payload:
                raise HTTPException(422, "`pipelines` is empty")
        if payload is None and not body.sources and not body.scripts:
            raise HTTPException(
                422, "nothing to run: give `pipelines`, `sources` or `scripts`"
            )
        if any(not s.strip() for s in body.sources):
            raise HTTPException(422, "`sources` holds an empty source text")
        if any(not s.strip() for s in body.scripts):
            raise HTTPException(422, "`scripts` holds an empty script")
        _check_scoring(body.options.scoring)
        options = body.options.model_dump()
        try:
            job = manager.submit(
                who,
                options,
                payload,
                body.sources,
                body.scripts,
                idempotency_key=idempotency_key,
            )
        except StoreError as error:
            raise HTTPException(507, f"the job was not accepted: {error}") from error
        return job.status()

    @app.get(f"{API}/jobs", response_model=list[JobStatus], responses=_ERRORS)
    def list_jobs(who: str = Depends(owner)) -> list[dict]:
        return [job.status() for job in manager.list(who)]

    @app.get(
        f"{API}/jobs/{{job_id}}",
        response_model=JobStatus,
        responses={**_ERRORS, **_NOT_FOUND},
    )
    def status(job_id: str, who: str = Depends(owner)) -> dict:
        return _job(manager, job_id, who).status()

    @app.get(
        f"{API}/jobs/{{job_id}}/results",
        response_model=JobResults,
        responses={
            **_ERRORS,
            **_NOT_FOUND,
            409: {"description": "The job has not finished or has no results"},
        },
    )
    def results(job_id: str, who: str = Depends(owner)) -> dict:
        job = _job(manager, job_id, who)
        if job.state not in FINISHED:
            raise HTTPException(409, f"job {job_id} is {job.state}: no results yet")
        if job.state != "done":
            raise HTTPException(409, f"job {job_id} is {job.state}: {job.error}")
        return {
            **job.status(),
            "results": job.results,
            "best": job.best,
            "scripts": job.script_results,
        }

    @app.post(
        f"{API}/jobs/{{job_id}}/cancel",
        response_model=JobStatus,
        responses={**_ERRORS, **_NOT_FOUND},
    )
    def cancel(job_id: str, who: str = Depends(owner)) -> dict:
        job = manager.cancel(job_id, who)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return job.status()

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(who: str = Depends(owner)) -> JSONResponse:
        return JSONResponse(app.openapi())

    return BodyLimit(app, max_payload)


def _job(manager: JobManager, job_id: str, who: str):
    job = manager.get(job_id, who)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job


def _check_scoring(scoring: str | list[str] | None) -> None:
    if scoring is None:
        return
    from sklearn.metrics import get_scorer_names

    names = [scoring] if isinstance(scoring, str) else scoring
    if not names:
        raise HTTPException(422, "`scoring` is an empty list")
    known = set(get_scorer_names())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise HTTPException(
            422, f"unknown scorer(s) {unknown}; see sklearn.metrics.get_scorer_names()"
        )
    if len(set(names)) != len(names):
        raise HTTPException(422, f"`scoring` repeats a scorer: {names}")


class BodyLimit:
    """ASGI wrapper refusing request bodies over ``limit`` bytes with 413,
    from the Content-Length header or while the body streams in."""

    def __init__(self, app: FastAPI, limit: int):
        self.app = app
        self.limit = limit

    @property
    def state(self):
        return self.app.state

    def openapi(self) -> dict:
        return self.app.openapi()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    return await _reply(send, 400, "invalid Content-Length header")
                if size > self.limit:
                    return await _reply(send, 413, self._message(size))
        received = 0

        async def limited():
            # FastAPI lets an HTTPException raised while reading the body
            # through as the response.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, self._message(received))
            return message

        await self.app(scope, limited, send)

    def _message(self, size: int) -> str:
        return f"request body of {size} bytes is over the limit of {self.limit} bytes"


async def _reply(send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    tokens: list[str] | None = None,
    max_payload: int = 64 * 2**20,
    token_ttl: float | None = None,
    **manager_options: Any,
) -> None:
    """Run ``stratum serve`` until interrupted (see :class:`JobManager`).

    ``tokens``: ``SECRET`` or ``SECRET@EXPIRY`` (see ``auth``); ``token_ttl``:
    seconds the generated token is valid, when none is given."""
    import sys

    import uvicorn

    from .auth import ENV_TOKENS, load_tokens

    try:
        tokens, generated = load_tokens(tokens, ttl=token_ttl)
    except ValueError as error:
        raise SystemExit(f"stratum serve: {ENV_TOKENS}: {error}") from None
    if generated:
        until = f" (valid until {tokens[0].expiry_text()})" if tokens[0].expires else ""
        print(
            f"stratum serve: no {ENV_TOKENS} set; clients must send{until}\n"
            f"  Authorization: Bearer {tokens[0].secret}",
            file=sys.stderr,
            flush=True,
        )
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"stratum serve: listening on {host}, beyond this machine; requests "
            "are not encrypted: put the service behind TLS",
            file=sys.stderr,
            flush=True,
        )
    manager = JobManager(**manager_options)
    app = create_app(manager, tokens, max_payload=max_payload)
    print(
        f"stratum serve: http://{host}:{port} ({manager.n_workers} worker(s), "
        f"batching window {manager.window:g} s)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
