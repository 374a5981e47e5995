"""``stratum serve`` and ``stratum.Client`` against a real server on loopback.

The server is ``python -m stratum serve`` in a subprocess. The load test's
results are compared value by value with plain skrub and with
``stratum.search`` run here on the same pipelines.
"""

from __future__ import annotations

import base64
import functools
import io
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

import cloudpickle  # noqa: E402
import skrub  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402

import stratum  # noqa: E402
from stratum.serve.client import ServeError  # noqa: E402

TOKEN_A, TOKEN_B = "token-a-serve-test", "token-b-serve-test"
TOKEN_EXPIRED = "token-expired-serve-test"  # accepted until 2020-01-01 only
MAX_PAYLOAD = 2 * 2**20
ALPHAS = [(0.01, 0.1), (0.1, 1.0), (1.0, 10.0), (3.0, 30.0)]
N_VARIANTS = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(port: int, state_dir, *args: str) -> subprocess.Popen:
    """``python -m stratum serve`` on 127.0.0.1:``port``, once it answers."""
    root = Path(__file__).resolve().parent.parent
    env = dict(
        os.environ,
        STRATUM_SERVE_TOKENS=f"{TOKEN_A},{TOKEN_B},{TOKEN_EXPIRED}@2020-01-01",
        PYTHONPATH=os.pathsep.join(
            p for p in [str(root), os.environ.get("PYTHONPATH", "")] if p
        )
        if any(root.joinpath("stratum").glob("_native*"))
        else os.environ.get("PYTHONPATH", ""),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "stratum", "serve", "--port", str(port)]
        + ["--state-dir", str(state_dir), *args],
        env=env,
        cwd=str(Path(__file__).resolve().parent),
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            r = httpx.get(f"{url}/v1/health", headers=_auth(TOKEN_A), timeout=2)
            if r.status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("stratum serve exited at start")
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("stratum serve did not start")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    state = tmp_path_factory.mktemp("serve-state")
    proc = _start_server(
        port, state, "--window", "0.5", "--max-payload", str(MAX_PAYLOAD)
    )
    try:
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        _stop(proc)


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 150
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "city": rng.choice(["Paris", "Zürich", "東京", "Lima"], size=n),
        }
    )
    df.loc[rng.choice(n, 10, replace=False), "b"] = np.nan
    df["y"] = (
        2 * df["a"]
        - df["b"].fillna(0)
        + (df["city"] == "Lima")
        + rng.normal(scale=0.5, size=n)
    )
    return df


DATA = _data()


@functools.cache
def variant(k: int):
    """The k-th pipeline: an encoder and a pair of Ridge alphas to choose from.

    Built once (skrub evaluates previews as a DataOp is built); every
    submission pickles it again, so the server sees separate objects."""
    data = skrub.var("data", DATA)
    X = data.drop(columns="y").skb.mark_as_X()
    y = data["y"].skb.mark_as_y()
    enc = X.skb.apply(skrub.TableVectorizer()).skb.apply(SimpleImputer())
    if k // 4:
        enc = enc.skb.apply(skrub.SquashingScaler())
    alphas = ALPHAS[k % 4]
    return enc.skb.apply(
        Ridge(alpha=skrub.choose_from(list(alphas), name="alpha")), y=y
    )


@pytest.fixture(scope="module")
def references():
    """Per variant: mean and per-split test scores by alpha, from plain skrub
    and from stratum.search in this process."""
    together = stratum.search(
        {f"v{k}": variant(k) for k in range(N_VARIANTS)}, cv=3
    ).results_
    refs = {}
    for k in range(N_VARIANTS):
        with stratum.config_context(engine="skrub"):
            fitted = variant(k).skb.make_grid_search(cv=3, fitted=True)
        cv = fitted.cv_results_
        skrub_scores = {}
        for i in range(len(cv["mean_test_score"])):
            (index,) = cv["params"][i].values()  # skrub's choice index
            alpha = ALPHAS[k % 4][index]
            skrub_scores[alpha] = [cv[f"split{f}_test_score"][i] for f in range(3)]
        table = together[together["pipeline"] == f"v{k}"].reset_index(drop=True)
        ours = {
            row["params"]["alpha"]: [row[f"split{f}_test_score"] for f in range(3)]
            for _, row in table.iterrows()
        }
        assert ours == skrub_scores
        refs[k] = (skrub_scores, table)
    return refs


def _submission(client: int, round_: int) -> dict[str, int]:
    first = (client + round_) % N_VARIANTS
    second = (client + 3 * round_ + 1) % N_VARIANTS
    return {"first": first, "second": second} if first != second else {"one": first}


def test_load_twenty_clients_five_rounds(server, references):
    url, _ = server
    n_clients, n_rounds = 20, 5
    outcomes: dict[tuple[int, int], tuple[dict, pd.DataFrame, float]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_clients)

    def agent(i: int) -> None:
        try:
            with stratum.Client(url, TOKEN_A if i % 2 else TOKEN_B) as client:
                barrier.wait()
                for r in range(n_rounds):
                    chosen = _submission(i, r)
                    t0 = time.perf_counter()
                    job = client.submit(
                        {n: variant(k) for n, k in chosen.items()}, cv=3
                    )
                    table = job.wait(timeout=120)
                    outcomes[i, r] = (chosen, table, time.perf_counter() - t0)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    start = time.perf_counter()
    threads = [threading.Thread(target=agent, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    assert not errors, errors[0]
    assert len(outcomes) == n_clients * n_rounds

    batches: dict[str, set] = {}
    job_ids = set()
    for (i, r), (chosen, table, _) in outcomes.items():
        job = table.attrs["job"]
        job_ids.add(job)
        assert job in table.attrs["batch_jobs"] and job in table.attrs["merged_with"]
        batches.setdefault(table.attrs["batch"], set()).update(
            table.attrs["batch_jobs"]
        )
        assert sorted(table["pipeline"].unique()) == sorted(chosen)
        for name, k in chosen.items():
            skrub_scores, stratum_table = references[k]
            rows = table[table["pipeline"] == name]
            assert len(rows) == 2 and rows["status"].eq("ok").all()
            got = {
                row["params"]["alpha"]: [row[f"split{f}_test_score"] for f in range(3)]
                for _, row in rows.iterrows()
            }
            assert got == skrub_scores, (i, r, name, k)
            # Same order and the same numbers as stratum.search on its own.
            expected = stratum_table.drop(columns=["pipeline"]).drop(
                columns=[c for c in stratum_table if c.endswith("_time")]
            )
            mine = rows.drop(columns=["pipeline"]).drop(
                columns=[c for c in rows if c.endswith("_time")]
            )
            for col in expected:
                assert list(mine[col]) == list(expected[col]), (col, name, k)
        best = table.attrs["best"]
        ok = table[table["status"].eq("ok")]
        assert best["score"] == ok["mean_test_score"].max()
        assert best["pipeline"] in chosen
    assert len(job_ids) == n_clients * n_rounds
    merged = [b for b in batches.values() if len(b) > 1]
    assert merged, "no submissions were merged"
    # Equal pipelines of a batch are evaluated once, and later rounds reuse
    # what the worker's session kept from earlier ones.
    by_round = {}
    for (i, r), (chosen, table, _) in outcomes.items():
        stats = table.attrs["stats"]
        assert stats["pipelines_evaluated"] <= min(
            N_VARIANTS, stats["pipelines_submitted"]
        )
        by_round.setdefault(r, []).append(stats["results_reused"])
    assert max(by_round[n_rounds - 1]) > 0
    # Each job appears in exactly one batch.
    assert sum(len(b) for b in batches.values()) == len(job_ids)
    latencies = np.array([o[2] for o in outcomes.values()])
    print(
        f"\nserve load: {len(job_ids)} jobs from {n_clients} clients in {wall:.1f} s "
        f"({len(job_ids) / wall:.1f} jobs/s); {len(batches)} batches, "
        f"{len(merged)} merged (largest {max(len(b) for b in batches.values())} "
        f"jobs); latency p50 {np.percentile(latencies, 50):.2f} s, "
        f"p95 {np.percentile(latencies, 95):.2f} s"
    )


def test_authentication_is_required(server):
    url, _ = server
    body = {"sources": ["pipeline = None"]}
    for method, path in [
        ("GET", "/v1/health"),
        ("GET", "/v1/jobs"),
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs/abc"),
        ("GET", "/v1/jobs/abc/results"),
        ("POST", "/v1/jobs/abc/cancel"),
        ("GET", "/openapi.json"),
    ]:
        r = httpx.request(method, url + path, json=body)
        assert r.status_code == 401, (method, path)
        assert "Authorization" in r.json()["detail"]
        r = httpx.request(method, url + path, json=body, headers=_auth("nope"))
        assert r.status_code == 403, (method, path)
        r = httpx.request(
            method, url + path, json=body, headers={"Authorization": "Basic x"}
        )
        assert r.status_code == 401
    with pytest.raises(ServeError) as info:
        stratum.Client(url, "wrong").health()
    assert info.value.status == 403


def test_another_token_cannot_see_a_job(server):
    url, _ = server
    with stratum.Client(url, TOKEN_A) as a, stratum.Client(url, TOKEN_B) as b:
        job = a.submit({"p": variant(0)}, cv=3)
        for call in (b.status, b.results, b.cancel):
            with pytest.raises(ServeError) as info:
                call(job.id)
            assert info.value.status == 404
        assert job.id not in [j["id"] for j in b.jobs()]
        assert job.id in [j["id"] for j in a.jobs()]
        table = job.wait(timeout=60)
        assert set(table["pipeline"]) == {"p"}
        with pytest.raises(ServeError) as info:
            b.results(job.id)
        assert info.value.status == 404


def test_an_expired_token_is_refused_with_when(server):
    url, _ = server
    r = httpx.get(f"{url}/v1/jobs", headers=_auth(TOKEN_EXPIRED))
    assert r.status_code == 401
    assert r.json()["detail"].startswith("token expired at 2020-01-01T00:00:00Z")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    with stratum.Client(url, TOKEN_EXPIRED) as client:
        with pytest.raises(ServeError) as info:
            client.submit(sources=["x = 1"])
    assert info.value.status == 401 and "expired" in str(info.value)
    # Other tokens go on as before.
    assert httpx.get(f"{url}/v1/jobs", headers=_auth(TOKEN_A)).status_code == 200


def test_tokens_expire_on_time():
    from stratum.serve.auth import Token, TokenChecker, load_tokens, owner_id

    now = [Token.parse("x@2027-01-31T18:00:00+01:00").expires - 1.0]
    checker = TokenChecker(
        ["sécret@2027-01-31T18:00:00+01:00", "plain"], lambda: now[0]
    )
    assert checker.check("Bearer sécret") == owner_id("sécret")
    now[0] += 1.0
    refusal = checker.check("Bearer sécret")
    assert (refusal.status, refusal.message) == (
        401,
        "token expired at 2027-01-31T17:00:00Z: ask for a new one",
    )
    assert checker.check("Bearer plain") == owner_id("plain")
    assert checker.check("Bearer sécret@2027-01-31T18:00:00+01:00").status == 403
    assert Token.parse("a@b@2027-01-31") == Token(
        "a@b", Token.parse("x@2027-01-31").expires
    )
    with pytest.raises(ValueError, match="not an ISO 8601") as info:
        Token.parse("verysecretvalue@tomorrow")
    assert "verysecretvalue" not in str(info.value)  # the secret is not echoed
    with pytest.raises(ValueError, match="no secret"):
        Token.parse("@2027-01-31")
    (generated,), made_here = load_tokens([], ttl=3600)
    assert made_here and 3590 < generated.expires - time.time() <= 3600


def test_idempotency_key_is_checked(server):
    url, _ = server
    for key in ("", "k" * 201):
        r = httpx.post(
            f"{url}/v1/jobs",
            json={"sources": ["x = 1"]},
            headers={**_auth(TOKEN_A), "Idempotency-Key": key},
        )
        assert r.status_code == 422, key
        assert "Idempotency-Key" in str(r.json()["detail"])


def test_oversize_payload_is_refused(server):
    url, _ = server
    big = base64.b64encode(os.urandom(MAX_PAYLOAD)).decode()
    r = httpx.post(f"{url}/v1/jobs", json={"pipelines": big}, headers=_auth(TOKEN_A))
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit applies while streaming
        for _ in range(3):
            yield b" " * MAX_PAYLOAD

    r = httpx.post(
        f"{url}/v1/jobs",
        content=chunks(),
        headers={**_auth(TOKEN_A), "Content-Type": "application/json"},
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    "body, words",
    [
        ({"pipelines": "not base64!!"}, "base64"),
        ({}, "nothing to run"),
        ({"sources": ["x=1"], "options": {"scoring": "nope"}}, "unknown scorer"),
        ({"sources": ["x=1"], "options": {"cv": 1}}, "cv"),
        ({"sources": ["x=1"], "colour": "red"}, "colour"),
        ({"sources": ["  "]}, "empty source"),
    ],
)
def test_malformed_submissions_get_a_message(server, body, words):
    url, _ = server
    r = httpx.post(f"{url}/v1/jobs", json=body, headers=_auth(TOKEN_A))
    assert r.status_code == 422
    assert words in str(r.json()["detail"])
    r = httpx.post(f"{url}/v1/jobs", content=b"{not json", headers=_auth(TOKEN_A))
    assert r.status_code == 422


def test_bad_pipelines_fail_their_job_only(server):
    url, _ = server
    with stratum.Client(url, TOKEN_A) as client:
        bad = client.submit(["not a pipeline"], cv=3)
        garbage = client.submit(sources=["raise ValueError('boom in source')"])
        leaving = client.submit(sources=["import sys\nsys.exit(3)"])
        good = client.submit({"p": variant(1)}, cv=3)
        table = good.wait(timeout=60)
        assert table["status"].eq("ok").all()
        status = client.status(bad)
        assert status["state"] == "failed"
        assert "not a skrub DataOp" in status["error"]
        status = client.status(garbage)
        assert status["state"] == "failed" and "boom in source" in status["error"]
        status = client.status(leaving)
        assert status["state"] == "failed" and "SystemExit" in status["error"]
        with pytest.raises(ServeError) as info:
            client.results(bad)
        assert info.value.status == 409


def test_sources_are_pipelines_too(server, references):
    url, _ = server
    source = (
        "import skrub\n"
        "from sklearn.linear_model import Ridge\n"
        "import io\n"
        "import pandas as pd\n"
        f"frame = pd.read_json(io.StringIO({DATA.to_json()!r}))\n"
        "data = skrub.var('data', frame)\n"
    )
    # A source defines `pipeline` or `pipelines`; here a plain Ridge on `a`.
    source += (
        "X = data[['a']].skb.mark_as_X()\n"
        "y = data['y'].skb.mark_as_y()\n"
        "pipelines = {'ridge': X.skb.apply(Ridge(alpha=1.0), y=y)}\n"
    )
    with stratum.Client(url, TOKEN_A) as client:
        job = client.submit(sources=[source], cv=3)
        table = job.wait(timeout=60)
        progress = job.status()["progress"]
        assert progress["tasks_done"] == progress["tasks"] > 0
        # The MCP tools' remote backend goes through the same API.
        from stratum.serve.mcp_server import RemoteBackend

        remote = RemoteBackend(url, TOKEN_A)
        status = remote.submit({"cv": 3}, None, [source], [])
        while remote.status(status["id"])["state"] not in ("done", "failed"):
            time.sleep(0.05)
        via_mcp = remote.results(status["id"])
        assert via_mcp["results"]["columns"] == list(table.columns)
        assert (
            via_mcp["results"]["rows"][0][table.columns.get_loc("mean_test_score")]
            == table["mean_test_score"][0]
        )
    data = skrub.var("data", pd.read_json(io.StringIO(DATA.to_json())))
    expected = stratum.search(
        {
            "ridge": data[["a"]]
            .skb.mark_as_X()
            .skb.apply(Ridge(alpha=1.0), y=data["y"].skb.mark_as_y())
        },
        cv=3,
    ).results_
    assert list(table["pipeline"]) == ["ridge"]
    assert table["mean_test_score"][0] == pytest.approx(
        expected["mean_test_score"][0], rel=1e-12
    )


def test_unpickling_happens_in_a_worker(server, tmp_path):
    url, server_pid = server
    marker = tmp_path / "pid.txt"

    class Probe:
        def __reduce__(self):
            code = f"import os; open({str(marker)!r}, 'w').write(str(os.getpid()))"
            return (exec, (code,))

    payload = base64.b64encode(cloudpickle.dumps({"p": Probe()})).decode()
    r = httpx.post(
        f"{url}/v1/jobs", json={"pipelines": payload}, headers=_auth(TOKEN_A)
    )
    assert r.status_code == 202
    with stratum.Client(url, TOKEN_A) as client:
        for _ in range(300):
            if client.status(r.json()["id"])["state"] != "queued":
                break
            time.sleep(0.05)
        while client.status(r.json()["id"])["state"] == "running":
            time.sleep(0.05)
    pid = int(marker.read_text())
    assert pid != server_pid and pid != os.getpid()


class _ExitOnLoad:
    """A hostile payload: unpickling it ends the process (exit code 7)."""

    def __reduce__(self):
        return (os._exit, (7,))


_EXIT_IN_FIT = """
import os
from sklearn.base import BaseEstimator, TransformerMixin

class ExitInFit(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        os._exit(9)

    def transform(self, X):
        return X

pipelines = {'ridge': X.skb.apply(ExitInFit()).skb.apply(Ridge(alpha=1.0), y=y)}
"""


def test_a_job_that_kills_its_worker_fails_alone(server, references):
    """Two hostile jobs (one ends the worker while it is unpickled, one in a
    step's fit, in the same search group as another agent's job) share a
    batch with a good job: the hostile ones fail with how the worker died, the
    good one runs again and gets the same results as on its own."""
    url, _ = server
    payload = base64.b64encode(cloudpickle.dumps({"p": _ExitOnLoad()})).decode()
    with stratum.Client(url, TOKEN_A) as a, stratum.Client(url, TOKEN_B) as b:
        r = httpx.post(
            f"{url}/v1/jobs", json={"pipelines": payload}, headers=_auth(TOKEN_A)
        )
        assert r.status_code == 202
        on_load = a.status(r.json()["id"])
        in_fit = a.submit(sources=[_ridge_source() + _EXIT_IN_FIT], cv=3)
        good = b.submit({"v0": variant(0)}, cv=3)
        table = good.wait(timeout=120)
        for _ in range(600):
            states = [a.status(j)["state"] for j in (on_load["id"], in_fit.id)]
            if "failed" == states[0] == states[1]:
                break
            time.sleep(0.1)
        on_load, in_fit = a.status(on_load["id"]), in_fit.status()
    assert good.id in on_load["batch_jobs"]  # they were batched together
    assert on_load["state"] == "failed"
    assert on_load["error"] == (
        "the worker process died (exit code 7) while running this job"
    )
    assert in_fit["state"] == "failed"
    assert in_fit["error"] == (
        "the worker process died (exit code 9) while running this job"
    )
    skrub_scores, _ = references[0]
    got = {
        row["params"]["alpha"]: [row[f"split{f}_test_score"] for f in range(3)]
        for _, row in table.iterrows()
    }
    assert got == skrub_scores
    r = httpx.get(f"{url}/v1/health", headers=_auth(TOKEN_A))
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_cancel_a_queued_job(server):
    url, _ = server
    with stratum.Client(url, TOKEN_A) as client:
        job = client.submit({"p": variant(2)}, cv=3)
        status = job.cancel()
        assert status["state"] in ("cancelled", "done")
        if status["state"] == "cancelled":
            with pytest.raises(ServeError) as info:
                job.results()
            assert info.value.status == 409


def test_openapi_spec_has_no_server_errors(server):
    """Schemathesis-generated requests against every operation: no 5xx."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    url, _ = server
    spec = httpx.get(f"{url}/openapi.json", headers=_auth(TOKEN_A)).json()
    schema = schemathesis.openapi.from_dict(spec)
    operations = [op.ok() for op in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/jobs", "/v1/jobs/{job_id}"}
    for operation in operations:

        @settings(
            max_examples=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(base_url=url, headers=_auth(TOKEN_A))
            assert response.status_code < 500, (case, response.text)
            # The same request with an expired token: refused, whatever it is.
            response = case.call(base_url=url, headers=_auth(TOKEN_EXPIRED))
            assert response.status_code == 401, (case, response.text)
            assert "expired" in response.json()["detail"]

        check()


def test_time_limit_and_cancel_stop_running_batches(server):
    url, _ = server
    sleep = ["import time\ntime.sleep(60)\npipeline = None"]
    with stratum.Client(url, TOKEN_B) as b, stratum.Client(url, TOKEN_A) as a:
        late = b.submit(sources=sleep, timeout=1)
        other = a.submit(sources=sleep)  # same batch, no time limit of its own

        def wait_while(client, job, states, seconds=60):
            deadline = time.monotonic() + seconds
            while (status := client.status(job))["state"] in states:
                assert time.monotonic() < deadline, status
                time.sleep(0.1)
            return status

        status = wait_while(b, late, ("queued", "running"))
        assert status["state"] == "timeout" and "time limit" in status["error"]
        assert other.id in status["batch_jobs"]
        # The worker was killed for `late`; `other` runs again on a new one.
        status = wait_while(a, other, ("queued",))
        assert (
            status["state"] == "running" and status["batch"] != late.status()["batch"]
        )
        assert a.cancel(other)["state"] == "cancelled"
        with pytest.raises(ServeError) as info:
            other.results()
        assert info.value.status == 409
        # Its batch had nothing else to do: stopped, and later jobs still run.
        table = a.submit({"p": variant(3)}, cv=3).wait(timeout=60)
        assert table["status"].eq("ok").all()
        assert a.status(other)["state"] == "cancelled"


SCRIPT = """
import skrub
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

df = load_diabetes(as_frame=True).frame
data = skrub.var("data", df)
X = data.drop(columns="target").skb.mark_as_X()
y = data["target"].skb.mark_as_y()
alpha = skrub.choose_float(0.01, 100.0, log=True, n_steps={steps}, name="alpha")
search = X.skb.apply(Ridge(alpha=alpha), y=y).skb.make_grid_search(cv=3, fitted=True)
print(search.results_.to_string())
print(repr(search.best_score_))
"""


def test_scripts_run_together_as_with_plain_python(server, tmp_path):
    """Two clients' scripts in one batch; the output of the one that fails
    after its search is compared with plain ``python`` (``stratum run``'s own
    tests compare every kind of script)."""
    url, _ = server
    texts = [SCRIPT.format(steps=3), SCRIPT.format(steps=4) + "1 / 0\n"]
    path = tmp_path / "script.py"
    path.write_text(texts[1])
    plain = subprocess.Popen(
        [sys.executable, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with stratum.Client(url, TOKEN_A) as a, stratum.Client(url, TOKEN_B) as b:
        jobs = [a.submit(scripts=[texts[0]]), b.submit(scripts=[texts[1]])]
        tables = [job.wait(timeout=120) for job in jobs]
    assert tables[0].attrs["batch"] == tables[1].attrs["batch"]
    assert tables[0].attrs["merged_with"] == tables[1].attrs["merged_with"]
    outcomes = [t.attrs["scripts"][0] for t in tables]
    assert [o["status"] for o in outcomes] == ["ok", "error"]
    assert [o["requests"] for o in outcomes] == [1, 1]
    assert "mean_test_score" in outcomes[0]["stdout"]
    stdout, stderr = plain.communicate(timeout=120)
    assert outcomes[1]["exit_code"] == plain.returncode != 0
    assert outcomes[1]["stdout"] == stdout
    assert (
        "ZeroDivisionError" in outcomes[1]["stderr"] and "ZeroDivisionError" in stderr
    )


def _ridge_source(sleep: float = 0.0) -> str:
    return (
        f"import time\ntime.sleep({sleep})\n"
        "import io\nimport pandas as pd\nimport skrub\n"
        "from sklearn.linear_model import Ridge\n"
        f"frame = pd.read_json(io.StringIO({DATA.to_json()!r}))\n"
        "data = skrub.var('data', frame)\n"
        "X = data[['a']].skb.mark_as_X()\n"
        "y = data['y'].skb.mark_as_y()\n"
        "pipelines = {'ridge': X.skb.apply(Ridge(alpha=1.0), y=y)}\n"
    )


def test_jobs_survive_a_killed_server(tmp_path):
    """Acknowledged jobs are in the state database: after ``kill -9`` and a
    restart, a finished job keeps its results, the running one runs again
    (once), and a retried submission is the same job."""
    port, state = _free_port(), tmp_path / "state"
    proc = _start_server(port, state, "--window", "0.1")
    url = f"http://127.0.0.1:{port}"
    try:
        with stratum.Client(url, TOKEN_A, retry_seconds=90) as client:
            finished = client.submit(sources=[_ridge_source()], cv=3)
            before = finished.wait(timeout=60)
            running = client.submit(
                sources=[_ridge_source(sleep=2.0)], cv=3, idempotency_key="k-1"
            )
            again = client.submit(sources=["ignored"], idempotency_key="k-1")
            assert again.id == running.id
            deadline = time.monotonic() + 30
            while client.status(running)["state"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            proc.kill()  # SIGKILL: nothing is flushed on the way out
            proc.wait()
            proc = _start_server(port, state, "--window", "0.1")
            after = client.results(finished)
            pd.testing.assert_frame_equal(after, before)
            table = running.wait(timeout=90)  # it ran again after the restart
            assert table["mean_test_score"].notna().all()
            retried = client.submit(sources=["ignored"], idempotency_key="k-1")
            assert retried.id == running.id
            ids = [job["id"] for job in client.jobs()]
            assert sorted(ids) == sorted([finished.id, running.id])
            assert client.status(running)["state"] == "done"
    finally:
        _stop(proc)


def test_state_database_keeps_finished_jobs_by_age_and_size(tmp_path):
    from stratum.serve.job_store import JobStore
    from stratum.serve.jobs import Job

    store = JobStore(tmp_path, keep_seconds=3600, keep_bytes=2_000)
    now = time.time()
    for i, age in enumerate([7200, 600, 300, 60]):
        job = Job(f"j{i}", "owner", {"cv": 3}, b"payload", [], [])
        job.submitted = now - age - 1
        store.add(job, idempotency_key=f"key-{i}")
        job.state, job.finished, job.payload = "done", now - age, None
        job.results = {"rows": [[i] * 100]}
        store.update(job)
    queued = Job("q", "owner", {}, b"x" * 5000, [], [])
    store.add(queued, None)
    dropped = store.trim()
    # j0 is too old; then the oldest finished go until the rest fit in 2 kB;
    # the queued job (and its 5 kB payload) is never dropped.
    kept = [row["id"] for row in store.load()]
    assert dropped[0] == "j0" and "q" in kept and "j3" in kept
    assert set(dropped) | set(kept) == {"j0", "j1", "j2", "j3", "q"}
    assert store.find("owner", "key-3") == "j3"
    assert next(r for r in store.load() if r["id"] == "j3")["results"] == {
        "rows": [[3] * 100]
    }
    store.close()


def test_a_full_state_database_refuses_submissions_with_507(tmp_path):
    """SQLite reports the disk full (its page limit reached): the submission
    is refused with a clear 507, the jobs already accepted are untouched, and
    the server takes submissions again once there is room."""
    from fastapi.testclient import TestClient

    from stratum.serve.app import create_app
    from stratum.serve.jobs import JobManager

    manager = JobManager(state_dir=str(tmp_path))
    app = create_app(manager, [TOKEN_A], start_manager=False)
    body = {"sources": ["pipeline = None"], "options": {"cv": 3}}
    with TestClient(app) as http:
        first = http.post("/v1/jobs", json=body, headers=_auth(TOKEN_A))
        assert first.status_code == 202
        pages = manager.store.db.execute("PRAGMA page_count").fetchone()[0]
        manager.store.db.execute(f"PRAGMA max_page_count = {pages}")
        big = {"sources": ["x = 1\n" * 50_000], "options": {"cv": 3}}
        refused = http.post("/v1/jobs", json=big, headers=_auth(TOKEN_A))
        assert refused.status_code == 507
        assert "database or disk is full" in refused.json()["detail"]
        listed = http.get("/v1/jobs", headers=_auth(TOKEN_A)).json()
        assert [j["id"] for j in listed] == [first.json()["id"]]
        manager.store.db.execute("PRAGMA max_page_count = 1073741823")
        again = http.post("/v1/jobs", json=big, headers=_auth(TOKEN_A))
        assert again.status_code == 202
    manager.store.close()
    restored = JobManager(state_dir=str(tmp_path))
    assert sorted(restored.jobs) == sorted([first.json()["id"], again.json()["id"]])
    restored.store.close()
