"""Canonical encoding of operation parameters and lineage keys.

A node's key is a hash of its operation, its canonical parameters and its inputs'
keys. Equal keys must imply equal results, so the encoding is content based for
everything it understands (scalars, containers, arrays, frames, estimators,
functions) and falls back to object identity for what it cannot encode: such a
key is still sound inside one batch (the object is kept alive) but is marked
``identity`` so that it is never reused across batches.
"""

from __future__ import annotations

import hashlib
import pickle
import struct
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .fingerprint import fingerprint

KEY_BYTES = 16


def digest(data: bytes) -> str:
    """Hex digest used for every key."""
    return hashlib.blake2b(data, digest_size=KEY_BYTES).hexdigest()


@dataclass
class Encoding:
    """What the encoder learned while encoding one node's parameters."""

    identity: bool = False  # part of the key is an object identity
    unseeded: list[str] = field(default_factory=list)  # params random_state=None
    pinned: list[Any] = field(default_factory=list)  # objects keyed by identity


# A hook lets the caller (the frontend) encode objects the plan layer does not
# know about (DataOps, choices). It returns None when it does not handle `obj`,
# a `Ref` to another node, or a 1-tuple holding the value to encode instead.
Hook = Callable[[Any], Any]


@dataclass(frozen=True)
class Ref:
    """A reference to another node's result, by key."""

    key: str


class _Encoder:
    def __init__(self, hook: Hook | None, enc: Encoding, fp_cache: dict):
        self.hook = hook
        self.enc = enc
        self.fp_cache = fp_cache
        self.out: list[bytes] = []
        self.active: set[int] = set()

    def put(self, tag: str, payload: bytes = b"") -> None:
        self.out.append(tag.encode() + b"\x00" + struct.pack("<Q", len(payload)))
        self.out.append(payload)

    def identity(self, obj: Any) -> None:
        self.enc.identity = True
        self.enc.pinned.append(obj)
        self.put("id", f"{type(obj).__qualname__}:{id(obj)}".encode())

    def encode(self, obj: Any, path: str = "") -> None:
        if self.hook is not None:
            replaced = self.hook(obj)
            if replaced is not None:
                if isinstance(replaced, Ref):
                    self.put("ref", replaced.key.encode())
                    return
                obj = replaced[0]
        if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
            self.put("s:" + type(obj).__name__, repr(obj).encode())
            return
        if isinstance(obj, np.generic):
            self.put("np:" + obj.dtype.str, obj.tobytes())
            return
        if isinstance(obj, type):
            self._encode_class("cls", obj)
            return
        if isinstance(obj, types.BuiltinFunctionType):
            self.put("cls", f"{obj.__module__}.{obj.__qualname__}".encode())
            return
        oid = id(obj)
        if oid in self.active:
            self.identity(obj)
            return
        self.active.add(oid)
        try:
            self._encode_compound(obj, path)
        finally:
            self.active.discard(oid)

    def _encode_compound(self, obj: Any, path: str) -> None:
        t = type(obj)
        if t in (list, tuple, set, frozenset):
            items = list(obj)
            if t in (set, frozenset):
                try:
                    items = sorted(items, key=repr)
                except Exception:
                    self.identity(obj)
                    return
            self.put("seq:" + t.__name__, struct.pack("<Q", len(items)))
            for item in items:
                self.encode(item, path)
            return
        if t is dict:
            self.put("dict", struct.pack("<Q", len(obj)))
            for k, v in obj.items():
                self.encode(k, path)
                self.encode(v, path)
            return
        if t is slice:
            self.put("slice")
            for part in (obj.start, obj.stop, obj.step):
                self.encode(part, path)
            return
        if hasattr(obj, "get_params") and hasattr(obj, "fit"):
            self._encode_estimator(obj, path)
            return
        fp = fingerprint(obj, self.fp_cache)
        if fp is not None:
            self.put("data", fp.encode())
            return
        if isinstance(obj, types.FunctionType):
            self._encode_function(obj, path)
            return
        if isinstance(obj, (types.MethodType, types.BuiltinMethodType)):
            self.put("method", getattr(obj, "__name__", "").encode())
            self.encode(getattr(obj, "__self__", None), path)
            return
        if isinstance(obj, types.ModuleType):
            self.put("module", obj.__name__.encode())
            return
        try:
            data = pickle.dumps(obj, protocol=5)
        except Exception:
            self.identity(obj)
            return
        self.put("pickle:" + t.__qualname__, hashlib.blake2b(data).digest())

    def _encode_estimator(self, est: Any, path: str) -> None:
        cls = type(est)
        self._encode_class("est", cls)
        try:
            params = est.get_params(deep=False)
        except Exception:
            self.identity(est)
            return
        where = f"{path}{cls.__name__}"
        for name in sorted(params):
            value = params[name]
            if name == "random_state" and value is None and _uses_randomness(est):
                self.enc.unseeded.append(f"{where}.random_state")
            self.encode(name, where + ".")
            self.encode(value, f"{where}.{name}.")

    def _encode_class(self, tag: str, cls: type) -> None:
        """A class by its name, plus its definition when the name does not
        find it (a script's ``__main__``, a class shipped by value to another
        process, a class defined in a function): two such classes with one
        name may differ."""
        self.put(tag, f"{cls.__module__}.{cls.__qualname__}".encode())
        if not _is_user_code(cls) or id(cls) in self.active:
            return
        self.active.add(id(cls))
        try:
            for base in cls.__bases__:
                self._encode_class("base", base)
            for name, value in sorted(vars(cls).items()):
                if name in _CLASS_BOOKKEEPING:
                    continue
                # a method memoized by ``stratum.memoize``: its own code
                value = getattr(value, "__stratum_memo__", value)
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                elif isinstance(value, property):
                    value = (value.fget, value.fset, value.fdel)
                self.encode(name)
                self.encode(value)
        finally:
            self.active.discard(id(cls))

    def _encode_function(self, func: types.FunctionType, path: str) -> None:
        self.put("func", f"{func.__module__}.{func.__qualname__}".encode())
        self._encode_code(func.__code__)
        if _is_user_code(func):
            # The globals it reads (a script's constants, its helpers): the
            # same code over other globals computes something else.
            for name in sorted(_global_names(func.__code__)):
                if name not in func.__globals__:
                    continue
                value = func.__globals__[name]
                self.encode(name)
                if id(value) in self.active and isinstance(
                    value, (type, types.FunctionType)
                ):
                    self.put("cycle", value.__qualname__.encode())  # recursion
                else:
                    self.encode(value, path)
        self.encode(func.__defaults__, path)
        self.encode(func.__kwdefaults__, path)
        if func.__closure__:
            cells = []
            for cell in func.__closure__:
                try:
                    cells.append(cell.cell_contents)
                except ValueError:  # empty cell
                    cells.append(None)
            self.encode(tuple(cells), path)

    def _encode_code(self, code: types.CodeType) -> None:
        self.put("code", code.co_code)
        self.put("names", "\x00".join(code.co_names).encode())
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                self._encode_code(const)
            else:
                self.encode(const)


# ``__slotnames__`` is cached on the class by the first copy or pickle of an
# instance: not part of its definition.
_CLASS_BOOKKEEPING = frozenset(
    {
        "__dict__",
        "__weakref__",
        "__module__",
        "__qualname__",
        "__doc__",
        "__slotnames__",
    }
)


def _is_user_code(obj: Any) -> bool:
    """Whether ``obj`` (a class or function) is not the object its module
    and qualified name lead to: defined in ``__main__``, in a function, or
    rebuilt by value in another process."""
    if obj.__module__ == "__main__":
        return True
    found: Any = sys.modules.get(obj.__module__)
    for part in obj.__qualname__.split("."):
        found = getattr(found, part, None)
        if found is None:
            return True
    return found is not obj


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _uses_randomness(est: Any) -> bool:
    """Whether ``random_state=None`` makes this estimator's output vary.

    Linear models with their default deterministic solvers ignore it;
    LightGBM and XGBoost then use fixed default seeds; anything else with a
    ``random_state`` parameter is assumed to use it.
    """
    cls = type(est)
    if cls.__module__.split(".")[0] in ("lightgbm", "xgboost"):
        return False  # None means the library's fixed default seeds
    if cls.__module__.startswith("sklearn.linear_model"):
        name = cls.__name__
        stochastic = ("SGD", "Perceptron", "PassiveAggressive", "RANSAC")
        return any(s in name for s in stochastic) or getattr(est, "solver", None) in (
            "sag",
            "saga",
        )
    return True


def encode_params(
    params: Any, *, hook: Hook | None = None, fp_cache: dict | None = None
) -> tuple[bytes, Encoding]:
    """Canonical bytes for ``params`` and what was learned while encoding them."""
    enc = Encoding()
    encoder = _Encoder(hook, enc, {} if fp_cache is None else fp_cache)
    encoder.encode(params)
    return b"".join(encoder.out), enc


def node_key(kind: str, params: bytes, input_keys: tuple[str, ...] = ()) -> str:
    """Lineage key of a node: operation kind, canonical params, input keys."""
    parts = [kind.encode(), b"\x01", hashlib.blake2b(params).digest()]
    parts.extend(k.encode() for k in input_keys)
    return digest(b"\x02".join(parts))
