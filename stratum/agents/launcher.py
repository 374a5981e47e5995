"""Start scripts from a process that has already imported stratum.

Importing numpy, pandas, scikit-learn, skrub and stratum costs each script
about two seconds of CPU. The launcher is one process that imports them once
and then forks a fresh process per script (its own session, its own standard
streams, its own exit status): the script starts with its heavy imports done.
It never runs user code or threads itself, so forking it is safe. The
coordinator talks to it over a Unix socket: a spawn request carries the
script's file descriptors (``SCM_RIGHTS``); the launcher answers with the new
process id and later reports its exit status.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
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

    def __init__(self, env: dict[str, str]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(env, **{SOCKET_VARIABLE: str(theirs.fileno())})
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


# -- the launcher process ------------------------------------------------------


def serve() -> None:
    """The launcher's loop: import, then fork on request and report exits."""
    sock = socket.socket(fileno=int(os.environ.pop(SOCKET_VARIABLE)))
    # What every script would import: skrub (with pandas and scikit-learn),
    # stratum's drop-in, engine and memo.
    import skrub  # noqa: F401

    import stratum.agents.child  # noqa: F401
    import stratum.batch_search  # noqa: F401
    import stratum.frontend.sklearn.memoize  # noqa: F401

    # The boosting libraries agents' scripts use, where installed.
    for name in ("lightgbm", "xgboost"):
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)

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


def _become_script(argv, env, cwd, fds) -> None:
    stdout, stderr, read_fd, write_fd = fds
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    for fd in (devnull, stdout, stderr):
        os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    importlib.invalidate_caches()  # files written since the launcher started
    # A fresh process would have drawn fresh entropy.
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    sys.stdout.reconfigure(write_through=True)  # as PYTHONUNBUFFERED
    from .child import run

    run(argv[0], argv, read_fd, write_fd)
    sys.exit(0)
