"""Jobs: the registry, the batching window and the worker processes.

A submitted job waits in a queue. When a worker process is free and the
oldest waiting job has waited ``window`` seconds, every waiting job (up to
``max_batch_jobs``) becomes one batch, sent to that worker. Jobs with the same
search options run as one ``stratum.search`` call there (their common work is
done once); the rest of the batch runs in the same worker right after, reusing
the worker's session.

The server side only keeps bytes and metadata: payloads go to the worker
unopened, and the worker answers with JSON.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import secrets
import signal
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

FINISHED = ("done", "failed", "cancelled", "timeout")


@dataclass
class Job:
    """One submission and what became of it."""

    id: str
    owner: str
    options: dict
    payload: bytes | None
    sources: list[str]
    scripts: list[str] = field(default_factory=list)
    submitted: float = field(default_factory=time.time)
    state: str = "queued"  # queued, running, done, failed, cancelled, timeout
    batch: str | None = None
    batch_jobs: list[str] = field(default_factory=list)
    merged_with: list[str] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    results: dict | None = None
    best: dict | None = None
    progress: dict = field(default_factory=dict)
    script_results: list | None = None
    stats: dict = field(default_factory=dict)
    deadline: float | None = None  # monotonic, while running
    attempts: int = 0
    alone: bool = False  # run in a batch of its own (its worker died with others)

    def status(self) -> dict[str, Any]:
        """What a client may see while the job runs (no results)."""
        return {
            "id": self.id,
            "state": self.state,
            "batch": self.batch,
            "batch_jobs": list(self.batch_jobs),
            "merged_with": list(self.merged_with),
            "submitted": self.submitted,
            "started": self.started,
            "finished": self.finished,
            "error": self.error,
            "progress": dict(self.progress),
            "stats": dict(self.stats),
        }


class _Worker:
    """One worker process and the batch it is running."""

    def __init__(self, manager: "JobManager", index: int):
        self.manager = manager
        self.index = index
        self.batch: str | None = None
        self.jobs: list[Job] = []
        self.current: set[str] = set()
        self.kill_reason: str | None = None
        self.ready = threading.Event()
        self._start()

    def _start(self) -> None:
        from .worker import main

        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=main,
            args=(child, self.manager.worker_config),
            name=f"stratum-worker-{self.index}",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def send(self, header: dict, blobs: list[bytes]) -> None:
        self.conn.send_bytes(json.dumps(header).encode())
        for blob in blobs:
            self.conn.send_bytes(blob)

    def _read(self) -> None:
        conn = self.conn
        while True:
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):
                break
            try:
                message = json.loads(data)
            except ValueError:
                continue
            self.manager._on_message(self, message)
        self.manager._on_worker_exit(self)

    def kill(self, reason: str) -> None:
        """Stop the worker: SIGTERM (it then stops the scripts it runs), and
        SIGKILL if it is still there a moment later."""
        self.kill_reason = reason
        process = self.process
        if not process.is_alive():
            return
        process.terminate()

        def force() -> None:
            process.join(2.0)
            if process.is_alive():
                process.kill()

        threading.Thread(target=force, daemon=True).start()

    def restart(self) -> None:
        self.batch, self.jobs, self.current, self.kill_reason = None, [], set(), None
        self.ready.clear()
        try:
            self.conn.close()
        except OSError:  # pragma: no cover
            pass
        self._start()


class JobManager:
    """Accepts jobs, batches them and runs the batches on worker processes.

    Parameters
    ----------
    workers : int
        Worker processes (each runs one batch at a time, with its own session).
    window : float
        Seconds the first job of a batch waits for others to join it.
    job_timeout : float
        Most seconds a job may run (from the start of its batch); a job may
        ask for less. A batch past its jobs' limits is stopped (its worker is
        killed and replaced).
    max_batch_jobs : int
        Most jobs merged into one batch.
    n_jobs, memory_budget, cache_dir :
        The workers' stratum options; with ``cache_dir`` the workers share
        their results on disk (and keep them across restarts).
    keep_jobs : int
        Finished jobs kept in memory for their clients (oldest forgotten
        first).
    state_dir : path, optional
        Keep every job (its submission, state and results) in a SQLite
        database there (``job_store``), written before a submission is
        acknowledged: after a restart, finished jobs keep their results and
        the others run again. None: in memory only.
    keep_seconds, keep_bytes : optional
        With ``state_dir``, how long and how many bytes of finished jobs the
        database keeps (the oldest are dropped first).
    """

    def __init__(
        self,
        workers: int = 1,
        window: float = 0.5,
        job_timeout: float = 600.0,
        max_batch_jobs: int = 64,
        n_jobs: int = -1,
        memory_budget: str | int | None = None,
        cache_dir: str | None = None,
        keep_jobs: int = 10_000,
        state_dir: str | None = None,
        keep_seconds: float | None = None,
        keep_bytes: int | None = None,
    ):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if window < 0:
            raise ValueError(f"window must be >= 0 seconds, got {window}")
        self.n_workers = workers
        self.window = window
        self.job_timeout = job_timeout
        self.max_batch_jobs = max_batch_jobs
        self.keep_jobs = keep_jobs
        self.worker_config = {
            "n_jobs": n_jobs,
            "memory_budget": memory_budget,
            "cache_dir": cache_dir,
        }
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.queue: list[Job] = []
        self.idempotency: dict[tuple[str, str], str] = {}  # (owner, key) -> id
        self.store = None
        if state_dir is not None:
            from .job_store import JobStore

            self.store = JobStore(state_dir, keep_seconds, keep_bytes)
            self._restore()
        self.batches: dict[str, list[str]] = {}
        self.counts = {"submitted": 0, "batches": 0, "merged_batches": 0}
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._workers: list[_Worker] = []
        self._batch_ids = itertools.count(1)
        self._run = secrets.token_hex(3)  # batch ids stay unique across restarts
        self._closed = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    def _restore(self) -> None:
        """The jobs of the state database: finished ones as they were, the
        others queued again (in the order they were submitted)."""
        for row in self.store.load():
            job = Job(
                row["id"],
                row["owner"],
                row["options"],
                row["payload"],
                row["sources"],
                row["scripts"],
                submitted=row["submitted"],
                state=row["state"],
            )
            for name in ("error", "results", "best", "script_results", "stats"):
                setattr(job, name, row.get(name))
            job.started, job.finished = row.get("started"), row.get("finished")
            job.attempts = row.get("attempts") or 0
            job.stats = job.stats or {}
            self.jobs[job.id] = job
            if job.state not in FINISHED:
                job.state = "queued"  # it ran when the server stopped: again
                self.queue.append(job)
                self.store.update(job)

    def start(self) -> "JobManager":
        with self._lock:
            self._workers = [_Worker(self, i) for i in range(self.n_workers)]
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            workers = list(self._workers)
        for worker in workers:
            worker.kill("the server is shutting down")
        for worker in workers:
            worker.process.join(timeout=5)
        if self.store is not None:
            self.store.close()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait until every worker process has started."""
        end = time.monotonic() + timeout
        return all(
            w.ready.wait(max(0.0, end - time.monotonic())) for w in self._workers
        )

    # -- the API the server uses ----------------------------------------------
    def submit(
        self,
        owner: str,
        options: dict,
        payload: bytes | None = None,
        sources: list[str] | None = None,
        scripts: list[str] | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Queue a job (recorded in the state database first, when there is
        one). A second submission with the same ``idempotency_key`` from the
        same owner returns the first one's job."""
        timeout = options.get("timeout")
        options = dict(options)
        options["timeout"] = (
            self.job_timeout if timeout is None else min(timeout, self.job_timeout)
        )
        job = Job(
            secrets.token_hex(8),
            owner,
            options,
            payload,
            list(sources or []),
            list(scripts or []),
        )
        with self._lock:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            if idempotency_key is not None:
                known = self.idempotency.get((owner, idempotency_key))
                if known is None and self.store is not None:
                    known = self.store.find(owner, idempotency_key)
                if known is not None and known in self.jobs:
                    return self.jobs[known]
            if self.store is not None:
                self.store.add(job, idempotency_key)  # before it is acknowledged
            if idempotency_key is not None:
                self.idempotency[(owner, idempotency_key)] = job.id
            self.jobs[job.id] = job
            self.queue.append(job)
            self.counts["submitted"] += 1
            self._forget_old()
            self._wake.notify_all()
        return job

    def get(self, job_id: str, owner: str) -> Job | None:
        """The job, or None when it does not exist or is someone else's."""
        with self._lock:
            job = self.jobs.get(job_id)
            return job if job is not None and job.owner == owner else None

    def list(self, owner: str) -> list[Job]:
        with self._lock:
            return [j for j in self.jobs.values() if j.owner == owner]

    def cancel(self, job_id: str, owner: str) -> Job | None:
        """Cancel a job: a waiting one never runs; a running one's results are
        dropped, and its worker is stopped when it is running that job now or
        has nothing else to do (the other jobs of the batch then run again)."""
        with self._lock:
            job = self.get(job_id, owner)
            if job is None or job.state in FINISHED:
                return job
            if job.state == "queued":
                self.queue.remove(job)
            self._finish(job, "cancelled", error="cancelled by its client")
            for worker in self._workers:
                if worker.batch is None or job not in worker.jobs:
                    continue
                busy_with = [j for j in worker.jobs if j.id in worker.current]
                if all(j.state in FINISHED for j in worker.jobs) or (
                    busy_with and all(j.state in FINISHED for j in busy_with)
                ):
                    worker.kill("cancelled")
            return job

    def info(self) -> dict[str, Any]:
        with self._lock:
            return {
                "workers": len(self._workers),
                "busy_workers": sum(w.batch is not None for w in self._workers),
                "queued": len(self.queue),
                "window": self.window,
                "job_timeout": self.job_timeout,
                **self.counts,
            }

    # -- batching ---------------------------------------------------------------
    def _loop(self) -> None:
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                self._check_deadlines(now)
                wait = 0.5
                if self.queue:
                    age = time.time() - self.queue[0].submitted
                    free = [
                        w for w in self._workers if w.batch is None and w.ready.is_set()
                    ]
                    if age >= self.window and free:
                        self._dispatch(free[0])
                        continue
                    if age < self.window:
                        wait = min(wait, self.window - age)
                    else:
                        wait = min(wait, 0.05)
                self._wake.wait(timeout=max(wait, 0.005))

    def _dispatch(self, worker: _Worker) -> None:
        if self.queue[0].alone:
            jobs = self.queue[:1]
        else:
            jobs = [j for j in self.queue if not j.alone][: self.max_batch_jobs]
        for job in jobs:
            self.queue.remove(job)
        batch_id = f"b{next(self._batch_ids)}-{self._run}"
        ids = [j.id for j in jobs]
        self.batches[batch_id] = ids
        self.counts["batches"] += 1
        self.counts["merged_batches"] += len(jobs) > 1
        now, clock = time.time(), time.monotonic()
        for job in jobs:
            job.state, job.batch, job.batch_jobs = "running", batch_id, ids
            job.started, job.attempts = now, job.attempts + 1
            self._save(job)
            # The worker stops a search at its job's limit; past this deadline
            # the job is given up (its worker killed if it is running it).
            limit = job.options["timeout"]
            job.deadline = clock + limit + max(2.0, 0.1 * limit)
        worker.batch, worker.jobs, worker.current = batch_id, jobs, set()
        header = {
            "type": "batch",
            "batch": batch_id,
            "jobs": [
                {
                    "id": j.id,
                    "options": j.options,
                    "sources": j.sources,
                    "scripts": j.scripts,
                }
                for j in jobs
            ],
        }
        blobs = [j.payload or b"" for j in jobs]
        try:
            worker.send(header, blobs)
        except OSError as error:
            for job in jobs:
                self._finish(
                    job, "failed", error=f"could not reach the worker: {error}"
                )
            worker.kill("unreachable")

    def _check_deadlines(self, now: float) -> None:
        for worker in self._workers:
            if worker.batch is None or worker.kill_reason is not None:
                continue
            for job in worker.jobs:
                if job.state in FINISHED or job.deadline is None or now < job.deadline:
                    continue
                if job.id in worker.current:
                    worker.kill("timeout")
                    break
                self._finish(job, "timeout", error=_time_limit(job))

    # -- messages from workers ------------------------------------------------------
    def _on_message(self, worker: _Worker, message: dict) -> None:
        kind = message.get("type")
        with self._lock:
            if kind == "ready":
                worker.ready.set()
                self._wake.notify_all()
                return
            if message.get("batch") != worker.batch:
                return
            if kind == "current":
                worker.current = set(message.get("jobs") or [])
            elif kind == "progress":
                for job in worker.jobs:
                    if job.state == "running":
                        job.progress = message.get("progress", {})
            elif kind == "job":
                job = self.jobs.get(message.get("job"))
                if job is None or job.state in FINISHED:
                    return
                job.merged_with = list(message.get("merged_with") or [])
                job.stats = message.get("stats") or {}
                if message.get("state") == "done":
                    job.results = message.get("results")
                    job.best = message.get("best")
                    job.script_results = message.get("scripts")
                    self._finish(job, "done")
                else:
                    self._finish(
                        job, message.get("state", "failed"), message.get("error")
                    )
            elif kind == "done":
                error = message.get("error") or "the worker returned no result"
                for job in worker.jobs:
                    if job.state not in FINISHED:
                        self._finish(job, "failed", error=error)
                worker.batch, worker.jobs, worker.current = None, [], set()
                self._wake.notify_all()

    def _on_worker_exit(self, worker: _Worker) -> None:
        """A worker ended: its batch's unfinished jobs run again, except the
        ones it was running when it stopped for a reason of theirs (their
        time limit) or died on its own (exit, signal, out of memory). A job
        that died among others runs again alone, so that only the job that
        kills its worker fails."""
        worker.process.join(timeout=3)
        with self._lock:
            if self._closed:
                return
            reason = worker.kill_reason
            died = _exit_text(worker.process.exitcode)
            now = time.monotonic()
            unfinished = [j for j in worker.jobs if j.state not in FINISHED]
            suspects = [j for j in unfinished if j.id in worker.current]
            requeue = []
            for job in unfinished:
                overdue = job.deadline is not None and now >= job.deadline
                if reason == "timeout" and job in suspects and overdue:
                    self._finish(job, "timeout", error=_time_limit(job))
                elif (
                    reason is None
                    and job in suspects
                    and (job.alone or len(suspects) == 1)
                ):
                    self._finish(
                        job,
                        "failed",
                        error=f"the worker process {died} while running this job",
                    )
                elif job.attempts < 3:
                    # Stopped because of another job, or died with others.
                    job.alone = job.alone or (reason is None and job in suspects)
                    job.state, job.batch, job.batch_jobs = "queued", None, []
                    job.merged_with, job.started, job.deadline = [], None, None
                    self._save(job)
                    requeue.append(job)
                else:
                    self._finish(
                        job,
                        "failed",
                        error="stopped three times because of other jobs of its "
                        f"batches (last: the worker process {died})",
                    )
            self.queue[:0] = requeue
            worker.restart()
            self._wake.notify_all()

    def _finish(self, job: Job, state: str, error: str | None = None) -> None:
        job.state, job.error, job.finished = state, error, time.time()
        job.payload, job.sources, job.scripts = None, [], []
        self._save(job)

    def _save(self, job: Job) -> None:
        if self.store is None:
            return
        from .job_store import StoreError

        try:
            self.store.update(job)
        except StoreError as error:  # the job goes on; its record lags
            job.stats = {**job.stats, "not_saved": str(error)}

    def _forget_old(self) -> None:
        if self.store is not None:
            for job_id in self.store.trim():
                self.jobs.pop(job_id, None)
        excess = len(self.jobs) - self.keep_jobs
        if excess <= 0:
            return
        for job_id in [k for k, j in self.jobs.items() if j.state in FINISHED][:excess]:
            del self.jobs[job_id]


def _exit_text(code: int | None) -> str:
    """How a worker process ended, in words."""
    if code is None or code >= 0:
        return f"died (exit code {code})"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    if name == "SIGKILL":
        return f"was killed ({name}; the system may have run out of memory)"
    return f"was killed ({name})"


def _time_limit(job: Job) -> str:
    return (
        f"the job ran past its time limit ({job.options['timeout']:g} s) "
        "and was stopped"
    )
