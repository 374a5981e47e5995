"""``backend="ray"``: the threaded runtime's results on an in-process Ray and
on a two-node cluster started on loopback, also when the second node's
workers are killed mid-batch; failures confined to their dependants."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import harness as H
import numpy as np
import pandas as pd
import pipelines as P
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

import stratum

ray = pytest.importorskip("ray")
from stratum.runtime.ray_backend import _check_reachable  # noqa: E402

batch = P.sample_batch
table = H.results_table


@pytest.fixture(scope="module", autouse=True)
def worker_environment():
    """Ray workers import stratum and these tests' helpers like the driver."""
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "RAY_AUTH_MODE")}
    tests = os.path.dirname(os.path.abspath(__file__))
    package_root = os.path.dirname(os.path.dirname(stratum.__file__))
    paths = [tests, package_root] + [p for p in [saved["PYTHONPATH"]] if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    yield
    if ray.is_initialized():
        ray.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def reference():
    return stratum.search(batch(), cv=3, n_jobs=1, refit=True)


@pytest.fixture(scope="module")
def local_ray():
    if not ray.is_initialized():
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            logging_level="WARNING",
        )
    yield
    ray.shutdown()


def _check_same(reference, res):
    pd.testing.assert_frame_equal(table(reference), table(res))
    assert res.best_.pipeline == reference.best_.pipeline
    X = P.build(reference.best_.pipeline).skb.get_data()
    np.testing.assert_array_equal(
        res.best_.learner.predict(X), reference.best_.learner.predict(X)
    )


def test_local_ray_gives_the_threaded_results(reference, local_ray):
    res = stratum.search(batch(), cv=3, refit=True, backend="ray")
    _check_same(reference, res)
    placements = res.stats_["placement"]
    remote = placements[placements.str.contains(" node ")]
    assert len(remote) > len(res.stats_) / 2
    assert "where time went" in res.explain()


class FoldFailScaler(StandardScaler):
    """Fits on the full data (previews) but raises on cross-validation folds."""

    def fit(self, X, y=None, **kw):
        if len(X) < P.N_HOUSES:
            raise ValueError("shared step broke")
        return super().fit(X, y, **kw)


class Slow(RegressorMixin, BaseEstimator):
    def __init__(self, seconds=0.5):
        self.seconds = seconds

    def fit(self, X, y):
        if len(X) < P.N_HOUSES:
            time.sleep(self.seconds)
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def _with(step, model=None):
    X, y = P.house_xy()
    X = P.numeric_only(X).skb.apply(SimpleImputer()).skb.apply(step)
    return X.skb.apply(model if model is not None else Ridge(), y=y)


def test_failing_shared_step_fails_exactly_its_dependants(local_ray):
    pipelines = {
        "a": _with(FoldFailScaler()),
        "b": _with(FoldFailScaler(), Ridge(alpha=10.0)),
        "ok": _with(StandardScaler()),
    }
    res = stratum.search(pipelines, cv=3, refit=False, backend="ray")
    by_name = res.results_.set_index("pipeline")
    for name in ("a", "b"):
        assert by_name.loc[name, "status"] == "error"
        assert "FoldFailScaler" in by_name.loc[name, "error"]
        assert "shared step broke" in by_name.loc[name, "error"]
    ref = stratum.search({"ok": _with(StandardScaler())}, cv=3, refit=False)
    assert by_name.loc["ok", "status"] == "ok"
    assert by_name.loc["ok", "mean_test_score"] == ref.results_["mean_test_score"][0]
    stats = res.stats_
    assert (stats["status"] == "skipped").any()


def test_configuration_timeout_cancels_the_ray_task(local_ray):
    start = time.monotonic()
    res = stratum.search(
        {"slow": _with(StandardScaler(), Slow(120)), "ok": _with(StandardScaler())},
        cv=3,
        refit=False,
        backend="ray",
        config_timeout=15,  # the task's time includes a new worker's start
    )
    assert time.monotonic() - start < 90
    by_name = res.results_.set_index("pipeline")
    assert by_name.loc["slow", "status"] == "timeout"
    assert by_name.loc["ok", "status"] == "ok"


# -- a two-node cluster on loopback --------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli() -> list[str]:
    return [sys.executable, "-m", "ray.scripts.scripts"]


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def _descendants(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        for child in _children(stack.pop()):
            out.append(child)
            stack.append(child)
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _start_node(args: list[str], log, cpus: int = 1) -> subprocess.Popen:
    common = [f"--num-cpus={cpus}", "--object-store-memory=150000000"]
    common += ["--disable-usage-stats", "--block"]
    return subprocess.Popen(
        _ray_cli() + ["start", *args, *common],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # ``ray start --block`` stops its node
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for pid in _descendants(proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node (one CPU) and a second node (two CPUs) on 127.0.0.1."""
    if ray.is_initialized():
        ray.shutdown()
    log = open(tmp_path_factory.mktemp("ray") / "nodes.log", "w")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    head = _start_node(
        [
            "--head",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            "--include-dashboard=false",
        ],
        log,
    )
    second = None
    try:
        deadline = time.monotonic() + 60
        while True:
            ready = subprocess.run(
                _ray_cli() + ["status", f"--address={address}"],
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            assert time.monotonic() < deadline, "the head node did not start"
            assert head.poll() is None, "the head node exited"
            time.sleep(1)
        second = _start_node(
            [f"--address={address}", "--node-ip-address=127.0.0.1"], log, cpus=2
        )
        ray.init(address=address, logging_level="WARNING")
        deadline = time.monotonic() + 60
        while len([n for n in ray.nodes() if n["Alive"]]) < 2:
            assert time.monotonic() < deadline, "the second node did not join"
            time.sleep(0.5)
        yield address, second
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if second is not None:
            _stop(second)
        _stop(head)
        log.close()


def test_two_node_cluster_gives_the_threaded_results(reference, cluster):
    address, _ = cluster
    res = stratum.search(batch(), cv=3, refit=True, backend="ray", ray_address=address)
    _check_same(reference, res)
    nodes = res.stats_["placement"].str.extract(r"node (\w+)")[0].dropna()
    assert nodes.nunique() == 2  # both nodes ran tasks


def test_killing_the_second_nodes_workers_mid_batch(cluster):
    address, second = cluster
    pipelines = {
        f"p{i}": _with(StandardScaler(), Slow(0.3 + i / 100)) for i in range(6)
    }
    pipelines["ridge"] = _with(StandardScaler())
    ref = stratum.search(pipelines, cv=3, refit=False)
    killed: list[int] = []
    done = threading.Event()

    def kill_workers_once():
        while not killed and not done.is_set():
            for pid in _descendants(second.pid):
                if _cmdline(pid).startswith("ray::_run_on_ray"):
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                    except ProcessLookupError:
                        pass
            time.sleep(0.05)

    # Where Ray places tasks depends on timing; run the batch again (at most
    # six times: a couple of seconds each) until one run lost workers on the
    # second node.
    for _ in range(6):
        done.clear()
        killer = threading.Thread(target=kill_workers_once)
        killer.start()
        try:
            res = stratum.search(
                pipelines, cv=3, refit=False, backend="ray", ray_address=address
            )
        finally:
            done.set()
            killer.join()
        pd.testing.assert_frame_equal(table(ref), table(res))
        if killed:
            break
    assert killed, "no task ran on the second node"
    assert (res.results_["status"] == "ok").all()


# -- connecting: no hangs, no one else's cluster --------------------------------

_CHILD = """
import sys, time
import numpy as np, skrub, stratum
from sklearn.linear_model import Ridge

X = np.arange(40.0).reshape(20, 2)
pred = skrub.X(X).skb.apply(Ridge(), y=skrub.y(X[:, 0] * 2))
address, limit = sys.argv[1], float(sys.argv[2])
print("connecting", flush=True)
start = time.monotonic()
try:
    with stratum.config_context(progress=False, ray_connect_timeout=limit):
        res = stratum.search(
            [pred], cv=2, backend="ray", ray_address=None if address == "-" else address
        )
    print("ok", res.results_["status"].tolist())
except Exception as error:
    print("error", type(error).__name__, error)
print("seconds", round(time.monotonic() - start, 1))
"""


def _child(address: str, limit: float, timeout: float, env_address=None) -> str:
    """Run a one-pipeline Ray batch in a fresh process, with ``RAY_ADDRESS``
    set to ``env_address`` (None: unset); what it printed."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    if env_address is not None:
        env["RAY_ADDRESS"] = env_address
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, address, str(limit)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return done.stdout


def _seconds(output: str) -> float:
    return float(output.split("seconds ")[-1])


def test_a_killed_clusters_address_file_is_not_followed(tmp_path):
    """A cluster killed with SIGKILL leaves /tmp/ray/ray_current_cluster
    behind. With no address stratum starts its own local Ray (it used to
    attach to the dead one and hang), even with ``RAY_ADDRESS`` naming it;
    given the dead address, it fails at once, naming it."""
    port, stale = _free_port(), "/tmp/ray/ray_current_cluster"
    with open(tmp_path / "head.log", "w") as log:
        head = _start_node(
            [
                "--head",
                f"--port={port}",
                "--node-ip-address=127.0.0.1",
                "--include-dashboard=false",
            ],
            log,
        )
        try:  # up, and its address written (after the node has started)
            deadline = time.monotonic() + 90
            while not _names(stale, port):
                assert time.monotonic() < deadline, "the head node did not start"
                assert head.poll() is None, "the head node exited"
                time.sleep(0.5)
        finally:
            for pid in [*_descendants(head.pid), head.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            head.wait()
    try:
        assert _names(stale, port)  # left behind, pointing nowhere
        own = _child("-", 120, timeout=240, env_address=f"127.0.0.1:{port}")
        assert "ok ['ok']" in own, own
        start = time.monotonic()
        with pytest.raises(ConnectionError, match=f"Ray cluster at '127.0.0.1:{port}'"):
            _check_reachable(f"127.0.0.1:{port}", timeout=60)  # what connect() asks
        assert time.monotonic() - start < 15
    finally:
        if _names(stale, port):
            os.remove(stale)


def _names(address_file: str, port: int) -> bool:
    try:
        with open(address_file) as f:
            return f.read().strip().endswith(f":{port}")
    except OSError:
        return False


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for connection in held:
        connection.close()


def test_a_connection_that_hangs_ends_in_time_and_on_sigterm(silent_server):
    out = _child(silent_server, 2, timeout=120)
    assert "error TimeoutError" in out, out
    assert f"connect to the Ray cluster at '{silent_server}' within 2 s" in out
    assert _seconds(out) < 30
    # SIGTERM ends a batch that is still connecting (it used to be ignored)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, silent_server, "600"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "connecting"
        time.sleep(1)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) != 0
    finally:
        child.kill()
        child.wait()
