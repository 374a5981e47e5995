"""Durable jobs: ``stratum serve``'s job records, payloads and results in an
embedded SQLite database.

A submission is written (and synced) before the server acknowledges it; each
change of state and each result is written as it happens. After a restart,
or after the server was killed, :meth:`JobStore.load` gives every job back:
finished ones with their results, the others to run again. The database runs
in WAL mode, so a reader never waits for the writer; one connection, used
under a lock, serves the server's threads.

Finished jobs are kept by age and total size (``keep_seconds``,
``keep_bytes``): the oldest finished jobs are dropped first.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    idempotency_key TEXT,
    submitted REAL NOT NULL,
    options TEXT NOT NULL,
    payload BLOB,
    sources TEXT NOT NULL,
    scripts TEXT NOT NULL,
    state TEXT NOT NULL,
    record TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    finished REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency
    ON jobs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished);
"""

# What a job learns while it runs (kept as one JSON record).
RECORD_FIELDS = (
    "batch",
    "batch_jobs",
    "merged_with",
    "started",
    "finished",
    "error",
    "results",
    "best",
    "progress",
    "script_results",
    "stats",
    "attempts",
)


class StoreError(OSError):
    """The job database cannot take the write (disk full, read-only, closed)."""


class JobStore:
    """Jobs in ``<state_dir>/jobs.sqlite3``."""

    def __init__(
        self,
        state_dir: str | os.PathLike,
        keep_seconds: float | None = None,
        keep_bytes: int | None = None,
    ):
        os.makedirs(state_dir, exist_ok=True)
        self.path = os.path.join(os.fspath(state_dir), "jobs.sqlite3")
        self.keep_seconds = keep_seconds
        self.keep_bytes = keep_bytes
        self.lock = threading.Lock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def _write(self, sql: str, args: tuple) -> None:
        try:
            with self.lock, self.db:
                self.db.execute(sql, args)
        except sqlite3.Error as error:
            raise StoreError(f"the job database cannot be written: {error}") from error

    def add(self, job: Any, idempotency_key: str | None) -> None:
        """Record a new submission (before it is acknowledged)."""
        self._write(
            "INSERT INTO jobs (id, owner, idempotency_key, submitted, options,"
            " payload, sources, scripts, state, record, size)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.owner,
                idempotency_key,
                job.submitted,
                json.dumps(job.options),
                job.payload,
                json.dumps(job.sources),
                json.dumps(job.scripts),
                job.state,
                _record(job),
                len(job.payload or b""),
            ),
        )

    def find(self, owner: str, idempotency_key: str) -> str | None:
        """The id of ``owner``'s job submitted with ``idempotency_key``."""
        with self.lock:
            row = self.db.execute(
                "SELECT id FROM jobs WHERE owner = ? AND idempotency_key = ?",
                (owner, idempotency_key),
            ).fetchone()
        return None if row is None else row[0]

    def update(self, job: Any) -> None:
        """Record a change of state (and, once finished, drop the payload)."""
        record = _record(job)
        finished = job.finished if job.payload is None else None
        self._write(
            "UPDATE jobs SET state = ?, record = ?, finished = ?,"
            " payload = CASE WHEN ? THEN NULL ELSE payload END,"
            " sources = CASE WHEN ? THEN '[]' ELSE sources END,"
            " scripts = CASE WHEN ? THEN '[]' ELSE scripts END,"
            " size = ? WHERE id = ?",
            (
                job.state,
                record,
                finished,
                finished is not None,
                finished is not None,
                finished is not None,
                len(record) + len(job.payload or b""),
                job.id,
            ),
        )

    def load(self) -> list[dict]:
        """Every job, oldest first: its columns and its record."""
        self.trim()
        with self.lock:
            rows = self.db.execute(
                "SELECT id, owner, submitted, options, payload, sources, scripts,"
                " state, record FROM jobs ORDER BY submitted"
            ).fetchall()
        jobs = []
        for (
            id_,
            owner,
            submitted,
            options,
            payload,
            sources,
            scripts,
            state,
            rec,
        ) in rows:
            jobs.append(
                {
                    "id": id_,
                    "owner": owner,
                    "submitted": submitted,
                    "options": json.loads(options),
                    "payload": payload,
                    "sources": json.loads(sources),
                    "scripts": json.loads(scripts),
                    "state": state,
                    **json.loads(rec),
                }
            )
        return jobs

    def trim(self) -> list[str]:
        """Drop finished jobs past ``keep_seconds``, then the oldest finished
        ones until they fit in ``keep_bytes``; returns the ids dropped."""
        dropped: list[str] = []
        with self.lock, self.db:
            if self.keep_seconds is not None:
                limit = time.time() - self.keep_seconds
                rows = self.db.execute(
                    "SELECT id FROM jobs WHERE finished IS NOT NULL AND finished < ?",
                    (limit,),
                ).fetchall()
                dropped += [r[0] for r in rows]
                self.db.execute(
                    "DELETE FROM jobs WHERE finished IS NOT NULL AND finished < ?",
                    (limit,),
                )
            if self.keep_bytes is not None:
                rows = self.db.execute(
                    "SELECT id, size FROM jobs WHERE finished IS NOT NULL"
                    " ORDER BY finished DESC"
                ).fetchall()
                total, old = 0, []
                for id_, size in rows:
                    total += size
                    if total > self.keep_bytes:
                        old.append(id_)
                for id_ in old:
                    self.db.execute("DELETE FROM jobs WHERE id = ?", (id_,))
                dropped += old
        return dropped

    def close(self) -> None:
        with self.lock:
            self.db.close()


def _record(job: Any) -> str:
    return json.dumps({name: getattr(job, name) for name in RECORD_FIELDS})
