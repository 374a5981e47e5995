"""The coordinator of ``stratum run``: scripts in their own processes, their
searches in shared batches.

Every script runs in its own Python process (``child.py``). When a script
needs results (a search's ``fit``, a ``cross_validate``), it sends a request
and blocks. Once every live script is blocked on a request or has ended, the
coordinator evaluates all pending requests as one stratum batch (shared work
done once; earlier batches reused through one ``Session``), answers each
script, and they go on. A script that crashes, hangs past its timeout or never
asks for anything only holds up the others until it ends or is killed.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .._threads import available_cores
from . import protocol
from .child import (
    MEMO_DIR_VARIABLE,
    MEMO_DURABLE_VARIABLE,
    MEMO_VARIABLE,
    THREADS_VARIABLE,
)

if TYPE_CHECKING:
    from ..runtime.memo_store import MemoReport

# How often the coordinator looks at its scripts when nothing else happens.
_POLL = 0.05
_BOOTSTRAP = "from stratum.agents.child import main; main()"


@dataclass
class BatchInfo:
    """One batch of requests evaluated together, and what was shared.

    ``tasks`` counts the node tasks executed, ``tasks_requested`` the tasks
    the batch's configurations needed (what they would have computed alone);
    ``fits`` and ``fits_requested`` the same for estimator fits on folds;
    ``reused`` the results taken from earlier batches.
    """

    number: int
    scripts: list[str]
    requests: int
    seconds: float
    tasks: int = 0
    tasks_requested: int = 0
    fits: int = 0
    fits_requested: int = 0
    reused: int = 0
    error: str | None = None


@dataclass
class ScriptResult:
    """What one script did under ``stratum run``.

    ``status`` is "ok" (exit code 0), "error" (non-zero exit code), "timeout"
    (killed past its timeout) or "killed" (ended by a signal).
    ``wall_seconds`` is from its start to its end, ``blocked_seconds`` the
    part spent waiting for its requests' batches. ``requests`` counts its
    searches and cross-validations; ``batches`` the batches it joined;
    ``local`` the requests it evaluated itself, with why; ``memo`` what its
    estimator calls reused, computed, and could not share.
    """

    name: str
    path: str
    status: str = "not started"
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    wall_seconds: float = 0.0
    blocked_seconds: float = 0.0
    requests: int = 0
    batches: list[BatchInfo] = field(default_factory=list)
    local: list[str] = field(default_factory=list)
    memo: MemoReport = field(default_factory=lambda: _memo_report())


class _Script:
    """A running script: its process, its output and its pending request."""

    def __init__(self, result: ScriptResult, argv: list[str], out: Path | None):
        self.result = result
        self.argv = argv
        self.out = out
        self.proc: subprocess.Popen | None = None
        self.replies: IO[bytes] | None = None
        self.start = 0.0
        self.blocked_since: float | None = None
        self.pending: dict | None = None
        self.readers: list[threading.Thread] = []
        self.chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        self.write_lock = threading.Lock()
        self.ended = False
        self.timed_out = False

    @property
    def name(self) -> str:
        return self.result.name

    def running_seconds(self, now: float) -> float:
        blocked = self.result.blocked_seconds
        if self.blocked_since is not None:
            blocked += now - self.blocked_since
        return now - self.start - blocked


class Runner:
    """Run scripts, batching their requests (see :func:`run_scripts`)."""

    def __init__(
        self,
        scripts: list[tuple[str, str]],
        *,
        n_jobs: int = -1,
        timeout: float | None = None,
        out: str | os.PathLike | None = None,
        stream: bool = False,
        max_live: int | None = None,
        args: list[str] | None = None,
        preload: bool = True,
        jobs: int | None = None,
        memo: bool = True,
        cache_dir: str | os.PathLike | None = None,
    ):
        self.out = Path(out) if out is not None else None
        self.n_jobs = n_jobs
        self.jobs = max(1, jobs or available_cores())
        self.memo_on = memo
        self.launcher = self.memo = self.memo_dir = None
        if preload and hasattr(os, "fork"):
            # First: the launcher's imports overlap with this process's.
            self._start_launcher([path for _, path in scripts])
        from ..runtime.cache import DiskCache
        from ..runtime.memo_store import MemoStore
        from ..session import Session

        # The memo's payloads live on disk: each script writes what it
        # computed and reads what it reuses there, and this process keeps
        # only who computes what (no payload passes through it).
        if memo:
            if cache_dir is not None:
                disk = DiskCache(cache_dir)
            else:
                self.memo_dir = tempfile.TemporaryDirectory(prefix="stratum-memo-")
                disk = DiskCache(self.memo_dir.name, durable=False)
            self.memo = MemoStore(memory_bytes=0, disk=disk)
        self.timeout = timeout
        self.stream = stream
        self.max_live = max_live or len(scripts)
        self.events: queue.Queue = queue.Queue()
        self.batches: list[BatchInfo] = []
        self.session = Session()
        self.print_lock = threading.Lock()
        self.scripts = []
        for name, path in scripts:
            folder = self.out / name if self.out is not None else None
            argv = [sys.executable, "-c", _BOOTSTRAP, path, *(args or [])]
            self.scripts.append(_Script(ScriptResult(name, path), argv, folder))

    # -- processes -------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = _script_env()
        env[MEMO_VARIABLE] = "1" if self.memo_on else "0"
        if self.memo is not None:
            env[MEMO_DIR_VARIABLE] = self.memo.disk.path
            env[MEMO_DURABLE_VARIABLE] = "1" if self.memo.disk.durable else "0"
        if self.jobs > 1:
            env[THREADS_VARIABLE] = str(max(1, available_cores() // self.jobs))
        return env

    def _start_launcher(self, paths: list[str]) -> None:
        from .launcher import Launcher, LauncherError, scripts_modules

        try:
            self.launcher = Launcher(self._env(), scripts_modules(paths))
        except (LauncherError, OSError) as error:
            self._no_launcher(error)

    def _no_launcher(self, error: Exception) -> None:
        print(
            f"stratum run: no launcher ({error}); each script imports "
            "its libraries itself",
            file=sys.stderr,
        )
        if self.launcher is not None:
            self.launcher.close()
        self.launcher = None

    def _start(self, script: _Script) -> None:
        if self.launcher is not None:
            from .launcher import LauncherError

            try:
                self.launcher.wait_ready()
            except LauncherError as error:
                self._no_launcher(error)
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        script.start = time.perf_counter()
        if self.launcher is not None:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            try:
                script.proc = self.launcher.spawn(
                    script.argv[3:],
                    self._env(),
                    os.getcwd(),
                    [out_w, err_w, rep_r, req_w],
                )
            finally:
                for fd in (out_w, err_w, rep_r, req_w):
                    os.close(fd)
            pipes = {"stdout": os.fdopen(out_r, "rb"), "stderr": os.fdopen(err_r, "rb")}
        else:
            env = self._env()
            env[protocol.FDS_VARIABLE] = f"{rep_r},{req_w}"
            try:
                script.proc = subprocess.Popen(
                    script.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    pass_fds=(rep_r, req_w),
                    env=env,
                    start_new_session=True,  # its own process group, killed as one
                )
            finally:
                os.close(rep_r)
                os.close(req_w)
            pipes = {"stdout": script.proc.stdout, "stderr": script.proc.stderr}
        script.replies = os.fdopen(rep_w, "wb")
        requests = os.fdopen(req_r, "rb")
        script.result.status = "running"
        for stream_name, pipe in pipes.items():
            thread = threading.Thread(
                target=self._pump, args=(script, stream_name, pipe), daemon=True
            )
            thread.start()
            script.readers.append(thread)
        threading.Thread(
            target=self._listen, args=(script, requests), daemon=True
        ).start()

    def _pump(self, script: _Script, stream_name: str, pipe: IO[bytes]) -> None:
        target = sys.stdout if stream_name == "stdout" else sys.stderr
        for line in iter(pipe.readline, b""):
            script.chunks[stream_name].append(line)
            if self.stream:
                text = line.decode("utf-8", errors="replace").rstrip("\n")
                with self.print_lock:
                    print(f"[{script.name}] {text}", file=target, flush=True)
        pipe.close()

    def _listen(self, script: _Script, requests: IO[bytes]) -> None:
        try:
            while True:
                message = protocol.receive(requests)
                if message["type"].startswith("memo_"):
                    self._memo(script, message)
                else:
                    self.events.put((script, message))
        except (EOFError, OSError):
            pass
        finally:
            requests.close()

    def _memo(self, script: _Script, message: dict) -> None:
        """Answer a script's memo message (in its listening thread: a batch
        being evaluated does not hold up the memo)."""
        kind, report = message["type"], script.result.memo
        if kind == "memo_refuse":
            report.refused(message["label"], message["why"])
            return
        if kind == "memo_read":  # what the script read from the disk
            from ..runtime.memo_store import Answer

            answer = Answer(
                message["status"], None, message["seconds"], message["origin"]
            )
            report.answered(message["label"], answer, message["key_seconds"])
            return
        client = (script.name, message["thread"])
        key, family, rounds = message["key"], message["family"], message["rounds"]
        if kind == "memo_get":
            answer = self.memo.get(
                client, key, family, rounds, read=not message.get("reads_disk")
            )
            if answer.stored is None:  # else the script reports what it read
                report.answered(message["label"], answer, message["key_seconds"])
            self._send(script, vars(answer))
        elif kind == "memo_put":  # the payload, unless the script wrote it
            self.memo.put(
                client,
                key,
                message.get("payload"),
                message["seconds"],
                family,
                rounds,
                nbytes=message.get("nbytes", 0),
            )
            report.stored(message["label"], message["seconds"])
        elif kind == "memo_drop":
            self.memo.drop(client, key)

    def _kill(self, script: _Script) -> None:
        try:
            os.killpg(script.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            script.proc.kill()

    def _end(self, script: _Script, now: float) -> None:
        code = script.proc.wait()
        for thread in script.readers:
            thread.join()
        result = script.result
        result.exit_code = code
        result.wall_seconds = now - script.start
        if script.blocked_since is not None:  # killed while waiting
            result.blocked_seconds += now - script.blocked_since
            script.blocked_since = None
        result.stdout = b"".join(script.chunks["stdout"]).decode(errors="replace")
        result.stderr = b"".join(script.chunks["stderr"]).decode(errors="replace")
        if script.timed_out:
            result.status = "timeout"
        elif code == 0:
            result.status = "ok"
        elif code < 0:
            result.status = "killed"
        else:
            result.status = "error"
        try:
            script.replies.close()
        except OSError:
            pass
        script.ended = True
        script.pending = None
        if self.memo is not None:
            self.memo.release(script.name)
        if script.out is not None:
            script.out.mkdir(parents=True, exist_ok=True)
            (script.out / "stdout").write_text(result.stdout)
            (script.out / "stderr").write_text(result.stderr)
            (script.out / "exit_code").write_text(f"{code}\n")

    # -- the loop ----------------------------------------------------------------
    def run(self) -> list[ScriptResult]:
        path, modules = list(sys.path), set(sys.modules)
        try:
            return self._run()
        finally:
            _forget_script_modules(path, modules)
            if self.memo_dir is not None:
                self.memo_dir.cleanup()

    def _run(self) -> list[ScriptResult]:
        waiting = list(self.scripts)
        live: list[_Script] = []
        try:
            while waiting or live:
                while (
                    waiting
                    and len(live) < self.max_live
                    and sum(1 for s in live if s.pending is None) < self.jobs
                ):
                    script = waiting.pop(0)
                    self._start(script)
                    live.append(script)
                self._handle_events(timeout=_POLL)
                now = time.perf_counter()
                for script in list(live):
                    if script.proc.poll() is not None:
                        self._end(script, now)
                        live.remove(script)
                    elif (
                        self.timeout is not None
                        and script.running_seconds(now) > self.timeout
                    ):
                        script.timed_out = True
                        self._kill(script)
                # Every live script waits: batch, unless scripts not yet
                # started can start (their requests then join this batch).
                can_start = waiting and len(live) < self.max_live
                if live and not can_start and all(s.pending is not None for s in live):
                    self._batch([s for s in live if s.pending is not None])
        finally:
            for script in live:
                if script.proc is not None and script.proc.poll() is None:
                    self._kill(script)
                    self._end(script, time.perf_counter())
            if self.launcher is not None:
                self.launcher.close()
        return [s.result for s in self.scripts]

    def _handle_events(self, timeout: float) -> None:
        try:
            script, message = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            if script.ended:
                pass
            elif message["type"] == "local":
                script.result.local.append(message["reason"])
            else:
                script.result.requests += 1
                script.pending = message
                script.blocked_since = time.perf_counter()
            try:
                script, message = self.events.get_nowait()
            except queue.Empty:
                return

    # -- batches -----------------------------------------------------------------
    def _batch(self, scripts: list[_Script]) -> None:
        from ..frontend.skrub.search_requests import answer
        from ..options import ExecutionOptions

        start = time.perf_counter()
        info = BatchInfo(len(self.batches) + 1, [s.name for s in scripts], 0, 0.0)
        self.batches.append(info)
        asking, requests = [], []
        for script in scripts:
            message = script.pending
            try:
                _extend_path(message["sys_path"])
                requests.append(protocol.loads(message["payload"]))
                asking.append(script)
            except Exception as error:
                self._reply_fallback(
                    script, f"request not readable ({type(error).__name__}: {error})"
                )
        info.requests = len(requests)
        replies = []
        if requests:
            names = [f"{s.name}#{s.result.requests}" for s in asking]
            try:
                with self.session:
                    batch, replies = answer(
                        requests, ExecutionOptions.resolve(n_jobs=self.n_jobs), names
                    )
                _count_sharing(info, batch)
            except Exception as error:
                info.error = f"{type(error).__name__}: {error}"
                print(
                    f"stratum run: batch {info.number} failed, its scripts evaluate "
                    f"their requests themselves:\n{traceback.format_exc()}",
                    file=sys.stderr,
                )
                replies = []
        for i, script in enumerate(asking):
            script.result.batches.append(info)
            if not replies:
                self._reply_fallback(script, f"batch {info.number} failed")
                continue
            reply = replies[i]
            if reply.status == "fallback":
                self._reply_fallback(script, reply.value, evaluated="by skrub")
                continue
            try:
                payload = protocol.dumps(reply.value)
            except Exception as error:
                if reply.status == "ok":
                    self._reply_fallback(
                        script,
                        f"result not serializable ({type(error).__name__}: {error})",
                    )
                    continue
                payload = protocol.dumps(
                    RuntimeError(f"{type(reply.value).__name__}: {reply.value}")
                )
            self._reply(script, {"status": reply.status, "payload": payload})
        info.seconds = time.perf_counter() - start

    def _reply_fallback(self, script: _Script, reason: str, evaluated="itself") -> None:
        script.result.local.append(f"evaluated {evaluated}: {reason}")
        self._reply(script, {"status": "fallback"})

    def _reply(self, script: _Script, message: dict) -> None:
        now = time.perf_counter()
        if script.blocked_since is not None:
            script.result.blocked_seconds += now - script.blocked_since
            script.blocked_since = None
        script.pending = None
        self._send(script, message)

    def _send(self, script: _Script, message: dict) -> None:
        try:
            with script.write_lock:
                protocol.send(script.replies, message)
        except (BrokenPipeError, OSError, ValueError):
            pass  # it has ended; its exit code says how


def summary(results: list[ScriptResult]) -> str:
    """The table printed by ``stratum run``: one row per script, then the
    batches and what they shared."""
    width = max([len(r.name) for r in results] + [6])
    lines = [
        f"{'script':<{width}}  {'status':<11} {'exit':>4} {'wall s':>8} "
        f"{'waited s':>8} {'requests':>8}  batches",
    ]
    for r in results:
        code = "" if r.exit_code is None else str(r.exit_code)
        joined = ",".join(str(b.number) for b in r.batches) or "-"
        lines.append(
            f"{r.name:<{width}}  {r.status:<11} {code:>4} {r.wall_seconds:8.2f} "
            f"{r.blocked_seconds:8.2f} {r.requests:8d}  {joined}"
        )
        for note in r.local:
            lines.append(f"{'':<{width}}  note: {note}")
        memo = r.memo
        if memo.reused or memo.computed or memo.not_shared:
            lines.append(
                f"{'':<{width}}  estimator calls: {sum(memo.reused.values())} "
                f"reused, {sum(memo.computed.values())} computed, "
                f"{sum(memo.not_shared.values())} not shared"
            )
    batches = {id(b): b for r in results for b in r.batches}.values()
    for b in sorted(batches, key=lambda b: b.number):
        if b.error is not None:
            lines.append(f"batch {b.number}: failed ({b.error})")
            continue
        lines.append(
            f"batch {b.number}: {b.requests} request(s) from {len(b.scripts)} "
            f"script(s) in {b.seconds:.2f}s; tasks executed {b.tasks} of "
            f"{b.tasks_requested} requested; estimator fits {b.fits} of "
            f"{b.fits_requested} ({b.fits_requested - b.fits} saved); "
            f"{b.reused} result(s) reused from earlier batches"
        )
    return "\n".join(lines)


def explain(results: list[ScriptResult]) -> str:
    """``stratum run --explain``: per script, what its estimator calls reused
    (and from which script), what they computed, and what could not be
    shared and why."""
    lines = []
    for r in results:
        lines.append(f"{r.name} ({r.status}):")
        lines += [f"  {line}" for line in r.memo.lines()]
        lines += [f"  request evaluated in the script: {note}" for note in r.local]
    return "\n".join(lines)


def _memo_report():
    from ..runtime.memo_store import MemoReport

    return MemoReport()


def _count_sharing(info: BatchInfo, batch: Any) -> None:
    tasks = [t for t in batch.driver.lowering.tasks.values() if t.kind == "node"]
    info.tasks_requested = sum(len(t.users) for t in tasks)
    ran = {s.key for s in batch.driver.store.stats if s.kind == "node"}
    executed = {t.key for t in tasks if t.key in ran}
    info.tasks = len(executed)
    fits = [t for t in tasks if _is_fold_fit(t)]
    info.fits_requested = sum(len(t.users) for t in fits)
    info.fits = sum(1 for t in fits if t.key in executed)
    info.reused = batch.driver.store.reused


def _is_fold_fit(task) -> bool:
    """An estimator fitted on a fold's training rows."""
    return (
        task.label.startswith("<Apply")
        and task.key[2] == "train"
        and "fit" in (task.key[3] or "")
    )


def _extend_path(entries: list[str]) -> None:
    """Let the coordinator import what the script imports by name."""
    for entry in entries:
        if entry and entry not in sys.path:
            sys.path.append(entry)


def _forget_script_modules(path: list[str], modules: set[str]) -> None:
    """Undo ``_extend_path``: the next run's scripts may have other modules
    under the same names."""
    added = [os.path.realpath(p) for p in sys.path if p not in path]
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if any(os.path.realpath(file).startswith(root + os.sep) for root in added):
            del sys.modules[name]


def _script_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop(protocol.FDS_VARIABLE, None)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = _with_stratum(env.get("PYTHONPATH"))
    return env


def _with_stratum(pythonpath: str | None) -> str:
    """PYTHONPATH for the scripts, so that they import this stratum."""
    root = str(Path(__file__).resolve().parents[2])
    parts = [p for p in (pythonpath or "").split(os.pathsep) if p]
    if root not in parts:
        parts.append(root)
    return os.pathsep.join(parts)


def script_names(paths_or_texts: Any, workdir: str) -> list[tuple[str, str]]:
    """(name, path) of each script; texts are written to ``workdir``."""
    if isinstance(paths_or_texts, (str, os.PathLike)):
        paths_or_texts = [paths_or_texts]
    if isinstance(paths_or_texts, dict):
        items = [(str(name), text, True) for name, text in paths_or_texts.items()]
    else:
        items = []
        for i, entry in enumerate(paths_or_texts):
            if isinstance(entry, os.PathLike) or (
                isinstance(entry, str) and "\n" not in entry
            ):
                path = Path(entry)
                if not path.is_file():
                    raise FileNotFoundError(f"stratum run: no script {str(path)!r}")
                items.append((path.stem, str(path), False))
            else:
                items.append((f"script_{i}", entry, True))
    out, seen = [], set()
    for name, value, is_text in items:
        unique, k = name, 1
        while unique in seen:
            k += 1
            unique = f"{name}_{k}"
        seen.add(unique)
        if is_text:
            path = Path(workdir) / f"{unique}.py"
            path.write_text(value)
            value = str(path)
        out.append((unique, value))
    return out


def run_scripts(
    paths_or_texts,
    n_jobs: int = -1,
    timeout: float | None = None,
    out: str | os.PathLike | None = None,
    *,
    stream: bool = False,
    max_live: int | None = None,
    preload: bool = True,
    jobs: int | None = None,
    memo: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> list[ScriptResult]:
    """Run Python scripts, each in its own process, batching their searches
    and memoizing their estimator calls.

    Each script runs unmodified, as ``python SCRIPT`` would run it. Its
    estimator calls are memoized by content (a fit another script made on the
    same data is not repeated: the estimator takes on a copy of its fitted
    state, and what the fit printed is printed again). And with
    ``import skrub`` patched by stratum, its ``make_grid_search`` /
    ``make_randomized_search`` fits and its cross-validations (``.skb.
    cross_validate``, ``skrub.cross_validate``) are evaluated by this process,
    together with the other scripts' in one stratum batch, and returned to the
    script exactly as skrub would have returned them.

    Parameters
    ----------
    paths_or_texts : path, script text, or a list of them, or dict name -> text
        Scripts to run. A string without a newline is a path; a string with
        one is the text of a script. A script is named after its file (or its
        dict key, or ``script_<i>`` for a text).
    n_jobs : int
        Tasks run at once by the batch executor (default -1: all cores).
    timeout : float, optional
        Seconds a script may run, not counting the time it waits for its
        batches; past it, it is killed (``status="timeout"``).
    out : path, optional
        Write ``OUT/<name>/stdout``, ``stderr`` and ``exit_code`` per script.
    stream : bool
        Also print the scripts' output as it comes, each line prefixed with
        ``[<name>]``.
    max_live : int, optional
        Scripts running at once (default: all).
    preload : bool
        Start the scripts from a process that has already imported stratum
        (and so numpy, pandas, scikit-learn, skrub): a fork per script instead
        of a new interpreter, which saves each script its import time. With
        False (or where ``os.fork`` does not exist), each script is a new
        ``python`` process.
    jobs : int, optional
        Scripts computing at once (default: one per core); a script waiting
        for its batch does not count. Side by side, each script's LightGBM and
        OpenMP thread teams get its share of the cores (their results do not
        depend on it); BLAS keeps its own.
    memo : bool
        Memoize the scripts' estimator calls (``fit``, ``transform``,
        ``predict`` ...) by content, shared by all scripts
        (``stratum.memoize``); False runs them as they are.
    cache_dir : path, optional
        Also keep the memo on disk there, for later runs.

    Returns
    -------
    list of ScriptResult
        In the order of ``paths_or_texts``.
    """
    with tempfile.TemporaryDirectory(prefix="stratum-run-") as workdir:
        scripts = script_names(paths_or_texts, workdir)
        runner = Runner(
            scripts,
            n_jobs=n_jobs,
            timeout=timeout,
            out=out,
            stream=stream,
            max_live=max_live,
            preload=preload,
            jobs=jobs,
            memo=memo,
            cache_dir=cache_dir,
        )
        return runner.run()
