"""Estimator calls memoized by content, in unmodified scripts.

Once installed, the ``fit``, ``fit_transform``, ``transform``, ``predict``,
``predict_proba``, ``decision_function`` and ``score`` methods of every
scikit-learn-compatible estimator class (``sklearn.base.BaseEstimator``
subclasses: scikit-learn's, LightGBM's, XGBoost's, skrub's, the user's own,
including classes defined later) ask a memo before they run, by the call's
content key (``memo_keys``):

- a *fit* found in the memo is not run: the estimator takes on a copy of the
  stored fitted state (its sub-estimators fitted in place, such as a
  ``Pipeline``'s steps, too), prints what the fit printed, and returns what
  it returned; a fit of a boosted model or forest may be served by the first
  rounds of a stored fit with more (``lower/ensembles``, exact);
- a call on a fitted estimator found in the memo returns a copy of the
  stored output;
- otherwise the call runs, its output is captured as it is printed, and its
  result is stored (a pickled copy, so that later changes by the caller do
  not reach the memo), unless it drew from the global random state.

Only the outermost call of a thread is memoized, and the calls a
composition (``Pipeline``, ``ColumnTransformer``, ``FeatureUnion``,
``TransformedTargetRegressor``, a search, the user's own estimator) makes of
its parts: a forest's trees and a model's internal helpers run as they are.
stratum's own estimators and skrub's DataOps are left alone.

The memo is a ``MemoStore`` in this process (:func:`memoize`) or the one of
``stratum run``'s coordinator, shared by its scripts (``agents/child.py``).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import random
import sys
import threading
import time
import types
import weakref
from collections.abc import Iterator
from typing import Any, Protocol

import cloudpickle
import numpy as np
from sklearn.base import BaseEstimator

from ...lower import ensembles
from ...runtime.memo_store import Answer, MemoReport, MemoStore
from .memo_keys import (
    FIT_METHODS,
    METHODS,
    TRANSIENT,
    CallKey,
    fit_key,
    is_library_class,
    state_call_key,
)

_WAIT = (0.005, 0.2)  # first and longest pause between asks for a busy key


class Backend(Protocol):
    """Where the memo lives."""

    def get(self, key: CallKey, label: str, key_seconds: float) -> Answer: ...

    def put(self, key: CallKey, label: str, payload: bytes, seconds: float) -> None: ...

    def drop(self, key: CallKey) -> None: ...

    def refuse(self, label: str, why: str) -> None: ...


class LocalBackend:
    """A memo in this process (``memoize()``)."""

    def __init__(self, store: MemoStore, report: MemoReport):
        self.store = store
        self.report = report

    def _client(self) -> tuple:
        return ("this process", threading.get_ident())

    def get(self, key: CallKey, label: str, key_seconds: float) -> Answer:
        answer = self.store.get(self._client(), key.key, key.family, key.rounds)
        self.report.answered(label, answer, key_seconds)
        return answer

    def put(self, key: CallKey, label: str, payload: bytes, seconds: float) -> None:
        self.store.put(
            self._client(), key.key, payload, seconds, key.family, key.rounds
        )
        self.report.stored(label, seconds)

    def drop(self, key: CallKey) -> None:
        self.store.drop(self._client(), key.key)

    def refuse(self, label: str, why: str) -> None:
        self.report.refused(label, why)


# -- captured output ------------------------------------------------------------
_local = threading.local()


def _frames() -> list:
    frames = getattr(_local, "frames", None)
    if frames is None:
        frames = _local.frames = []
    return frames


class _Frame:
    """A memoized call running in this thread."""

    def __init__(self, obj: Any, composite: bool, capture: bool):
        self.obj = obj
        self.composite = composite
        self.out: list[str] | None = [] if capture else None
        self.err: list[str] | None = [] if capture else None


class _Tee:
    """``sys.stdout`` / ``sys.stderr``: writes through, and records what the
    calls running in the writing thread print."""

    def __init__(self, stream: Any, name: str):
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        for frame in _frames():
            parts = getattr(frame, self._name)
            if parts is not None:
                parts.append(text)
        return written

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def _running(obj: Any, composite: bool, capture: bool = False) -> Iterator[_Frame]:
    frames = _frames()
    frame = _Frame(obj, composite, capture)
    frames.append(frame)
    try:
        yield frame
    finally:
        frames.pop()


def _random_state() -> tuple:
    state = np.random.get_state()
    return (state[1].tobytes(), state[2], state[3], state[4], random.getstate())


# -- what a class is to the memo ------------------------------------------------
_COMPOSITIONS = (
    ("sklearn.pipeline", "Pipeline"),
    ("sklearn.pipeline", "FeatureUnion"),
    ("sklearn.compose._column_transformer", "ColumnTransformer"),
    ("sklearn.compose._target", "TransformedTargetRegressor"),
)
_kinds: dict[type, str] = {}


def _kind(cls: type) -> str:
    """ "skip" (stratum's own, skrub's DataOps), "search" (run as is; its fits
    are memoized), "composite" (memoized, and so are its parts' calls) or
    "model" (memoized; what it calls inside runs as is)."""
    kind = _kinds.get(cls)
    if kind is None:
        from sklearn.model_selection._search import BaseSearchCV

        module = cls.__module__
        if module.split(".")[0] == "stratum" or module.startswith("skrub._data_ops"):
            kind = "skip"
        elif issubclass(cls, BaseSearchCV):
            kind = "search"
        elif any(
            (k.__module__, k.__name__) in _COMPOSITIONS for k in cls.__mro__
        ) or not is_library_class(cls):
            kind = "composite"
        else:
            kind = "model"
        _kinds[cls] = kind
    return kind


# -- the memoizer ---------------------------------------------------------------
class Memoizer:
    """Answers the wrapped methods' calls from ``backend``."""

    def __init__(self, backend: Backend):
        self.backend = backend
        # estimator -> (key of the fit that gave its state, its attributes then)
        self.states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def call(self, obj: Any, name: str, original, args: tuple, kwargs: dict) -> Any:
        frames = _frames()
        if not isinstance(obj, BaseEstimator) or (
            frames and (frames[-1].obj is obj or not frames[-1].composite)
        ):
            return original(obj, *args, **kwargs)
        kind = _kind(type(obj))
        if kind == "skip":
            return original(obj, *args, **kwargs)
        if kind == "search":
            with _running(obj, composite=True):
                return original(obj, *args, **kwargs)
        composite = kind == "composite"
        label = f"{type(obj).__name__}.{name}"
        start = time.perf_counter()
        key = self._key(obj, name, args, kwargs)
        key_seconds = time.perf_counter() - start
        if not isinstance(key, CallKey):
            if key is not None:
                self.backend.refuse(label, key)
            return self._run_unshared(obj, name, original, args, kwargs, composite)
        answer = self._ask(key, label, key_seconds)
        if answer.status == "prefix":
            if self._take_prefix(obj, key, answer.payload):
                return obj
            answer = self._ask(CallKey(key.key), label, 0.0)
        if answer.status == "hit":
            return self._serve(obj, key, answer.payload)
        claimed = answer.status == "compute"
        try:
            return self._compute(
                obj, name, original, args, kwargs, key, label, claimed, composite
            )
        except BaseException:
            if claimed:
                self.backend.drop(key)
            raise

    def _key(self, obj, name, args, kwargs) -> CallKey | str | None:
        if name in FIT_METHODS:
            return fit_key(obj, name, args, kwargs)
        state = self._state_of(obj)
        if state is None:
            return None  # fitted outside the memo: its state has no key
        return state_call_key(state, obj, name, args, kwargs)

    def _ask(self, key: CallKey, label: str, key_seconds: float) -> Answer:
        pause = _WAIT[0]
        while True:
            answer = self.backend.get(key, label, key_seconds)
            if answer.status != "wait":
                return answer
            key_seconds = 0.0
            time.sleep(pause)
            pause = min(pause * 2, _WAIT[1])

    def _run_unshared(self, obj, name, original, args, kwargs, composite) -> Any:
        if name in FIT_METHODS:
            self._forget(obj)
        with _running(obj, composite):
            return original(obj, *args, **kwargs)

    def _compute(
        self, obj, name, original, args, kwargs, key, label, claimed, composite
    ) -> Any:
        redirected = not (isinstance(sys.stdout, _Tee) and isinstance(sys.stderr, _Tee))
        before = _random_state()
        start = time.perf_counter()
        with _running(obj, composite, capture=True) as frame:
            result = original(obj, *args, **kwargs)
        seconds = time.perf_counter() - start
        why = None
        if redirected:
            why = (
                "sys.stdout or sys.stderr is redirected (its output cannot be replayed)"
            )
        elif _random_state() != before:
            why = "it drew from the global random state"
        if why is None:
            try:
                payload = self._pack(
                    obj if name in FIT_METHODS else None,
                    result,
                    "".join(frame.out),
                    "".join(frame.err),
                )
            except Exception as error:
                why = f"its result cannot be pickled ({type(error).__name__})"
        if why is not None:
            if name in FIT_METHODS:
                self._forget(obj)
            self.backend.refuse(label, why)
            if claimed:
                self.backend.drop(key)
            return result
        if name in FIT_METHODS:
            self._remember(obj, key.key)
        if claimed:
            self.backend.put(key, label, payload, seconds)
        return result

    @staticmethod
    def _pack(state: Any, result: Any, out: str, err: str) -> bytes:
        data: dict = {"out": out, "err": err}
        if state is not None:
            data["state"] = _without_context(state)
        if state is not None and result is state:
            data["self"] = True
        else:
            data["result"] = result
        return cloudpickle.dumps(data)

    def _serve(self, obj: Any, key: CallKey, payload: bytes) -> Any:
        data = cloudpickle.loads(payload)
        if data["out"]:
            sys.stdout.write(data["out"])
        if data["err"]:
            sys.stderr.write(data["err"])
        if "state" in data:
            _adopt(obj, data["state"])
            self._remember(obj, key.key)
        return obj if data.get("self") else data["result"]

    def _take_prefix(self, obj: Any, key: CallKey, payload: bytes) -> bool:
        """Install the first rounds of the stored larger fit on ``obj``."""
        data = cloudpickle.loads(payload)
        source = data.get("state")
        install = ensembles._INSTALL.get(type(obj).__module__.split(".")[0])
        if (
            install is None
            or type(source) is not type(obj)
            or data["out"]
            or data["err"]
            or getattr(source, "do_early_stopping_", False)
        ):
            return False
        prefix = ensembles.Prefix(
            source_state=(),
            source_label=type(source).__name__,
            param=key.param,
            rounds=key.rounds,
            source_rounds=ensembles.rounds_of(source, key.param),
        )
        install(obj, source, prefix)
        self._remember(obj, key.key)
        return True

    # -- fitted states -----------------------------------------------------------
    def _remember(self, obj: Any, key: str) -> None:
        try:
            self.states[obj] = (key, _attributes(obj))
        except TypeError:  # not weak-referenceable or not hashable
            pass

    def _forget(self, obj: Any) -> None:
        try:
            self.states.pop(obj, None)
        except TypeError:
            pass

    def _state_of(self, obj: Any) -> str | None:
        try:
            entry = self.states.get(obj)
        except TypeError:
            return None
        if entry is None or entry[1] != _attributes(obj):
            return None  # changed since (an attribute set by hand, a refit)
        return entry[0]


def _same_class(a: type, b: type) -> bool:
    """The same class, or the same script's class rebuilt by value (the key
    covered its code)."""
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def _without_context(obj: Any) -> Any:
    """``obj``, or a shallow copy of it without the context a meta-estimator
    is lending it while it fits (scikit-learn's callback context)."""
    if not TRANSIENT.intersection(vars(obj)):
        return obj
    state = copy.copy(obj)
    for name in TRANSIENT:
        vars(state).pop(name, None)
    return state


def _attributes(obj: Any) -> tuple:
    return tuple((name, id(value)) for name, value in vars(obj).items())


def _adopt(target: Any, source: Any) -> None:
    """Give ``target`` the fitted state of ``source`` (an equal estimator):
    attributes set by fitting are taken; parameters stay ``target``'s own, and
    the estimators among them take their counterparts' state (a
    ``Pipeline``'s steps are fitted in place)."""
    params = target.get_params(deep=False)
    for name, value in vars(source).items():
        if name in params:
            _adopt_parameter(vars(target).get(name), value)
        else:
            vars(target)[name] = value


def _adopt_parameter(target: Any, source: Any) -> None:
    if isinstance(target, BaseEstimator) and _same_class(type(target), type(source)):
        _adopt(target, source)
    elif isinstance(target, (list, tuple)) and isinstance(source, (list, tuple)):
        if len(target) == len(source):
            for t, s in zip(target, source, strict=True):
                _adopt_parameter(t, s)


# -- installing -----------------------------------------------------------------
_active: Memoizer | None = None
_install_lock = threading.Lock()
_wrapped: list[tuple[Any, str, Any]] = []  # (owner, attribute, original)


class _Memoized:
    """A wrapped method: asks the memo when called on an instance. Read from
    the class, and when a class is pickled by value, it is the original
    function."""

    def __init__(self, original, name: str):
        functools.update_wrapper(self, original)
        self.__stratum_memo__ = original
        self._name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self.__wrapped__
        return types.MethodType(self, obj)

    def __call__(self, obj: Any, *args, **kwargs) -> Any:
        memoizer = _active
        if memoizer is None:
            return self.__wrapped__(obj, *args, **kwargs)
        return memoizer.call(obj, self._name, self.__wrapped__, args, kwargs)

    def __reduce__(self):
        return copy.copy, (self.__wrapped__,)


def _wrap_class(cls: type) -> None:
    from sklearn.utils._available_if import _AvailableIfDescriptor

    for name in METHODS:
        attr = cls.__dict__.get(name)
        if isinstance(attr, types.FunctionType):
            _wrapped.append((cls, name, attr))
            setattr(cls, name, _Memoized(attr, name))
        elif isinstance(attr, _AvailableIfDescriptor):
            if not isinstance(attr.fn, _Memoized):
                _wrapped.append((attr, "fn", attr.fn))
                attr.fn = _Memoized(attr.fn, name)


def _subclasses(cls: type) -> set[type]:
    found, todo = set(), [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def _init_subclass(cls, **kwargs):
    super(BaseEstimator, cls).__init_subclass__(**kwargs)
    with _install_lock:
        if _active is not None:
            for k in cls.__mro__:
                if k is not object:
                    _wrap_class(k)


def install(backend: Backend) -> Memoizer:
    """Memoize every estimator's calls from now on, through ``backend``."""
    global _active
    with _install_lock:
        if _active is not None:
            raise RuntimeError("estimator calls are memoized already")
        classes = {BaseEstimator, *_subclasses(BaseEstimator)}
        for cls in {k for c in classes for k in c.__mro__ if k is not object}:
            _wrap_class(cls)  # mixins too: TransformerMixin.fit_transform ...
        BaseEstimator.__init_subclass__ = classmethod(_init_subclass)
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if not isinstance(stream, _Tee):
                setattr(sys, name, _Tee(stream, name[3:]))
        _active = Memoizer(backend)
        return _active


def uninstall() -> None:
    """Undo :func:`install`."""
    global _active
    with _install_lock:
        _active = None
        while _wrapped:
            owner, attribute, original = _wrapped.pop()
            setattr(owner, attribute, original)
        if "__init_subclass__" in vars(BaseEstimator):
            del BaseEstimator.__init_subclass__
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if isinstance(stream, _Tee):
                setattr(sys, name, stream._stream)


@contextlib.contextmanager
def memoize(
    cache_dir: str | None = None, memory_bytes: int | None = None
) -> Iterator[MemoReport]:
    """Memoize estimator calls by content inside the block.

    Fits, transforms, predictions and scores of scikit-learn-compatible
    estimators that the block repeats on the same data are computed once;
    with ``cache_dir``, also across processes and runs (the disk cache of
    ``stratum.set_config(cache_dir=...)``). Results are exactly what the
    calls compute: a repeated fit takes on a copy of the stored fitted state.
    Calls that may give another result with the same inputs (unseeded
    randomness, ``warm_start``, callbacks, hidden state) are never shared.
    ``memory_bytes`` of stored results stay in memory (default 64 MiB); the
    rest is written to disk, or dropped when recomputing it is faster than
    reading it back.

    Yields a :class:`~stratum.runtime.memo_store.MemoReport`: what was reused,
    computed, and not shared and why (``report.lines()``).

    Examples
    --------
    >>> import stratum
    >>> with stratum.memoize() as report:  # doctest: +SKIP
    ...     run_my_experiments()
    >>> print("\\n".join(report.lines()))  # doctest: +SKIP
    """
    from ...runtime.cache import DiskCache

    disk = DiskCache(cache_dir) if cache_dir is not None else None
    report = MemoReport()
    memo = (
        MemoStore(disk=disk) if memory_bytes is None else MemoStore(memory_bytes, disk)
    )
    install(LocalBackend(memo, report))
    try:
        yield report
    finally:
        uninstall()
