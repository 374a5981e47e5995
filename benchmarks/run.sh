#!/usr/bin/env bash
# The benchmark runs behind benchmarks/RESULTS.md. Run from the repository
# root on an otherwise idle machine (the "others (cores)" column says how busy
# it was). Each writes JSON (and a plot) under benchmarks/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/results

# Default sizes, every engine, plus the W2 scaling curve (skrub vs stratum).
stratum bench all --json benchmarks/results/default.json \
    --plot benchmarks/results/default.png

# W1 at one million rows (stratum and plain skrub only).
stratum bench W1 --rows 1000000 --engines skrub,stratum \
    --json benchmarks/results/w1_1m.json

# The CI smoke test.
time stratum bench all --quick

# Markdown tables for RESULTS.md.
python benchmarks/render_results.py benchmarks/results/default.json
