"""Agent scripts run one by one with ``python`` versus together with ``stratum run``.

Generates N self-contained scripts, one per node of the W2 agent tree
(``stratum.bench.pipelines.agent_tree``): each reads the same CSV, builds its
pipeline with ``import skrub`` (its own helper functions, its own encoders and
model), evaluates it with 5-fold cross-validation (even nodes with
``make_grid_search``, odd ones with ``.skb.cross_validate``) and prints its
scores. The scripts never import stratum. Then it times

- ``base``: ``python SCRIPT`` for every script, one after the other;
- ``stratum run``: ``python -m stratum run SCRIPTS... --quiet``;

and checks that every script printed exactly the same thing both ways.

    python benchmarks/agent_scripts.py --scripts 30 --rows 10000 --cv 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stratum.bench.data import make_reviews  # noqa: E402
from stratum.bench.pipelines import W2_MODEL_GRIDS, agent_tree  # noqa: E402

EXTRAS = {
    "review_len": 'X.assign(review_len=X["review"].fillna("").str.len())',
    "n_words": 'X.assign(n_words=X["review"].fillna("").str.split().str.len())',
    "n_exclaim": 'X.assign(n_exclaim=X["review"].fillna("").str.count("!"))',
    "votes_per_price": (
        'X.assign(votes_per_price=X["helpful_votes"] / (X["price_paid"] + 1.0))'
    ),
    "weekend": (
        'X.assign(weekend=(X["review_date"].dt.dayofweek >= 5).astype("float64"))'
    ),
}

FEATURES = {
    "explicit": """\
X = X.skb.apply(
    skrub.StringEncoder(40, analyzer="word", ngram_range=(1, 2), random_state=0),
    cols=["review"],
)
X = X.skb.apply(
    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    cols=["product_category", "platform"],
)
X = X.skb.apply(skrub.DatetimeEncoder(periodic_encoding=None), cols=["review_date"])
""",
    "tv_char": """\
X = X.skb.apply(
    skrub.TableVectorizer(high_cardinality=skrub.StringEncoder(30, random_state=0))
)
""",
    "tv_word": """\
encoder = skrub.StringEncoder(
    30, analyzer="word", ngram_range=(1, 2), random_state=0
)
X = X.skb.apply(skrub.TableVectorizer(high_cardinality=encoder))
""",
    "tv_minhash": """\
X = X.skb.apply(
    skrub.TableVectorizer(high_cardinality=skrub.MinHashEncoder(n_components=30))
)
""",
}

MODELS = {
    "logreg": (
        "from sklearn.linear_model import LogisticRegression",
        "LogisticRegression(max_iter=2000{params})",
    ),
    "lightgbm": (
        "from lightgbm import LGBMClassifier",
        "LGBMClassifier(random_state=0, n_jobs=1, verbose=-1{params})",
    ),
    "xgboost": (
        "from xgboost import XGBClassifier",
        'XGBClassifier(random_state=0, n_jobs=1, tree_method="hist"{params})',
    ),
}

EVALUATE = {
    "grid": """\
search = pred.skb.make_grid_search(
    cv={cv}, scoring="neg_log_loss", fitted=True, refit=False
)
print("validation neg_log_loss:", search.cv_results_["mean_test_score"].tolist())
folds = [search.cv_results_[f"split{{i}}_test_score"][0] for i in range({cv})]
print("per fold:", folds)
""",
    "cross_validate": """\
scores = pred.skb.cross_validate(cv={cv}, scoring="neg_log_loss")
print("validation neg_log_loss:", scores["test_score"].mean())
print("per fold:", scores["test_score"].tolist())
""",
}


def script_text(node: dict, index: int, data_path: str, cv: int) -> str:
    """The script an agent would write for one node of the tree."""
    model = node["model"]
    params = {k: v[0] for k, v in W2_MODEL_GRIDS[model].items()} | node["params"]
    param_text = "".join(f", {k}={v!r}" for k, v in sorted(params.items()))
    import_line, model_text = MODELS[model]
    lines = [
        f'"""Agent draft {node["name"]}: {node["draft"]} features, {model}."""',
        "import pandas as pd",
        "import skrub",
        import_line,
        "from sklearn.impute import SimpleImputer",
        "from sklearn.preprocessing import OneHotEncoder, StandardScaler",
        "",
    ]
    for extra in node["extras"]:
        lines += [f"def add_{extra}(X):", f"    return {EXTRAS[extra]}", ""]
    lines += [
        f'df = pd.read_csv({data_path!r}, parse_dates=["review_date"])',
        'data = skrub.var("reviews", df)',
        'X = data.drop(columns=["label"]).skb.mark_as_X()',
        'y = data["label"].skb.mark_as_y()',
    ]
    lines += [f"X = X.skb.apply_func(add_{extra})" for extra in node["extras"]]
    lines.append(FEATURES[node["draft"]].rstrip())
    lines += [
        'X = X.skb.apply(SimpleImputer(strategy="median"))',
        "X = X.skb.apply(StandardScaler())",
        f"pred = X.skb.apply({model_text.format(params=param_text)}, y=y)",
    ]
    evaluate = EVALUATE["grid" if index % 2 == 0 else "cross_validate"]
    lines.append(evaluate.format(cv=cv).rstrip())
    return "\n".join(lines) + "\n"


def generate(workdir: Path, n_scripts: int, rows: int, cv: int, seed: int = 0):
    workdir.mkdir(parents=True, exist_ok=True)
    data_path = workdir / "reviews.csv"
    make_reviews(rows, seed=seed).to_csv(data_path, index=False)
    paths = []
    for index, node in enumerate(agent_tree(n_scripts, seed=seed)):
        path = workdir / f"{node['name']}.py"
        path.write_text(script_text(node, index, str(data_path), cv))
        paths.append(path)
    return paths


def _env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")


def run_base(paths: list[Path]) -> tuple[float, dict]:
    env = _env()
    env.pop("PYTHONPATH", None)  # plain skrub
    outputs = {}
    start = time.perf_counter()
    for path in paths:
        done = subprocess.run(
            [sys.executable, path.name],
            cwd=path.parent,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{path.name} failed:\n{done.stderr}")
        outputs[path.stem] = done.stdout
    return time.perf_counter() - start, outputs


def run_stratum(
    paths: list[Path], out: Path, jobs: int, preload: bool = True
) -> tuple[float, dict, str]:
    env = _env()
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    command = [
        sys.executable,
        "-m",
        "stratum",
        "run",
        *map(str, paths),
        "--quiet",
        "--out",
        str(out),
        "-j",
        str(jobs),
    ] + ([] if preload else ["--no-preload"])
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"stratum run failed:\n{done.stdout}\n{done.stderr}")
    outputs = {p.stem: (out / p.stem / "stdout").read_text() for p in paths}
    return seconds, outputs, done.stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripts", type=int, default=30)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("-j", "--jobs", type=int, default=1)
    parser.add_argument("--workdir", help="keep the scripts and outputs here")
    parser.add_argument("--json", help="write the figures as JSON")
    parser.add_argument(
        "--no-preload",
        action="store_true",
        help="also time `stratum run --no-preload` (a new interpreter per script)",
    )
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="stratum-agent-scripts-"))
    paths = generate(workdir, args.scripts, args.rows, args.cv)
    print(f"{len(paths)} scripts, {args.rows} rows, {args.cv}-fold, in {workdir}")
    base_seconds, base_out = run_base(paths)
    print(f"python, one by one: {base_seconds:.1f}s", flush=True)
    figures = {
        "scripts": len(paths),
        "rows": args.rows,
        "cv": args.cv,
        "jobs": args.jobs,
        "base_seconds": base_seconds,
    }
    different = []
    variants = [("", True)] + ([("_no_preload", False)] if args.no_preload else [])
    for suffix, preload in variants:
        seconds, outputs, table = run_stratum(
            paths, workdir / f"out{suffix}", args.jobs, preload
        )
        flag = "" if preload else " --no-preload"
        print(f"stratum run -j {args.jobs}{flag}: {seconds:.1f}s", flush=True)
        print(table)
        ratio = base_seconds / seconds
        same = [n for n in base_out if base_out[n] == outputs[n]]
        different += [n for n in base_out if n not in same]
        print(f"speedup: {ratio:.2f}x; outputs identical: {len(same) == len(paths)}")
        figures[f"stratum_run{suffix}_seconds"] = seconds
        figures[f"speedup{suffix}"] = ratio
    figures["identical"] = not different
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    if different:
        print(f"outputs differ: {different}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
