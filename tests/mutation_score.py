"""The mutation score of `make mutate`, per module and in all, from `mutmut results --all true`.

Score = killed / (killed + survived + timeout + suspicious): mutants no test covers ("no tests") are counted
apart, and mutants not run yet (an interrupted or partial run) are left out and reported.

    python -m tests.mutation_score            # reads `mutmut results --all true` (run from the repository root)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter, defaultdict

LINE = re.compile(r"^\s*(?P<module>[\w.]+?)\.x(?:_|\u01c1).*__mutmut_\d+: (?P<status>.+)$")
CAUGHT, ESCAPED = {"killed"}, {"survived", "timeout", "suspicious", "segfault"}


def scores(lines: list[str]) -> dict:
    per_module: dict[str, Counter] = defaultdict(Counter)
    for line in lines:
        match = LINE.match(line)
        if match:
            per_module[match["module"]][match["status"].strip()] += 1
    result = {}
    for module, counts in sorted(per_module.items()):
        killed, escaped = sum(counts[s] for s in CAUGHT), sum(counts[s] for s in ESCAPED)
        result[module] = {**counts, "score": round(killed / (killed + escaped), 3) if killed + escaped else None}
    total = sum((Counter(c) for c in per_module.values()), Counter())
    killed, escaped = sum(total[s] for s in CAUGHT), sum(total[s] for s in ESCAPED)
    result["all"] = {**total, "score": round(killed / (killed + escaped), 3) if killed + escaped else None}
    return result


def main() -> None:
    output = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], capture_output=True, text=True,
                            check=True).stdout
    print(json.dumps(scores(output.splitlines()), indent=2))


if __name__ == "__main__":
    main()
