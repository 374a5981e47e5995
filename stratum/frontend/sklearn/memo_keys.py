"""Content keys of estimator calls, and why a call is not shared.

A fit's key is BLAKE2b-256 over the estimator's class (with its definition
when it is the user's own), its canonical parameters
(``get_params(deep=False)``, nested estimators included), the version of its
library, the method, and every argument: data by content (``plan.
fingerprint``: values, dtype, shape, index and column names of pandas, numpy,
scipy sparse and polars inputs), anything else by value. A call on a fitted
estimator (``transform``, ``predict``, ``score`` ...) is keyed by the key of
the fit that produced its state, its current parameters and its arguments.

A call is never shared when its result may differ with the same key:
unseeded randomness (``random_state=None`` where the estimator draws, a
``RandomState`` or ``Generator``), ``warm_start=True``, callbacks, an
argument or parameter with no content key, or attributes of the user's own
estimator that are not its parameters (hidden state).
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...lower import ensembles
from ...plan.keys import encode_params

FIT_METHODS = ("fit", "fit_transform")
STATE_METHODS = (
    "transform",
    "predict",
    "predict_proba",
    "decision_function",
    "score",
)
METHODS = FIT_METHODS + STATE_METHODS
# What scikit-learn's callback support sets on an estimator while it (or the
# meta-estimator holding it) fits, and removes after.
TRANSIENT = frozenset(
    {"_parent_callback_ctx", "_callback_fit_ctx", "_skl_callbacks_to_teardown"}
)


@dataclass(frozen=True)
class CallKey:
    """The key of one call, and its family for fits that are prefixes of
    larger fits (``lower/ensembles``)."""

    key: str
    family: str | None = None
    rounds: int | None = None
    param: str | None = None  # the parameter counting rounds


def digest(parts: list[bytes]) -> str:
    h = hashlib.blake2b(digest_size=32)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def _library_version(cls: type) -> str:
    root = sys.modules.get(cls.__module__.split(".")[0])
    return str(getattr(root, "__version__", ""))


def is_library_class(cls: type) -> bool:
    """Whether ``cls`` comes from an installed package (not the user's code)."""
    if cls.__module__ == "__main__":
        return False
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None) or ""
    parts = os.path.normpath(path).split(os.sep)
    return "site-packages" in parts or "dist-packages" in parts


def why_not_shared(estimator: Any, kwargs: dict) -> str | None:
    """Why a fit of ``estimator`` (with fit arguments ``kwargs``) may not be
    shared, or None."""
    try:
        params = estimator.get_params(deep=True)
    except Exception as error:
        return f"get_params failed ({type(error).__name__})"
    for name, value in params.items():
        last = name.rsplit("__", 1)[-1]
        if last == "warm_start" and value:
            return f"{name}=True"
        if last == "callbacks" and value:
            return f"{name} given"
        if isinstance(value, (np.random.RandomState, np.random.Generator)):
            return f"{name} is a {type(value).__name__} (its state is consumed)"
    if kwargs.get("callbacks"):
        return "callbacks given to fit"
    if getattr(estimator, "_skl_callbacks", None):
        return "callbacks set (set_callbacks)"
    parts = [estimator] + [v for v in params.values() if hasattr(v, "get_params")]
    for part in parts:
        if not is_library_class(type(part)):
            hidden = _hidden_state(part)
            if hidden is not None:
                return (
                    f"attribute {hidden!r} of {type(part).__name__} is not a "
                    "parameter (hidden state)"
                )
    return None


def _hidden_state(estimator: Any) -> str | None:
    """An attribute of the user's estimator that is neither a parameter nor
    a fitted attribute (``name_``), if any."""
    try:
        own = set(estimator.get_params(deep=False))
    except Exception:
        return "get_params"
    hidden = sorted(
        name
        for name in vars(estimator)
        if name not in own and not name.endswith("_") and name not in TRANSIENT
    )
    return hidden[0] if hidden else None


def _encode(obj: Any, fp_cache: dict) -> tuple[bytes, str | None]:
    data, enc = encode_params(obj, fp_cache=fp_cache)
    if enc.unseeded:
        return data, f"{enc.unseeded[0]}=None (unseeded randomness)"
    if enc.identity:
        kind = type(enc.pinned[0]).__name__ if enc.pinned else "object"
        return data, f"a {kind} argument or parameter has no content key"
    return data, None


def _encode_call(estimator: Any, args: tuple, kwargs: dict, fp_cache: dict):
    """(the estimator's bytes, the arguments' bytes), or why one of them has
    no content key."""
    estimator_bytes, why = _encode(estimator, fp_cache)
    if why is not None:
        return why
    inputs, why = _encode((args, kwargs), fp_cache)
    return why if why is not None else (estimator_bytes, inputs)


def fit_key(estimator: Any, method: str, args: tuple, kwargs: dict) -> CallKey | str:
    """The key of ``estimator.<method>(*args, **kwargs)`` for a fit method,
    or why it is not shared."""
    why = why_not_shared(estimator, kwargs)
    if why is not None:
        return why
    fp_cache: dict = {}
    encoded = _encode_call(estimator, args, kwargs, fp_cache)
    if isinstance(encoded, str):
        return encoded
    estimator_bytes, inputs = encoded
    head = f"{method}|{_library_version(type(estimator))}".encode()
    key = digest([b"fit", head, estimator_bytes, inputs])
    if method != "fit":
        return CallKey(key)
    param, _ = ensembles.rounds_param(estimator)
    if param is None:
        return CallKey(key)
    family_bytes, _ = _encode(ensembles.family_estimator(estimator, param), fp_cache)
    family = digest([b"family", head, family_bytes, inputs])
    rounds = ensembles.rounds_of(estimator, param)
    return CallKey(key, family, rounds, param)


def state_call_key(
    state: str, estimator: Any, method: str, args: tuple, kwargs: dict
) -> CallKey | str:
    """The key of a call on an estimator whose fitted state came from the
    fit keyed ``state``, or why it is not shared."""
    encoded = _encode_call(estimator, args, kwargs, {})
    if isinstance(encoded, str):
        return encoded
    estimator_bytes, inputs = encoded
    return CallKey(
        digest([b"call", method.encode(), state.encode(), estimator_bytes, inputs])
    )
