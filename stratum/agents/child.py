"""The script's side of ``stratum run``: run an unmodified script as
``__main__``, with its searches and cross-validations answered by the
coordinator.

Started as ``python -c "from stratum.agents.child import main; main()"
SCRIPT ARGS...`` with the channel's file descriptors in ``STRATUM_RUN_FDS``.
Importing stratum installs the skrub drop-in; a delegate then sends each
``ParamSearch.fit`` (``make_grid_search``, ``make_randomized_search``) and
``cross_validate`` (``skrub.cross_validate``, ``.skb.cross_validate``) to the
coordinator as a request and blocks until the coordinator has evaluated it
with the other scripts' requests. scikit-learn's searches' ``fit``
(grid, randomized, halving), ``cross_validate``, ``cross_val_score`` and
``cross_val_predict`` run on stratum's engine here, in the script's
process (``patch_sklearn``, as soon as the script imports
``sklearn.model_selection``). Everything else the
script does runs here, as with ``python SCRIPT``.
"""

from __future__ import annotations

import os
import sys
import threading
import tokenize
from typing import Any

from . import protocol

MEMO_VARIABLE = "STRATUM_RUN_MEMO"  # "0": estimator calls not memoized
MEMO_DIR_VARIABLE = "STRATUM_RUN_MEMO_DIR"  # where the memo's payloads are
MEMO_DURABLE_VARIABLE = "STRATUM_RUN_MEMO_DURABLE"  # "1": written to the device
THREADS_VARIABLE = "STRATUM_RUN_THREADS"  # cores per script when side by side


class Channel:
    """The script's pipes to the coordinator, shared by its threads: one
    request and its reply at a time."""

    def __init__(self, read_fd: int, write_fd: int):
        self._replies = os.fdopen(read_fd, "rb")
        self._requests = os.fdopen(write_fd, "wb")
        self._lock = threading.Lock()

    def ask(self, message: dict) -> dict:
        with self._lock:
            protocol.send(self._requests, message)
            return protocol.receive(self._replies)

    def tell(self, message: dict) -> None:
        with self._lock:
            protocol.send(self._requests, message)


class RemoteDelegate:
    """Answers the drop-in's searches and cross-validations through the
    coordinator; returning None lets the drop-in evaluate here."""

    def __init__(self, channel: Channel):
        self.channel = channel

    def search(self, param_search, environment: dict):
        from ..frontend.skrub.search_requests import apply_search_reply, search_request

        attributes = self._ask(search_request(param_search, environment))
        if attributes is None:
            return None
        return apply_search_reply(param_search, attributes)

    def cross_validate(self, learner, environment: dict, **kwargs):
        from ..frontend.skrub.search_requests import cross_validate_request

        request = cross_validate_request(learner, environment, **kwargs)
        if request is None:
            return None
        return self._ask(request)

    def _ask(self, request) -> Any:
        try:
            payload = protocol.dumps(request)
        except Exception as error:
            self.channel.tell(
                {
                    "type": "local",
                    "reason": f"request not serializable ({type(error).__name__}: "
                    f"{error})",
                }
            )
            return None
        reply = self.channel.ask(
            {
                "type": "request",
                "kind": request.kind,
                "payload": payload,
                "sys_path": list(sys.path),
            }
        )
        if reply["status"] == "fallback":
            return None  # evaluated here by the drop-in (or by skrub)
        value = protocol.loads(reply["payload"])
        if reply["status"] == "error":
            raise value
        return value


class RemoteMemo:
    """The memo of estimator calls (``frontend/sklearn/memoize``) kept by
    the coordinator, shared with the other scripts. With ``disk`` (the
    memo's payloads, ``runtime.memo_store``'s entries), this script writes
    what it computed there and reads what it reuses from there: the
    coordinator only says who computes what."""

    def __init__(self, channel: Channel, disk=None):
        self.channel = channel
        self.disk = disk

    def get(self, key, label: str, key_seconds: float):
        from ..runtime.memo_store import Answer

        reply = self.channel.ask(
            {
                "type": "memo_get",
                "thread": threading.get_ident(),
                **_key_fields(key),
                "label": label,
                "key_seconds": key_seconds,
                "reads_disk": self.disk is not None,
            }
        )
        answer = Answer(**reply)
        if answer.stored is None:
            return answer
        try:
            payload, seconds = self.disk.get(("memo", answer.stored))
        except KeyError:  # gone meanwhile (or damaged): computed here, unclaimed
            answer = Answer("compute-alone", origin=answer.origin)
        else:
            answer = Answer(answer.status, payload, seconds, answer.origin)
        self.channel.tell(
            {
                "type": "memo_read",
                "label": label,
                "status": answer.status,
                "seconds": answer.seconds,
                "origin": answer.origin,
                "key_seconds": key_seconds,
            }
        )
        return answer

    def put(self, key, label: str, payload: bytes, seconds: float) -> None:
        message = {
            "type": "memo_put",
            "thread": threading.get_ident(),
            **_key_fields(key),
            "label": label,
            "seconds": seconds,
        }
        if self.disk is not None and self.disk.put(
            ("memo", key.key), (payload, seconds)
        ):
            message["nbytes"] = len(payload)
        else:
            message["payload"] = payload
        self.channel.tell(message)

    def drop(self, key) -> None:
        self.channel.tell(
            {"type": "memo_drop", "thread": threading.get_ident(), **_key_fields(key)}
        )

    def refuse(self, label: str, why: str) -> None:
        self.channel.tell({"type": "memo_refuse", "label": label, "why": why})


def _memo_disk():
    """The memo's payloads on disk, where the coordinator keeps them."""
    path = os.environ.pop(MEMO_DIR_VARIABLE, None)
    durable = os.environ.pop(MEMO_DURABLE_VARIABLE, "1") != "0"
    if path is None:
        return None
    from ..runtime.cache import DiskCache

    return DiskCache(path, durable=durable)


def _key_fields(key) -> dict:
    return {"key": key.key, "family": key.family, "rounds": key.rounds}


def main() -> None:
    """Run ``sys.argv[1]`` as ``python sys.argv[1] ...`` would."""
    read_fd, write_fd = map(int, os.environ.pop(protocol.FDS_VARIABLE).split(","))
    run(sys.argv[1], sys.argv[1:], read_fd, write_fd)


def _share_cores() -> None:
    """Scripts running side by side (``-j N``): this one's share of the cores
    for the libraries whose results do not depend on their thread count
    (LightGBM, OpenMP: ``benchmarks/thread_invariance.py``); BLAS keeps its
    own."""
    share = int(os.environ.pop(THREADS_VARIABLE, "0") or 0)
    if share < 1:
        return
    from stratum._skrub_hook import after_import
    from stratum._threads import set_thread_budget

    set_thread_budget(share)
    after_import("lightgbm", _lightgbm_threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(share, user_api="openmp")


def _lightgbm_threads() -> None:
    from stratum.runtime import lightgbm_threads

    lightgbm_threads.install()


def _patch_sklearn() -> None:
    """scikit-learn's searches and cross-validation on stratum's engine (in
    this process)."""
    from stratum.frontend.sklearn.patch import patch_sklearn

    patch_sklearn()


def run(path: str, argv: list[str], read_fd: int, write_fd: int) -> None:
    """Run the script ``path`` as ``__main__`` with ``sys.argv = argv``, its
    requests going through the channel ``read_fd`` / ``write_fd``; exit with
    its status."""
    os.set_inheritable(read_fd, False)
    os.set_inheritable(write_fd, False)
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(path))

    import stratum  # noqa: F401  (installs the skrub drop-in)
    from stratum._skrub_hook import after_import

    channel = Channel(read_fd, write_fd)

    def delegate() -> None:  # once the script imports skrub
        from stratum.frontend.skrub.dropin import set_delegate

        set_delegate(RemoteDelegate(channel))

    after_import("skrub", delegate)
    after_import("sklearn.model_selection", _patch_sklearn)
    _share_cores()
    if os.environ.pop(MEMO_VARIABLE, "1") != "0":
        from stratum.frontend.sklearn.memoize import install

        # The engine's fits (patched searches) use the script's own classes,
        # not stratum's kernels: they and the script's direct fits are then
        # one memo.
        stratum.set_config(native=False)
        install(RemoteMemo(channel, _memo_disk()))
    with tokenize.open(path) as f:  # honours a coding declaration
        source = f.read()
    code = compile(source, path, "exec")
    main_module = sys.modules["__main__"]
    namespace = main_module.__dict__
    builtins = namespace["__builtins__"]
    namespace.clear()
    namespace.update(
        __name__="__main__",
        __file__=path,
        __builtins__=builtins,
        __doc__=None,
        __spec__=None,
        __package__=None,
        __loader__=None,
        __cached__=None,
    )
    try:
        exec(code, namespace)
    except SystemExit:
        raise
    except BaseException as error:  # as the interpreter reports it, minus this frame
        tb = error.__traceback__
        tb = tb.tb_next if tb is not None else None
        sys.excepthook(type(error), error.with_traceback(tb), tb)
        sys.exit(1)
