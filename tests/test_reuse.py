"""Reuse across batches: in one session, and through a disk cache across processes."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pipelines as P
import pytest
import skrub
from sklearn.ensemble import RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge

import stratum
from stratum.runtime.cache import DiskCache


def build(model, df=None, scaler=None):
    X, y = P.house_xy(df)
    X = P.numeric_only(X).skb.apply(SimpleImputer())
    return X.skb.apply(scaler or P.CountingScaler()).skb.apply(model, y=y)


def scores(res):
    return res.results_.sort_values(["pipeline", "_candidate"])[
        "mean_test_score"
    ].to_numpy()


def test_second_batch_in_a_session_only_computes_what_is_new():
    with stratum.Session() as session:
        stage1 = {"ridge": build(Ridge()), "ridge10": build(Ridge(alpha=10.0))}
        P.CountingScaler.reset()
        first = stratum.search(stage1, cv=3, refit=False)
        assert P.CountingScaler.n_fits == 3
        stage2 = {
            "ridge": build(Ridge()),
            "grid": build(
                Ridge(alpha=skrub.choose_float(0.1, 100, log=True, n_steps=3))
            ),
        }
        P.CountingScaler.reset()
        second = stratum.search(stage2, cv=3, refit=False)
        assert P.CountingScaler.n_fits == 0  # the shared prefix comes from stage 1
        assert second._batch.driver.store.reused > 0
        assert "taken from earlier batches" in second.explain()
        assert session.info()["memory"]["hits"] > 0
    ridge1 = first.results_.set_index("pipeline").loc["ridge", "mean_test_score"]
    ridge2 = second.results_.set_index("pipeline").loc["ridge", "mean_test_score"]
    assert ridge1 == ridge2
    with stratum.config_context(engine="skrub"):
        ref = build(Ridge(alpha=skrub.choose_float(0.1, 100, log=True, n_steps=3)))
        ref = ref.skb.make_grid_search(cv=3, fitted=True, refit=False).cv_results_
    got = second.results_[second.results_["pipeline"] == "grid"].sort_values(
        "_candidate"
    )
    np.testing.assert_allclose(
        got["mean_test_score"], ref["mean_test_score"], rtol=1e-12
    )


def test_evicted_fitted_state_is_refitted_not_an_error():
    """A fit's output can outlive its fitted state in the session (the state
    was evicted): the step is fitted again and the scores do not change."""
    with stratum.Session() as session:
        first = stratum.search({"ridge": build(Ridge())}, cv=3, refit=False)
        states = [k for k in session.memory.entries if k[2] == "state"]
        assert states
        for key in states:
            del session.memory.entries[key]
        P.CountingScaler.reset()
        second = stratum.search(
            {"ridge": build(Ridge()), "ridge10": build(Ridge(alpha=10.0))},
            cv=3,
            refit=False,
        )
    assert (second.results_["status"] == "ok").all()
    # refitted where its state was needed, at most once per fold (shared by
    # both pipelines)
    assert 1 <= P.CountingScaler.n_fits <= 3
    np.testing.assert_array_equal(
        second.results_.set_index("pipeline").loc[["ridge"], "mean_test_score"],
        first.results_["mean_test_score"],
    )


def test_changed_data_or_seed_is_not_reused():
    df = P.houses()
    with stratum.Session():
        stratum.search([build(Ridge(), df)], cv=3, refit=False)
        changed = df.copy()
        changed.loc[changed.index[0], "floor_area"] = 1e6
        pred = build(Ridge(), changed)
        P.CountingScaler.reset()  # building computes skrub's preview: not counted
        stratum.search([pred], cv=3, refit=False)
        assert P.CountingScaler.n_fits == 3

        forest = {"rf": build(RandomForestRegressor(n_estimators=5, random_state=0))}
        stratum.search(forest, cv=3, refit=False)
        reseeded = {"rf": build(RandomForestRegressor(n_estimators=5, random_state=1))}
        res = stratum.search(reseeded, cv=3, refit=False)
        forest = res.stats_[res.stats_["label"].str.contains("RandomForest")]
        assert (forest["how"] == "scheduled").sum() >= 3  # fitted again, per fold


def test_unseeded_randomness_is_never_reused_across_batches():
    unseeded = RandomForestRegressor(n_estimators=5)  # random_state=None
    with stratum.Session():
        stratum.search([build(unseeded)], cv=3, refit=False)
        res = stratum.search(
            [build(RandomForestRegressor(n_estimators=5))], cv=3, refit=False
        )
    forest = res.stats_[res.stats_["label"].str.contains("RandomForest")]
    assert (forest["how"] == "scheduled").sum() >= 3  # refitted, not reused
    assert "unseeded randomness" in res.explain()


WORKER = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.simplefilter("ignore")
    sys.path.insert(0, {tests!r})
    import pipelines as P
    import stratum
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge

    X, y = P.house_xy()
    X = P.numeric_only(X).skb.apply(SimpleImputer())
    pred = X.skb.apply(P.CountingScaler()).skb.apply(Ridge(), y=y)
    P.CountingScaler.reset()
    with stratum.Session(cache_dir={cache!r}) as session:
        res = stratum.search([pred], cv=3, refit=False)
        info = session.info()
    print(json.dumps({{"fits": P.CountingScaler.n_fits,
                      "scores": res.results_["mean_test_score"].tolist(),
                      "disk": info["disk"]}}))
    """
)


def run_worker(cache: Path) -> dict:
    code = WORKER.format(tests=str(Path(__file__).parent), cache=str(cache))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_reads_the_disk_cache_instead_of_fitting(tmp_path):
    first = run_worker(tmp_path)
    assert first["fits"] == 3 and first["disk"]["bytes_written"] > 0
    second = run_worker(tmp_path)
    assert second["fits"] == 0
    assert second["disk"]["hits"] > 0
    assert second["scores"] == first["scores"]


def test_concurrent_processes_leave_a_consistent_cache(tmp_path):
    code = WORKER.format(tests=str(Path(__file__).parent), cache=str(tmp_path))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert results[0]["scores"] == results[1]["scores"]
    cache = DiskCache(tmp_path)
    for path, _, _ in cache.entries():
        assert cache.read_payload(path) is not None
    assert not list(tmp_path.rglob("*.tmp"))
    third = run_worker(tmp_path)
    assert third["fits"] == 0 and third["scores"] == results[0]["scores"]


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_entries_are_detected_discarded_and_recomputed(tmp_path, damage):
    cache = DiskCache(tmp_path)
    key = ("node", "fold", "train", "fit_transform")
    cache.put(key, {"values": np.arange(1000.0)})
    path = Path(cache.file_for(key))
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(KeyError):
        cache.get(key)
    assert cache.stats.corrupt == 1 and not path.exists()

    first = run_worker(tmp_path / "run")
    for entry in (tmp_path / "run").rglob("*.joblib"):
        raw = bytearray(entry.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        entry.write_bytes(bytes(raw))
    again = run_worker(tmp_path / "run")
    assert again["fits"] == 3  # nothing trusted, everything recomputed
    assert again["disk"]["corrupt"] > 0
    assert again["scores"] == first["scores"]


def test_library_versions_are_part_of_disk_keys(tmp_path):
    a = DiskCache(tmp_path)
    b = DiskCache(tmp_path)
    b.versions = a.versions + "|other-sklearn"
    key = ("k", None, None, None)
    a.put(key, 1)
    with pytest.raises(KeyError):
        b.get(key)
    assert a.get(key) == 1


def test_cache_size_cap_evicts_least_recently_used(tmp_path):
    cache = DiskCache(tmp_path, max_bytes=None)
    for i in range(5):
        cache.put(("k", i, None, None), np.zeros(10_000))
    one = os.path.getsize(cache.file_for(("k", 0, None, None)))
    cache.trim(3 * one)
    assert len(cache.entries()) == 3


def test_global_configuration_is_part_of_the_keys():
    import sklearn

    with stratum.Session():
        first = stratum.search([build(Ridge())], cv=3, refit=False)
        pred = build(Ridge())
        P.CountingScaler.reset()
        with sklearn.config_context(assume_finite=True):
            stratum.search([pred], cv=3, refit=False)
        assert P.CountingScaler.n_fits == 3  # another configuration: not reused
        assert np.isfinite(first.results_["mean_test_score"]).all()


def test_reused_classifier_scores_like_the_first_batch():
    # scorers ask the learner for classes_: the fitted state must come from the
    # cache even when the fit task itself was skipped
    def batch():
        return {"rv": P.build("rv_sorted_labels")}

    with stratum.Session():
        first = stratum.search(batch(), cv=3, scoring="neg_log_loss", refit=False)
        second = stratum.search(batch(), cv=3, scoring="neg_log_loss", refit=False)
    assert (second.results_["status"] == "ok").all()
    assert second._batch.driver.store.reused > 0
    np.testing.assert_array_equal(scores(first), scores(second))


def test_memory_cache_keeps_only_what_fits_under_the_peak(tmp_path):
    """Without a budget, values no batch holds stay in memory only in the
    room under the largest working set; the rest is spilled (worth reading
    back) or dropped (cheaper to recompute), and spilled values come back
    equal."""
    from stratum.runtime.cache import MemoryCache

    small = MemoryCache(spill_budget=10 * 2**20)  # default: 32 MiB at least
    cache = MemoryCache(spill_budget=10 * 2**20, min_room=0)
    arrays = {i: np.full(1000, float(i)) for i in range(4)}  # 8,000 bytes each
    for i, array in arrays.items():
        small.put(("k", i), array, array.nbytes, cost=0.0)
        small.release(("k", i))
    small.fit(in_use=0, peak=8_000)
    assert small.only_bytes == small.bytes == 32_000 and small.spill_dir is None
    for i, array in arrays.items():
        cache.put(("k", i), array, array.nbytes, cost=0.0)
    cache.fit(in_use=32_000, peak=32_000)
    assert cache.only_bytes == 0 and cache.bytes == 32_000  # all held
    for i in (0, 1):  # slow to compute: worth spilling
        cache.entries[("k", i)].cost = 1.0
    for i in range(4):
        cache.release(("k", i))
    cache.fit(in_use=24_000, peak=32_000)  # a batch holds 24,000 bytes now
    assert cache.only_bytes == cache.bytes == 8_000
    # Cheap values go first (dropped), then the oldest of the valuable ones.
    assert set(cache.entries) == {("k", 0), ("k", 1)}
    assert cache.stats.spilled == 1 and cache.spilled_bytes > 0
    np.testing.assert_array_equal(cache.get(("k", 0)), arrays[0])
    assert cache.stats.spill_hits == 1
    cache.fit(in_use=0, peak=32_000)  # between batches: the whole peak
    spill_dir = cache.spill_dir.path
    cache.clear()
    assert not os.path.exists(spill_dir) and cache.bytes == cache.only_bytes == 0


def test_session_memory_stays_under_the_batch_peak_and_is_reused(monkeypatch):
    """A session without a budget keeps in memory no more than the batch's
    peak of its own values; the next batch still reuses what was kept (in
    memory or in the spill directory), with the same scores."""
    monkeypatch.setattr("stratum.runtime.cache.MIN_ROOM", 0)  # tiny batches
    with stratum.Session() as session:
        stage1 = {"ridge": build(Ridge()), "forest": build(_forest())}
        first = stratum.search(stage1, cv=3, refit=False)
        peak = first._batch.driver.store.peak_bytes
        info = session.info()
        assert 0 < info["memory_bytes"] <= peak
        assert info["memory_room"] == peak
        second = stratum.search(
            {"ridge": build(Ridge()), "forest": build(_forest())},
            cv=3,
            refit=False,
        )
        assert second._batch.driver.store.reused > 0
        assert session.memory.only_bytes <= session.memory.peak
    np.testing.assert_array_equal(scores(first), scores(second))


def test_values_spilled_by_the_batch_leave_the_session_memory_too():
    """Under a batch's memory budget, a value the store spills is not kept
    in memory by the session either."""
    with stratum.Session() as session:
        res = stratum.search(
            {"ridge": build(Ridge()), "ridge10": build(Ridge(alpha=10.0))},
            cv=3,
            refit=False,
            memory_budget="20KB",
        )
        store = res._batch.driver.store
        assert store.spilled > 0
        assert session.memory.only_bytes <= 20_000
    ref = stratum.search(
        {"ridge": build(Ridge()), "ridge10": build(Ridge(alpha=10.0))},
        cv=3,
        refit=False,
    )
    np.testing.assert_array_equal(scores(res), scores(ref))


def _forest():
    return RandomForestRegressor(n_estimators=5, random_state=0)


def test_spill_directories_do_not_outlive_the_process():
    code = (
        "from stratum.runtime.spill import SpillDir\n"
        "spill = SpillDir()\n"
        "spill.write(list(range(10)), 80)\n"
        "print(spill.path)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    path = out.stdout.strip()
    assert path and not os.path.exists(path)
