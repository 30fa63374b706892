"""Coverage-guided fuzzing (atheris) of every importer, bounded so it fits in the suite.

Each target runs in its own process for a fixed number of inputs, starting from valid seeds, with a
fixed libFuzzer seed so a failure here reproduces. `make fuzz` runs the same targets for longer.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz_targets import SEEDS, TARGETS

ROOT = Path(__file__).resolve().parent.parent
# The line-based parsers take ~10k inputs/s, the file importers ~300/s (a temporary dump per input).
RUNS = {"gair_jsonl": 20_000, "gair_csv": 20_000, "judgments_jsonl": 20_000, "judgments_csv": 20_000}
FILE_RUNS = 1_500


def test_every_target_has_seeds():
    assert set(SEEDS) == set(TARGETS)
    for name, seeds in SEEDS.items():
        for seed in seeds:
            TARGETS[name](seed)  # the seeds themselves are valid inputs


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_atheris_finds_no_crash(target, tmp_path):
    runs = RUNS.get(target, FILE_RUNS)
    result = subprocess.run([sys.executable, "-m", "tests.fuzz_atheris", target, f"-runs={runs}", "-seed=20261125",
                             f"-artifact_prefix={tmp_path}/"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    output = result.stderr + result.stdout
    assert result.returncode == 0, f"atheris found a crash in {target}:\n{output[-4000:]}"
    done = re.search(r"Done (\d+) runs", output)
    assert done and int(done.group(1)) == runs, output[-2000:]
