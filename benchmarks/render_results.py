"""Print the Markdown tables of a `stratum bench --json` report (for RESULTS.md).

python benchmarks/render_results.py results.json
"""

import json
import sys

from stratum.bench.tables import markdown_report

if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(markdown_report(json.load(open(path))))
