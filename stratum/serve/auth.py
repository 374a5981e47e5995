"""Bearer tokens: where they come from, when they expire, how a request is
checked.

A token is given as ``SECRET`` or ``SECRET@EXPIRY``, where ``EXPIRY`` is an ISO
8601 date or time (UTC unless it names its offset), e.g.
``s3cret@2027-01-31`` or ``s3cret@2027-01-31T18:00:00+01:00``. Past its expiry
a token is refused with 401 and a message saying when it expired.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import NamedTuple

ENV_TOKENS = "STRATUM_SERVE_TOKENS"


@dataclass(frozen=True)
class Token:
    """A bearer token and its expiry (seconds since the epoch, or None)."""

    secret: str
    expires: float | None = None

    @classmethod
    def parse(cls, text: str) -> Token:
        secret, at, expiry = text.strip().rpartition("@")
        if not at:
            return cls(expiry)
        if not secret:
            raise ValueError(f"token {_hint(text)} has an expiry but no secret")
        try:
            moment = datetime.fromisoformat(expiry.strip())
        except ValueError:
            raise ValueError(
                f"token {_hint(text)}: {expiry.strip()!r} is not an ISO 8601 date "
                "or time (e.g. SECRET@2027-01-31 or SECRET@2027-01-31T18:00:00Z)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return cls(secret, moment.timestamp())

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires

    def expiry_text(self) -> str:
        moment = datetime.fromtimestamp(self.expires, tz=timezone.utc)
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _hint(text: str) -> str:
    """A token in an error message: its first characters only."""
    return repr(text.strip()[:4] + "...")


def load_tokens(
    tokens: list[str] | None = None, ttl: float | None = None
) -> tuple[list[Token], bool]:
    """The accepted tokens, and whether they were generated here.

    Explicit ``tokens`` first, else the comma-separated ``STRATUM_SERVE_TOKENS``,
    else one new random token (to be printed for the operator), valid for
    ``ttl`` seconds when given.
    """
    found = [t for t in (tokens or []) if t and t.strip()]
    if not found:
        found = [t for t in os.environ.get(ENV_TOKENS, "").split(",") if t.strip()]
    if found:
        return [Token.parse(t) for t in found], False
    expires = None if ttl is None else time.time() + ttl
    return [Token(secrets.token_urlsafe(32), expires)], True


def owner_id(secret: str) -> str:
    """What a job records about who submitted it (never the token itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


class Refusal(NamedTuple):
    """Why a request is refused: its HTTP status, a message, and the
    ``WWW-Authenticate`` challenge of a 401."""

    status: int
    message: str
    challenge: str | None = "Bearer"


class TokenChecker:
    """Checks ``Authorization: Bearer <token>`` values in constant time."""

    def __init__(self, tokens: list[Token | str], clock=time.time):
        if not tokens:
            raise ValueError("at least one token is needed")
        self._tokens = [t if isinstance(t, Token) else Token.parse(t) for t in tokens]
        self._clock = clock

    def check(self, header: str | None) -> Refusal | str:
        """The caller's owner id, or a ``Refusal``."""
        if not header:
            return Refusal(401, "missing Authorization header: use 'Bearer <token>'")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Refusal(401, "malformed Authorization header: use 'Bearer <token>'")
        given = token.strip().encode()
        match = None
        for known in self._tokens:
            if hmac.compare_digest(given, known.secret.encode()):
                match = known
        if match is None:
            return Refusal(403, "invalid token", None)
        if match.expired(self._clock()):
            return Refusal(
                401,
                f"token expired at {match.expiry_text()}: ask for a new one",
                'Bearer error="invalid_token", error_description="token expired"',
            )
        return owner_id(match.secret)
