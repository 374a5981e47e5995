"""``backend="processes"``: the same results as the threaded runtime, with
failures, crashes, timeouts and Ctrl-C confined to what they concern."""

import os
import signal
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
from stratum.runtime import transfer

batch = P.sample_batch
table = H.results_table


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


def _worker_pids(res) -> set[int]:
    placements = res.stats_["placement"].dropna()
    return {int(p.split()[1]) for p in placements.unique() if p.startswith("process ")}


def _no_files_left() -> bool:
    prefix = transfer.file_prefix(str(os.getpid()))
    return not [n for n in os.listdir(transfer.shared_dir()) if n.startswith(prefix)]


@pytest.fixture(scope="module")
def reference():
    return stratum.search(batch(), cv=3, n_jobs=1, refit=True)


def test_processes_give_the_threaded_results(reference):
    res = stratum.search(batch(), cv=3, n_jobs=2, refit=True, backend="processes")
    pd.testing.assert_frame_equal(table(reference), table(res))
    assert (res.results_["status"] == "ok").all()
    pids = _worker_pids(res)
    assert len(pids) >= 2 and os.getpid() not in pids
    assert not any(_alive(pid) for pid in pids)  # the pool is gone
    assert _no_files_left()
    # the refitted learner predicts like the threaded one
    X = P.build(reference.best_.pipeline).skb.get_data()
    assert res.best_.pipeline == reference.best_.pipeline
    np.testing.assert_array_equal(
        res.best_.learner.predict(X), reference.best_.learner.predict(X)
    )


def test_large_values_travel_through_shared_memory():
    frame = pd.DataFrame(
        {"a": np.arange(300_000, dtype=float), "b": ["é", "x", None] * 100_000}
    )
    owner = transfer.new_owner()
    payload = transfer.encode(frame, owner)
    assert payload[0] == "shared" and os.path.exists(payload[1])
    handle = transfer.SharedValue(payload)
    assert transfer.remove_files(owner) == 1  # the driver's mapping survives
    pd.testing.assert_frame_equal(handle.load(), frame)
    again = handle.payload(owner)  # re-exported for a later reader
    pd.testing.assert_frame_equal(transfer.decode(again), frame)
    handle.discard()
    assert not os.path.exists(again[1])
    small = transfer.encode(np.arange(3), owner)
    assert small[0] == "inline"
    np.testing.assert_array_equal(transfer.decode(small), np.arange(3))


class FoldFailScaler(StandardScaler):
    """Fits on the full data (previews) but raises on cross-validation folds."""

    def fit(self, X, y=None, **kw):
        if len(X) < P.N_HOUSES:
            raise ValueError("shared step broke")
        return super().fit(X, y, **kw)


class CrashingScaler(StandardScaler):
    """Kills the process fitting it on cross-validation folds."""

    def fit(self, X, y=None, **kw):
        if len(X) < P.N_HOUSES:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().fit(X, y, **kw)


def _first_to_interrupt() -> bool:
    try:
        fd = os.open(os.environ["STRATUM_TEST_SIGINT_MARK"], os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return False
    os.close(fd)
    return True


class Hang(RegressorMixin, BaseEstimator):
    def __init__(self, seconds=30.0, interrupt=False):
        self.seconds = seconds
        self.interrupt = interrupt

    def fit(self, X, y):
        if len(X) < P.N_HOUSES:
            if self.interrupt and _first_to_interrupt():
                # Ctrl-C, as the terminal sends it to the driver: once (both
                # workers run this; a second signal could land after the
                # batch returned, in the test runner itself).
                os.kill(int(os.environ["STRATUM_TEST_DRIVER"]), signal.SIGINT)
            time.sleep(self.seconds)
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def _with(step, model=None):
    X, y = P.house_xy()
    X = P.numeric_only(X).skb.apply(SimpleImputer()).skb.apply(step)
    return X.skb.apply(model if model is not None else Ridge(), y=y)


def test_failing_shared_step_and_crashing_worker_fail_only_their_dependants():
    pipelines = {
        "a": _with(FoldFailScaler()),
        "b": _with(FoldFailScaler(), Ridge(alpha=10.0)),
        "crash": _with(CrashingScaler()),
        "ok": _with(StandardScaler()),
    }
    res = stratum.search(pipelines, cv=3, refit=False, n_jobs=2, backend="processes")
    by_name = res.results_.set_index("pipeline")
    for name in ("a", "b"):
        assert by_name.loc[name, "status"] == "error"
        assert "FoldFailScaler" in by_name.loc[name, "error"]
        assert "shared step broke" in by_name.loc[name, "error"]
    assert by_name.loc["crash", "status"] == "error"
    assert "WorkerDied" in by_name.loc["crash", "error"]
    assert "CrashingScaler" in by_name.loc["crash", "error"]
    assert "killed by signal 9" in by_name.loc["crash", "error"]
    ref = stratum.search({"ok": _with(StandardScaler())}, cv=3, refit=False)
    assert by_name.loc["ok", "status"] == "ok"
    assert by_name.loc["ok", "mean_test_score"] == ref.results_["mean_test_score"][0]
    assert _no_files_left()


def test_timeout_kills_the_worker_and_the_batch_completes():
    start = time.monotonic()
    res = stratum.search(
        {"hang": _with(StandardScaler(), Hang()), "ok": _with(StandardScaler())},
        cv=3,
        refit=False,
        n_jobs=2,
        backend="processes",
        config_timeout=2,
    )
    assert time.monotonic() - start < 25
    by_name = res.results_.set_index("pipeline")
    assert by_name.loc["hang", "status"] == "timeout"
    assert by_name.loc["ok", "status"] == "ok"
    assert not any(_alive(pid) for pid in _worker_pids(res))


def test_ctrl_c_returns_partial_results_and_removes_the_pool(monkeypatch, tmp_path):
    monkeypatch.setenv("STRATUM_TEST_DRIVER", str(os.getpid()))
    monkeypatch.setenv("STRATUM_TEST_SIGINT_MARK", str(tmp_path / "sigint-sent"))
    # Ctrl-C raises KeyboardInterrupt in the driver, as in a terminal, even
    # when the test runner was started in the background (SIGINT ignored).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupted_batch_is_cancelled()
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupted_batch_is_cancelled():
    start = time.monotonic()
    res = stratum.search(
        {"hang": _with(StandardScaler(), Hang(interrupt=True))},
        cv=3,
        refit=False,
        n_jobs=2,
        backend="processes",
    )
    assert time.monotonic() - start < 25
    assert (res.results_["status"] == "cancelled").all(), res.results_["error"][0]
    assert not any(_alive(pid) for pid in _worker_pids(res))
    assert _no_files_left()


def test_ray_backend_without_ray_says_how_to_install_it(monkeypatch):
    import sys

    from stratum.options import ExecutionOptions
    from stratum.runtime import make_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "stratum-ml\[ray\]"'):
        make_executor(ExecutionOptions(backend="ray"))
    with pytest.raises(ImportError, match=r'pip install "stratum-ml\[ray\]"'):
        stratum.search({"ok": _with(StandardScaler())}, cv=2, backend="ray")


def test_spilling_and_session_reuse_with_worker_processes():
    def pipelines():
        return {
            "ridge": _with(StandardScaler()),
            "text": P.build("rv_text_logreg"),
        }

    ref = stratum.search(pipelines(), cv=3, refit=False)
    with stratum.Session() as session:
        tiny = stratum.search(
            pipelines(),
            cv=3,
            refit=False,
            n_jobs=2,
            backend="processes",
            memory_budget="50KB",
        )
        assert (
            tiny._batch.driver.store.spilled > 0
        )  # worker outputs, spilled by the driver
        again = stratum.search(
            pipelines(), cv=3, refit=False, n_jobs=2, backend="processes"
        )
        assert again._batch.driver.store.reused > 0
        assert session.info()["memory"]["hits"] > 0
    for res in (tiny, again):
        pd.testing.assert_frame_equal(table(ref), table(res))
    assert _no_files_left()
