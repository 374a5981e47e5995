"""``stratum run`` on AIDE-style scripts (plain pandas, scikit-learn,
LightGBM, XGBoost; ``stratum.bench.aide``): every script prints exactly what
``python SCRIPT`` prints, byte for byte, while their estimator calls are
memoized across scripts, across runs (``cache_dir``) and while they run side
by side (``jobs``)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import types
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from stratum.agents import explain, run_scripts
from stratum.bench import aide
from stratum.cli import main

ROWS = 1_000


def _plain(path: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the scripts cannot even import stratum
    return subprocess.run(
        [sys.executable, os.path.basename(path)],
        cwd=os.path.dirname(path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _write(folder, scripts: dict) -> list[str]:
    folder.mkdir(exist_ok=True)
    paths = []
    for name, text in scripts.items():
        path = folder / f"{name}.py"
        path.write_text(text)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    root = tmp_path_factory.mktemp("aide")
    data = aide.write_dataset(root, ROWS, seed=0)
    paths = _write(root / "scripts", aide.suite_scripts(data))
    with ThreadPoolExecutor(2) as pool:
        plain = dict(zip(paths, pool.map(_plain, paths)))
    cache, out = root / "memo", root / "out"
    first = run_scripts(paths, cache_dir=cache, jobs=2)
    # The second run, on the first's memo, through the command line.
    argv = ["run", *paths, "--quiet", "--explain", "-j", "2"]
    argv += ["--cache-dir", str(cache), "--out", str(out)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(argv)
    summary = json.loads((out / "summary.json").read_text())
    second = [
        types.SimpleNamespace(
            name=row["name"],
            exit_code=row["exit_code"],
            stdout=(out / row["name"] / "stdout").read_text(),
            stderr=(out / row["name"] / "stderr").read_text(),
            memo=row["memo"],
        )
        for row in summary
    ]
    return {
        "paths": paths,
        "plain": plain,
        "runs": (first, second),
        "cli": (code, printed.getvalue()),
    }


def test_suite_covers_what_agents_write(suite):
    assert len(suite["paths"]) >= 15
    texts = [open(p).read() for p in suite["paths"]]
    for needle in (
        "KFold",
        "train_test_split",
        "LGBMClassifier",
        "LGBMRegressor",
        "XGB",
        "RandomForest",
        "GridSearchCV",
        "cross_val_score",
        "def add_features",
    ):
        assert any(needle in t for t in texts), needle
    codes = Counter(r.returncode for r in suite["plain"].values())
    assert codes[1] == 1 and codes[0] == len(suite["paths"]) - 1, codes


@pytest.mark.parametrize("run", [0, 1], ids=["first run", "second run"])
def test_output_is_byte_identical_to_python(suite, run):
    for path, result in zip(suite["paths"], suite["runs"][run], strict=True):
        plain = suite["plain"][path]
        assert result.stdout == plain.stdout, result.name
        assert result.stderr == plain.stderr, result.name
        assert result.exit_code == plain.returncode, result.name


def test_scripts_share_fits_and_say_what_was_not_shared(suite):
    first, second = suite["runs"]
    reused = sum(sum(r.memo.reused.values()) for r in first)
    assert reused > 0
    reasons = {why for r in first for (_, why) in r.memo.not_shared}
    assert any("random_state=None" in why for why in reasons), reasons
    text = explain(first)
    assert "reused" in text and "not shared" in text
    # The second run computes only what may not be shared.
    for r in second:
        assert r.memo["computed"] == 0, (r.name, r.memo["lines"])
    assert sum(r.memo["reused"] for r in second) >= reused
    code, printed = suite["cli"]
    assert code == 1  # the crashing script
    assert "from an earlier run" in printed
    assert "RandomForestRegressor.random_state=None (unseeded randomness)" in printed


def test_a_search_and_a_kfold_loop_fit_the_column_transformer_once(suite):
    first = {r.name: r for r in suite["runs"][0]}
    pair = [first["gridsearch_pipeline_ridge"], first["kfold_pipeline_ridge"]]
    label = "ColumnTransformer.fit_transform"
    # 3 folds, shared, and the search's refit on every row.
    assert sum(r.memo.computed[label] for r in pair) == 4
    assert sum(r.memo.reused[label] for r in pair) == 3


SLOW = """
import time
import numpy as np
from sklearn.base import BaseEstimator

class Slow(BaseEstimator):
    def __init__(self, seconds=1.0):
        self.seconds = seconds

    def fit(self, X, y=None):
        time.sleep(self.seconds)
        print("Slow.fit done")
        self.total_ = float(np.sum(X))
        return self

print(Slow(1.5).fit(np.arange(12.0).reshape(4, 3)).total_)
"""


def test_scripts_side_by_side_wait_for_a_fit_in_flight(tmp_path):
    paths = _write(tmp_path, {"one": SLOW, "two": SLOW})
    results = run_scripts(paths, jobs=2)
    assert [r.stdout for r in results] == ["Slow.fit done\n66.0\n"] * 2
    computed = sum(r.memo.computed["Slow.fit"] for r in results)
    reused = sum(r.memo.reused["Slow.fit"] for r in results)
    assert (computed, reused) == (1, 1)
    assert sum(r.memo.waits for r in results) >= 1


BIG_OUTPUT = """
import numpy as np
from sklearn.preprocessing import StandardScaler

X = (np.arange(400_000, dtype=float).reshape(-1, 4) * 7.3) % 97
Z = StandardScaler().fit_transform(X)
print(repr(float(Z.sum())), repr(float(Z[123, 2])), Z.shape)
"""


def test_payloads_go_through_the_disk_not_the_coordinator(tmp_path, monkeypatch):
    """The script that computes a call writes its payload to the memo's
    folder, the one that reuses it reads it from there: the coordinator holds
    none in memory, no payload crosses its channels, and the folder (a
    temporary one without ``cache_dir``) is gone after the run."""
    from stratum.agents import protocol
    from stratum.agents.runner import Runner, script_names

    paths = _write(tmp_path, {"one": BIG_OUTPUT, "two": BIG_OUTPUT})
    plain = _plain(paths[0])
    assert plain.returncode == 0, plain.stderr
    carried = []
    receive, send = protocol.receive, protocol.send

    def receiving(stream):
        message = receive(stream)
        carried.append(("in", message.get("type"), message.get("payload")))
        return message

    def sending(stream, message):
        carried.append(("out", message.get("status"), message.get("payload")))
        send(stream, message)

    monkeypatch.setattr(protocol, "receive", receiving)
    monkeypatch.setattr(protocol, "send", sending)
    runner = Runner(script_names(paths, str(tmp_path)), jobs=1, max_live=1)
    results = runner.run()
    assert [r.stdout for r in results] == [plain.stdout] * 2
    assert [r.memo.computed["StandardScaler.fit_transform"] for r in results] == [1, 0]
    assert [r.memo.reused["StandardScaler.fit_transform"] for r in results] == [0, 1]
    assert results[1].memo.saved_seconds > 0  # the time it took, read from the entry
    assert runner.memo.stats.bytes_stored > 3_200_000
    assert runner.memo.memory.bytes == 0
    assert ("in", "memo_put", None) in carried and ("out", "hit", None) in carried
    assert all(payload is None for _, _, payload in carried)
    assert not os.path.exists(runner.memo.disk.path)


class _Channel:
    def __init__(self, reply=None):
        self.reply = reply
        self.told = []

    def ask(self, message):
        self.told.append(message)
        return self.reply

    def tell(self, message):
        self.told.append(message)


def test_a_script_reads_and_writes_the_memos_entries_itself(tmp_path, monkeypatch):
    from stratum.agents.child import RemoteMemo
    from stratum.frontend.sklearn.memo_keys import CallKey
    from stratum.runtime.cache import DiskCache
    from stratum.runtime.memo_store import MemoStore

    disk = DiskCache(tmp_path)
    key = CallKey("k1")
    payload = "payload ✓".encode() * 10_000
    memo = RemoteMemo(_Channel(), disk)
    memo.put(key, "Ridge.fit", payload, 1.25)
    (told,) = memo.channel.told
    assert "payload" not in told and told["nbytes"] == len(payload)
    # What the coordinator's store answers for it, and what the script reads.
    store = MemoStore(memory_bytes=0, disk=DiskCache(tmp_path))
    store.put(("one", 1), "k1", None, 1.25, nbytes=told["nbytes"])
    answer = store.get(("two", 1), "k1", read=False)
    assert (answer.status, answer.payload, answer.stored) == ("hit", None, "k1")
    memo = RemoteMemo(_Channel(vars(answer)), disk)
    got = memo.get(key, "Ridge.fit", 0.01)
    assert (got.status, got.payload, got.seconds) == ("hit", payload, 1.25)
    assert memo.channel.told[-1]["type"] == "memo_read"
    assert memo.channel.told[-1]["seconds"] == 1.25
    # Gone meanwhile: computed here, without a claim.
    reply = dict(vars(answer), stored="gone")
    memo = RemoteMemo(_Channel(reply), disk)
    assert memo.get(key, "Ridge.fit", 0.01).status == "compute-alone"
    assert memo.channel.told[-1]["status"] == "compute-alone"
    # A disk that cannot take it: the payload goes to the coordinator.
    monkeypatch.setattr(disk, "put", lambda *args: False)
    memo = RemoteMemo(_Channel(), disk)
    memo.put(key, "Ridge.fit", payload, 1.25)
    assert memo.channel.told[-1]["payload"] == payload
