"""``stratum mcp``: the tools through the MCP SDK's own client over stdio, and
table profiles compared with pandas."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

import stratum
from stratum.serve.profile import Profiler, profile_frame

ROOT = Path(__file__).resolve().parent.parent


def _expected(frame: pd.DataFrame) -> list[tuple]:
    n = len(frame)
    return [
        (
            str(name),
            int(frame[name].nunique(dropna=True)),
            int(frame[name].isna().sum()),
            frame[name].isna().mean() if n else 0.0,
        )
        for name in frame.columns
    ]


def _got(profile: dict) -> list[tuple]:
    return [
        (c["name"], c["n_unique"], c["missing"], c["missing_rate"])
        for c in profile["columns"]
    ]


def _nasty() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 500
    return pd.DataFrame(
        {
            "id": np.arange(n),  # huge cardinality
            "price": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "city": rng.choice(["Zürich", "東京", "São Paulo", ""], size=n),
            "note": [f"текст {i} 🙂" if i % 7 else None for i in range(n)],
            "flag": rng.random(n) < 0.5,
            "empty": [np.nan] * n,
        }
    )


def test_profile_matches_pandas_on_nasty_columns():
    frame = _nasty()
    profile = profile_frame(frame)
    assert profile["n_rows"] == len(frame) and profile["n_columns"] == frame.shape[1]
    assert _got(profile) == _expected(frame)
    kinds = {c["name"]: c["kind"] for c in profile["columns"]}
    assert kinds["price"] == "numeric" and kinds["flag"] == "bool"
    assert kinds["city"] == "categorical" and kinds["note"] == "text"
    price = next(c for c in profile["columns"] if c["name"] == "price")
    assert price["mean"] == pytest.approx(frame["price"].mean(), rel=1e-12)
    assert price["min"] == frame["price"].min() and price["max"] == frame["price"].max()
    city = next(c for c in profile["columns"] if c["name"] == "city")
    assert city["top_values"] == [
        [k, int(v)] for k, v in frame["city"].value_counts().head(5).items()
    ]
    one = profile_frame(frame.head(1))
    assert _got(one) == _expected(frame.head(1))
    empty = profile_frame(frame.head(0))
    assert _got(empty) == [(c, 0, 0, 0.0) for c in frame.columns]


@given(
    data_frames(
        [
            column("x", elements=st.floats(allow_nan=True, allow_infinity=True)),
            column("s", elements=st.one_of(st.none(), st.text(max_size=4))),
            column("i", elements=st.integers(-5, 5)),
        ],
        index=range_indexes(min_size=0, max_size=30),
    )
)
def test_profile_matches_pandas_generated(frame):
    profile = profile_frame(frame)
    assert _got(profile) == _expected(frame)
    json.dumps(profile, allow_nan=False)  # always valid JSON


def test_profile_cache_is_keyed_by_content(tmp_path):
    frame = _nasty()
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    profiler = Profiler(cache_dir=str(tmp_path / "cache"))
    first = profiler.profile_path(path)
    assert not first["cached"]
    assert _got(first) == _expected(pd.read_csv(path))
    again = profiler.profile_path(path)
    assert again["cached"] and again["fingerprint"] == first["fingerprint"]
    copy = tmp_path / "copy.csv"
    copy.write_bytes(path.read_bytes())
    assert profiler.profile_path(copy)["cached"]  # same content, other name
    path.write_text(path.read_text().replace("Zürich", "Zurich"))
    changed = profiler.profile_path(path)
    assert not changed["cached"] and changed["fingerprint"] != first["fingerprint"]
    # The disk cache serves another profiler (another process, a later run).
    other = Profiler(cache_dir=str(tmp_path / "cache"))
    assert other.profile_path(copy)["cached"]
    assert profiler.profile_frame(frame)["cached"] is False
    assert profiler.profile_frame(frame.copy())["cached"] is True
    with pytest.raises(ValueError, match="cannot profile"):
        profiler.profile_path(tmp_path / "cache" / os.listdir(tmp_path / "cache")[0])
    with pytest.raises(FileNotFoundError, match="no such file"):
        profiler.profile_path(tmp_path / "missing.csv")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        profiler.profile_path(tmp_path / "cache")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="is empty: it has no header line"):
        profiler.profile_path(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("city,price\n")  # columns, no rows
    header_only = profiler.profile_path(tmp_path / "header.csv")
    assert _got(header_only) == [("city", 0, 0, 0.0), ("price", 0, 0, 0.0)]


SOURCE = """
import numpy as np
import pandas as pd
import skrub
from sklearn.linear_model import Ridge

rng = np.random.default_rng(0)
df = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
df["y"] = 3 * df["a"] - df["b"] + rng.normal(scale=0.1, size=80)
data = skrub.var("data", df)
X = data[["a", "b"]].skb.mark_as_X()
y = data["y"].skb.mark_as_y()
pipelines = {
    "ridge": X.skb.apply(
        Ridge(alpha=skrub.choose_from([0.1, 10.0], name="alpha")), y=y
    )
}
"""


def _payload(result) -> dict:
    structured = getattr(result, "structured_content", None)
    if structured is None:
        structured = getattr(result, "structuredContent", None)
    if isinstance(structured, dict) and structured:
        return (
            structured.get("result", structured)
            if len(structured) == 1
            else (structured)
        )
    return json.loads(result.content[0].text)


def test_mcp_tools_over_stdio(tmp_path):
    pytest.importorskip("mcp")
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    frame = _nasty()
    csv = tmp_path / "houses.csv"
    frame.to_csv(csv, index=False)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if any((ROOT / "stratum").glob("_native*")):
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p
        )
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "stratum", "mcp", "--window", "0.1"],
        env=env,
        cwd=str(tmp_path),
    )

    namespace: dict = {}
    exec(SOURCE, namespace)
    expected = stratum.search(namespace["pipelines"], cv=3).results_

    async def session_calls():
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = {t.name for t in (await session.list_tools()).tools}
                assert tools >= {"evaluate", "get_results", "cancel", "profile_table"}

                first = _payload(
                    await session.call_tool("profile_table", {"path": str(csv)})
                )
                again = _payload(
                    await session.call_tool("profile_table", {"path": str(csv)})
                )
                bad = await session.call_tool(
                    "profile_table", {"path": str(tmp_path / "nope.csv")}
                )

                done = _payload(
                    await session.call_tool(
                        "evaluate", {"sources": [SOURCE], "cv": 3, "wait_seconds": 120}
                    )
                )
                fetched = _payload(
                    await session.call_tool("get_results", {"job_id": done["id"]})
                )
                broken = _payload(
                    await session.call_tool(
                        "evaluate",
                        {"sources": ["pipeline = 42"], "wait_seconds": 120},
                    )
                )
                return first, again, bad, done, fetched, broken

    first, again, bad, done, fetched, broken = anyio.run(session_calls)

    assert _got(first) == _expected(pd.read_csv(csv))
    assert not first["cached"] and again["cached"]
    assert again["fingerprint"] == first["fingerprint"]
    assert bad.is_error and "no such file" in bad.content[0].text

    assert done["state"] == "done", done
    rows = pd.DataFrame(done["results"])
    assert list(rows["pipeline"]) == list(expected["pipeline"])
    assert [r["alpha"] for r in rows["params"]] == [
        p["alpha"] for p in expected["params"]
    ]
    for col in ("split0_test_score", "split1_test_score", "split2_test_score"):
        assert list(rows[col]) == list(expected[col])
    assert done["best"]["score"] == expected["mean_test_score"].max()
    assert fetched["results"] == done["results"]
    assert broken["state"] == "failed" and "not a skrub DataOp" in broken["error"]
