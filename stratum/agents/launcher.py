"""Start scripts from a process that has already imported what they import.

Importing numpy, pandas, scikit-learn, skrub and stratum costs each script
about two seconds of CPU. The launcher is one process that imports them once
(stratum's side of a script, and those of the libraries that the scripts'
``import`` statements name: ``scripts_modules``) and then forks a fresh
process per script (its own session, its own standard streams, its own exit
status): the script starts with its heavy imports done.
It never runs user code or threads itself, so forking it is safe. The
coordinator talks to it over a Unix socket: a spawn request carries the
script's file descriptors (``SCM_RIGHTS``); the launcher answers with the new
process id and later reports its exit status.

A coordinator with no thread of its own yet imports the libraries itself and
forks the launcher: the coordinator, the launcher and every script then share
the libraries' pages (one copy in memory, about 200 MiB, instead of two). A
coordinator already running threads (forking it would copy their locks in
whatever state they are) starts a new interpreter instead, which imports
them again.
"""

from __future__ import annotations

import ast
import gc
import importlib
import importlib.util
import io
import multiprocessing
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

SOCKET_VARIABLE = "STRATUM_RUN_LAUNCHER"
MODULES_VARIABLE = "STRATUM_RUN_MODULES"  # a new interpreter's modules, by comma
_BOOTSTRAP = "from stratum.agents.launcher import serve; serve()"
_MAX_MESSAGE = 1 << 20


class LauncherError(RuntimeError):
    """The launcher could not start or start a script."""


class ForkedProcess:
    """The part of ``subprocess.Popen`` the coordinator uses, for a process
    forked by the launcher (not a child of this process)."""

    def __init__(self, launcher: Launcher, pid: int):
        self.launcher = launcher
        self.pid = pid
        self.returncode: int | None = None
        self.stdout = self.stderr = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.launcher.exit_code(self.pid, block=False)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = self.launcher.exit_code(self.pid, block=True)
        return self.returncode

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Launcher:
    """The coordinator's handle on the launcher process."""

    def __init__(self, env: dict[str, str], modules: list[str] | None = None):
        """``modules``: what the scripts import (``import_libraries``)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # (a daemonic multiprocessing worker, such as a server's, may not
        # start processes that way: it starts a new interpreter too)
        self.forked = (
            threading.active_count() == 1
            and hasattr(os, "fork")
            and not multiprocessing.current_process().daemon
        )
        if self.forked:
            import_libraries(modules)
            # (and never collected here either: a collection would write to
            # every page of them, and so copy every page shared with the fork)
            gc.freeze()
            self.proc = _Forked(theirs, ours)
        else:
            env = dict(env, **{SOCKET_VARIABLE: str(theirs.fileno())})
            if modules is not None:
                env[MODULES_VARIABLE] = "".join(f"{m}," for m in modules)
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=env,
            )
        theirs.close()
        self.sock = ours
        self.lock = threading.Lock()
        self.exits: dict[int, int] = {}
        self.replies: list[Any] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.ready = False  # its imports run while the coordinator goes on

    def wait_ready(self) -> None:
        """Block until its imports are done; LauncherError if it died."""
        if not self.ready:
            if self._reply() != "ready":
                raise LauncherError("the launcher did not start")
            self.ready = True

    def _read(self) -> None:
        stream = self.sock.makefile("rb")
        try:
            while True:
                message = pickle.load(stream)
                with self.changed:
                    if message[0] == "exit":
                        self.exits[message[1]] = message[2]
                    else:
                        self.replies.append(message[1])
                    self.changed.notify_all()
        except (EOFError, OSError, pickle.UnpicklingError):
            with self.changed:
                self.replies.append(None)
                self.changed.notify_all()

    def _reply(self) -> Any:
        with self.changed:
            self.changed.wait_for(lambda: self.replies)
            return self.replies.pop(0)

    def spawn(
        self, argv: list[str], env: dict[str, str], cwd: str, fds: list[int]
    ) -> ForkedProcess:
        """Fork a process running ``argv`` (as ``python -c BOOT ARGS``) with
        ``fds``: stdout, stderr, then the channel's two descriptors."""
        data = pickle.dumps((argv, env, cwd))
        with self.lock:
            self.wait_ready()
            socket.send_fds(self.sock, [data], fds)
            reply = self._reply()
        if not isinstance(reply, int):
            raise LauncherError(f"the launcher could not start a script: {reply}")
        return ForkedProcess(self, reply)

    def exit_code(self, pid: int, block: bool) -> int | None:
        with self.changed:
            if block:
                self.changed.wait_for(
                    lambda: pid in self.exits or self.proc.poll() is not None,
                    timeout=None,
                )
            if pid not in self.exits and self.proc.poll() is not None:
                return -1  # the launcher died: the exit status is lost
            return self.exits.get(pid)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _Forked:
    """The part of ``subprocess.Popen`` ``Launcher`` uses, for a launcher
    forked from this process (``multiprocessing``'s fork: the child leaves by
    ``os._exit``, without this process's exit handlers)."""

    def __init__(self, theirs: socket.socket, ours: socket.socket):
        context = multiprocessing.get_context("fork")
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
        self.process = context.Process(target=_serve_forked, args=(theirs, ours))
        self.process.start()

    def poll(self) -> int | None:
        return self.process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise subprocess.TimeoutExpired("stratum launcher", timeout)
        return self.process.exitcode

    def kill(self) -> None:
        self.process.kill()


# -- the launcher process ------------------------------------------------------


# Libraries whose modules the launcher imports when the scripts import them
# (importing a module runs its code: only these, never the scripts' own).
LIBRARIES = ("numpy", "pandas", "scipy", "sklearn", "skrub", "lightgbm", "xgboost")
_ALWAYS = ("pandas", "sklearn.base")  # what a script's memo needs, besides
# scikit-learn's names that run on stratum's engine in a script
# (``patch_sklearn``), and the engine's modules they import
_ENGINE_USERS = {
    "sklearn.model_selection": {
        "GridSearchCV",
        "RandomizedSearchCV",
        "HalvingGridSearchCV",
        "HalvingRandomSearchCV",
        "cross_validate",
        "cross_val_score",
        "cross_val_predict",
    }
}
_SKLEARN_ENGINE = (
    "stratum.frontend.sklearn.searches",
    "stratum.frontend.sklearn.cross_validation",
)


def import_libraries(modules: list[str] | None = None) -> None:
    """What the scripts will import, before they run: stratum's side of a
    script (its memo, with numpy, pandas and scikit-learn) and ``modules``
    (of ``LIBRARIES``; skrub comes with stratum's drop-in). Without
    ``modules``: skrub, with stratum's engine, and the boosting libraries
    agents' scripts use, where installed."""
    import stratum.agents.child  # noqa: F401
    import stratum.frontend.sklearn.memoize  # noqa: F401

    if modules is None:
        modules = ["skrub", "stratum.batch_search"] + [
            name
            for name in ("lightgbm", "xgboost")
            if importlib.util.find_spec(name) is not None
        ]
    for name in [*_ALWAYS, *modules]:
        try:
            importlib.import_module(name)
        except Exception:  # the script that imports it gets the error itself
            pass


def scripts_modules(paths: list[str]) -> list[str]:
    """The modules of ``LIBRARIES`` the scripts at ``paths`` import
    (``import a.b``, ``from a.b import c``: ``a.b``, and ``a.b.c`` where
    that is a module), anywhere in their code, in the order first seen; and
    stratum's engine where they import skrub or scikit-learn's searches."""
    found: dict[str, None] = {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                tree = ast.parse(f.read())
        except (OSError, SyntaxError, ValueError):
            continue  # the script fails (or runs) on its own
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module] + [
                    f"{node.module}.{alias.name}"
                    for alias in node.names
                    if node.module.partition(".")[0] in LIBRARIES
                    and _is_module(f"{node.module}.{alias.name}")
                ]
            else:
                continue
            for name in names:
                if name.partition(".")[0] in LIBRARIES:
                    found[name] = None
            if isinstance(node, ast.ImportFrom) and node.module in _ENGINE_USERS:
                if any(a.name in _ENGINE_USERS[node.module] for a in node.names):
                    found.update(dict.fromkeys(_SKLEARN_ENGINE))
    if any(name.partition(".")[0] == "skrub" for name in found):
        found["stratum.batch_search"] = None  # the drop-in's engine
    return list(found)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:  # its package does not import
        return False


def _serve_forked(sock: socket.socket, coordinators: socket.socket) -> None:
    # The coordinator's end stays only with the coordinator: when it goes, the
    # launcher reads the end of its socket.
    coordinators.close()
    serve(sock)


def serve(sock: socket.socket | None = None) -> None:
    """The launcher's loop: import, then fork on request and report exits."""
    if sock is None:  # a new interpreter: the socket's descriptor is passed
        sock = socket.socket(fileno=int(os.environ.pop(SOCKET_VARIABLE)))
        modules = os.environ.pop(MODULES_VARIABLE, None)
        import_libraries(None if modules is None else modules.split(",")[:-1])
    # (a forked launcher has its coordinator's imports)
    out = sock.makefile("wb")

    def send(message) -> None:
        pickle.dump(message, out)
        out.flush()

    # The imported modules are never collected: a script's exit then does not
    # walk them (and copy every page the fork shares with this process).
    gc.freeze()
    send(("reply", "ready"))
    children: set[int] = set()
    while True:
        readable, _, _ = select.select([sock], [], [], 0.05)
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                send(("exit", pid, os.waitstatus_to_exitcode(status)))
        if not readable:
            continue
        data, fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, 4)
        if not data:
            break  # the coordinator has gone
        if len(fds) != 4:
            send(("reply", f"expected 4 file descriptors, got {len(fds)}"))
            for fd in fds:
                os.close(fd)
            continue
        argv, env, cwd = pickle.loads(data)
        pid = os.fork()
        if pid == 0:
            out.close()
            sock.close()
            _become_script(argv, env, cwd, fds)  # never returns
        for fd in fds:
            os.close(fd)
        children.add(pid)
        send(("reply", pid))
    for pid in children:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def _standard_streams() -> None:
    """``sys.stdin``, ``sys.stdout`` and ``sys.stderr`` as a new interpreter
    with ``PYTHONUNBUFFERED`` has them, over descriptors 0, 1 and 2 (those of
    the process forked from may have been replaced, by a test runner's
    capture for one, or closed)."""

    def stream(fd: int, writing: bool, like) -> io.TextIOWrapper:
        raw = io.FileIO(fd, "w" if writing else "r", closefd=False)
        return io.TextIOWrapper(
            raw if writing else io.BufferedReader(raw),
            encoding=getattr(like, "encoding", None) or "utf-8",
            errors=getattr(like, "errors", None) or "strict",
            write_through=writing,
        )

    sys.stdin = sys.__stdin__ = stream(0, False, sys.__stdin__)
    sys.stdout = sys.__stdout__ = stream(1, True, sys.__stdout__)
    sys.stderr = sys.__stderr__ = stream(2, True, sys.__stderr__)


def _become_script(argv, env, cwd, fds) -> None:
    stdout, stderr, read_fd, write_fd = fds
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    for fd in {devnull, stdout, stderr} - {0, 1, 2}:
        os.close(fd)
    _standard_streams()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    importlib.invalidate_caches()  # files written since the launcher started
    # A fresh process would have drawn fresh entropy.
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    from .child import run

    run(argv[0], argv, read_fd, write_fd)
    sys.exit(0)
