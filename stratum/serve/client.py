"""``stratum.Client``: submit pipelines to a ``stratum serve`` and get results."""

from __future__ import annotations

import base64
import os
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .._extras import install_hint

FINISHED = ("done", "failed", "cancelled", "timeout")


class ServeError(RuntimeError):
    """The server refused a request, or a job did not produce results."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Job:
    """A submitted job: a handle on its status and results."""

    def __init__(self, client: "Client", status: dict):
        self.client = client
        self.id: str = status["id"]
        self.submitted_status = status

    def status(self) -> dict:
        return self.client.status(self.id)

    def results(self) -> pd.DataFrame:
        return self.client.results(self.id)

    def wait(self, timeout: float | None = None) -> pd.DataFrame:
        return self.client.wait(self.id, timeout=timeout)

    def cancel(self) -> dict:
        return self.client.cancel(self.id)

    def __repr__(self) -> str:
        return f"<stratum Job {self.id}>"


class Client:
    """A client of ``stratum serve``.

    Parameters
    ----------
    url : str
        The server, e.g. ``"http://127.0.0.1:8765"``.
    token : str, optional
        The bearer token (default: ``STRATUM_SERVE_TOKEN``).
    timeout : float
        Seconds for each HTTP request.
    retry_seconds : float
        How long a request is tried again while the server cannot be
        reached (a restart): submissions carry an ``Idempotency-Key``, so a
        retried one is never run twice.

    Examples
    --------
    >>> client = stratum.Client("http://127.0.0.1:8765", token)  # doctest: +SKIP
    >>> job = client.submit({"ridge": pred}, cv=5, scoring="r2")  # doctest: +SKIP
    >>> table = job.wait()          # stratum.search(...).results_  # doctest: +SKIP
    >>> table.attrs["best"]         # pipeline, params, score       # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 60.0,
        retry_seconds: float = 60.0,
    ):
        try:
            import httpx
        except ImportError as error:
            raise ImportError(
                f"stratum.Client needs httpx: {install_hint('serve')}"
            ) from error

        token = token or os.environ.get("STRATUM_SERVE_TOKEN")
        if not token:
            raise ValueError(
                "a token is needed: pass token= or set STRATUM_SERVE_TOKEN"
            )
        self.url = url.rstrip("/")
        self.retry_seconds = retry_seconds
        self._transport_error = httpx.TransportError
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def submit(
        self,
        pipelines: Mapping[str, Any] | Sequence[Any] | Any = None,
        *,
        sources: Sequence[str] = (),
        scripts: Sequence[str] = (),
        cv: int = 5,
        scoring: str | list[str] | None = None,
        n_iter: int | None = None,
        random_state: int | None = None,
        refit: bool | str = True,
        return_train_score: bool = False,
        timeout: float | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Submit a batch; it may be merged with other clients' submissions.

        Parameters
        ----------
        pipelines : dict name -> DataOp, list of DataOps, or unfitted skrub searches
            Serialized with cloudpickle (local functions travel by value).
        sources : list of str
            Python source texts, each defining ``pipelines`` or ``pipeline``;
            they run on the server's workers.
        scripts : list of str
            Agent scripts (Python source texts) run unmodified, as by
            ``stratum run``: their searches and cross-validations are
            evaluated in one shared batch. What each printed is in the
            results' ``attrs["scripts"]``.
        cv, scoring, n_iter, random_state, return_train_score :
            As in :func:`stratum.search` (ignored for skrub searches, which
            carry their own).
        refit : bool or str
            With several scorers, the one that ranks the best configuration.
        timeout : float, optional
            Seconds the job may run (the server caps it).
        idempotency_key : str, optional
            Submitting again with the same key returns the first submission's
            job (default: a new random key, so that the retries of this call
            after a lost connection never submit twice).
        """
        body: dict[str, Any] = {
            "sources": list(sources),
            "scripts": list(scripts),
            "options": {
                "cv": cv,
                "scoring": scoring,
                "n_iter": n_iter,
                "random_state": random_state,
                "refit": refit,
                "return_train_score": return_train_score,
                "timeout": timeout,
            },
        }
        if pipelines is not None:
            import cloudpickle

            body["pipelines"] = base64.b64encode(cloudpickle.dumps(pipelines)).decode()
        key = idempotency_key or secrets.token_hex(16)
        headers = {"Idempotency-Key": key}
        return Job(self, self._request("POST", "/v1/jobs", json=body, headers=headers))

    def status(self, job: Job | str) -> dict:
        """The job's state (queued, running, done, failed, cancelled, timeout),
        batch, merged jobs, progress and error."""
        return self._request("GET", f"/v1/jobs/{_id(job)}")

    def results(self, job: Job | str) -> pd.DataFrame:
        """The job's results table, as ``stratum.search(...).results_``.

        ``attrs`` holds ``best`` (pipeline, params, score, metric), ``job``,
        ``batch``, ``batch_jobs``, ``merged_with``, ``stats`` (of the search
        the job was part of) and ``scripts`` (per
        submitted script: status, exit code, stdout, stderr, ...).
        """
        return results_frame(self._request("GET", f"/v1/jobs/{_id(job)}/results"))

    def wait(
        self, job: Job | str, timeout: float | None = None, poll: float = 0.1
    ) -> pd.DataFrame:
        """Wait for the job to finish and return its results."""
        end = None if timeout is None else time.monotonic() + timeout
        delay = min(poll, 0.05)
        while True:
            state = self.status(job)
            if state["state"] in FINISHED:
                return self.results(job)
            if end is not None and time.monotonic() > end:
                raise TimeoutError(f"job {_id(job)} is still {state['state']}")
            time.sleep(delay)
            delay = min(poll, delay * 1.5)

    def cancel(self, job: Job | str) -> dict:
        """Cancel the job; returns its status."""
        return self._request("POST", f"/v1/jobs/{_id(job)}/cancel")

    def jobs(self) -> list[dict]:
        """The status of every job this token submitted."""
        return self._request("GET", "/v1/jobs")

    def health(self) -> dict:
        return self._request("GET", "/v1/health")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs) -> Any:
        """One request; while the server cannot be reached (restarting),
        tried again for ``retry_seconds``."""
        deadline = time.monotonic() + self.retry_seconds
        pause = 0.1
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
                break
            except self._transport_error:
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(2 * pause, 1.0)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            raise ServeError(
                f"{method} {path}: {response.status_code}: {detail}",
                response.status_code,
            )
        return response.json()


def results_frame(payload: dict) -> pd.DataFrame:
    """A results payload as a DataFrame (missing scores as NaN)."""
    table = payload["results"]
    frame = pd.DataFrame.from_records(table["rows"], columns=table["columns"])
    for column in frame.columns:
        if column.startswith(("mean_", "std_", "split")):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame.attrs.update(
        best=payload.get("best"),
        job=payload.get("id"),
        batch=payload.get("batch"),
        batch_jobs=payload.get("batch_jobs", []),
        merged_with=payload.get("merged_with", []),
        stats=payload.get("stats", {}),
        scripts=payload.get("scripts"),
    )
    return frame


def _id(job: Job | str) -> str:
    return job.id if isinstance(job, Job) else str(job)
