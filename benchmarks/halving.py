"""What ``strategy="halving"`` trades: every configuration on every fold
(``strategy="grid"``) vs successive halving over all of them.

Three pipelines on the demo's house-price prefix (TableVectorizer, imputer,
scaler; log price): HistGradientBoosting over learning rate x leaves x
iterations (18), LightGBM over learning rate x leaves x rounds (12), Ridge
over 6 alphas: 36 configurations, 5-fold, r2. Both strategies run in this
process, alternating; reported: wall seconds, model fits run, the best
(pipeline, params) each picks, and where the halving's pick ranks in the
full grid's table.

    python benchmarks/halving.py --rows 20000 --repeat 2
"""

from __future__ import annotations

import argparse
import warnings

import skrub
from lightgbm import LGBMRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from timing import timed

import stratum
from stratum.bench.data import make_house_prices
from stratum.bench.workloads import _prefix


def batch_of(df) -> dict:
    rate = [0.03, 0.1, 0.3]
    models = {
        "hgb": HistGradientBoostingRegressor(
            learning_rate=skrub.choose_from(rate, name="learning_rate"),
            max_leaf_nodes=skrub.choose_from([15, 31, 63], name="leaves"),
            max_iter=skrub.choose_from([100, 300], name="iterations"),
            early_stopping=False,
            random_state=0,
        ),
        "lgbm": LGBMRegressor(
            learning_rate=skrub.choose_from(rate, name="learning_rate"),
            num_leaves=skrub.choose_from([15, 63], name="leaves"),
            n_estimators=skrub.choose_from([100, 300], name="rounds"),
            random_state=0,
            verbose=-1,
        ),
        "ridge": Ridge(
            alpha=skrub.choose_from([0.01, 0.1, 1, 10, 100, 1000], name="alpha")
        ),
    }
    batch = {}
    for name, model in models.items():
        features, y = _prefix(df)
        batch[name] = features.skb.apply(model, y=y)
    return batch


def _fits(result) -> int:
    stats = result.stats_
    return int((stats["kind"].eq("node") & stats["mode"].eq("fit")).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--factor", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    df = make_house_prices(args.rows, seed=0)
    warnings.simplefilter("ignore")
    batch = batch_of(df)
    common = dict(cv=args.cv, scoring="r2", refit=False, random_state=0)
    walls: dict = {}
    for _ in range(args.repeat):
        for strategy in ("grid", "halving"):
            extra = {"factor": args.factor} if strategy == "halving" else {}
            with stratum.config_context(reuse=False, progress=False):
                result, wall, _ = timed(
                    lambda: stratum.search(batch, strategy=strategy, **common, **extra)
                )
            walls.setdefault(strategy, []).append(wall)
            best = result.best_
            print(
                f"  {strategy:8} {wall:7.1f} s, {_fits(result):4} fits, best "
                f"{best.pipeline} {best.params} r2={best.score:.4f}",
                flush=True,
            )
            if strategy == "grid":
                grid = result.results_
            else:
                halving = result
    print(f"rounds: {halving.explain().splitlines()[0]}")
    ranked = grid.reset_index(drop=True)
    pick = halving.best_
    same = ranked["pipeline"].eq(pick.pipeline) & ranked["params"].map(
        lambda p: p == pick.params
    )
    rank = int(same.idxmax()) + 1
    print(
        f"halving's pick ranks {rank} of {len(ranked)} in the full grid "
        f"(grid r2 {ranked.loc[rank - 1, 'mean_test_score']:.4f}, "
        f"grid best {ranked.loc[0, 'mean_test_score']:.4f})"
    )
    g, h = min(walls["grid"]), min(walls["halving"])
    print(f"best wall: grid {g:.1f} s, halving {h:.1f} s: {g / h:.2f}x")


if __name__ == "__main__":
    main()
