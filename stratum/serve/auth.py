"""Bearer tokens: where they come from and how a request is checked."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

ENV_TOKENS = "STRATUM_SERVE_TOKENS"


def load_tokens(tokens: list[str] | None = None) -> tuple[list[str], bool]:
    """The accepted tokens, and whether they were generated here.

    Explicit ``tokens`` first, else the comma-separated ``STRATUM_SERVE_TOKENS``,
    else one new random token (to be printed for the operator).
    """
    found = [t.strip() for t in (tokens or []) if t and t.strip()]
    if not found:
        found = [
            t.strip() for t in os.environ.get(ENV_TOKENS, "").split(",") if t.strip()
        ]
    if found:
        return found, False
    return [secrets.token_urlsafe(32)], True


def owner_id(token: str) -> str:
    """What a job records about who submitted it (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class TokenChecker:
    """Checks ``Authorization: Bearer <token>`` values in constant time."""

    def __init__(self, tokens: list[str]):
        if not tokens:
            raise ValueError("at least one token is needed")
        self._tokens = [t.encode() for t in tokens]

    def check(self, header: str | None) -> tuple[int, str] | str:
        """The caller's owner id, or ``(status, message)`` when refused."""
        if not header:
            return 401, "missing Authorization header: use 'Bearer <token>'"
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401, "malformed Authorization header: use 'Bearer <token>'"
        token = token.strip()
        given = token.encode()
        ok = False
        for known in self._tokens:
            ok |= hmac.compare_digest(given, known)
        if not ok:
            return 403, "invalid token"
        return owner_id(token)
