"""The ``stratum`` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stratum", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run an agent-style batch, stratum vs plain skrub")
    demo.add_argument("--rows", type=int, default=5000)
    demo.add_argument("--cv", type=int, default=3)
    explain = sub.add_parser("explain", help="show the plan of the demo batch")
    explain.add_argument("--rows", type=int, default=2000)
    explain.add_argument("--cv", type=int, default=3)
    explain.add_argument("--dot", action="store_true", help="print Graphviz DOT instead")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from .bench.demo import main as demo_main

        demo_main(rows=args.rows, cv=args.cv)
        return 0
    if args.command == "explain":
        from .bench.data import make_house_prices
        from .bench.workloads import house_price_batch
        from .search import explain as explain_batch

        batch = house_price_batch(make_house_prices(args.rows, seed=0))
        print(explain_batch(batch, cv=args.cv))
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
