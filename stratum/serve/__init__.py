"""Serving stratum to many clients: an HTTP service, its client, MCP tools.

Submissions from different clients that arrive within a batching window are
compiled and executed together as one stratum batch, in worker processes that
keep a shared lineage store (a :class:`stratum.Session`), so later rounds
reuse the work of earlier ones. The server process only stores bytes and
metadata; submitted pipelines are unpickled and run in the workers only.

``stratum serve`` starts the service (needs the ``serve`` extra: fastapi,
uvicorn, httpx), :class:`stratum.Client` talks to it, ``stratum mcp`` offers
the same as MCP tools (needs the ``mcp`` extra).
"""
