"""Coverage-guided fuzzing of every importer with atheris (libFuzzer for Python).

    python -m tests.fuzz_atheris TARGET [libFuzzer options]      e.g. -runs=100000 or -max_total_time=300
    python -m tests.fuzz_atheris --list

`make fuzz` runs every target for a while; tests/test_fuzz_atheris.py runs each for a bounded number of
inputs in the normal suite. A crash (any exception other than the importer's own located error) stops
the run, prints the traceback and writes the input to crash-<sha1> in the current directory.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["annotation"]):
    from tests.fuzz_targets import SEEDS, TARGETS


def main(argv: list[str]) -> None:
    if "--list" in argv:
        print(" ".join(TARGETS))
        return
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: python -m tests.fuzz_atheris TARGET [libFuzzer options]; targets: {' '.join(TARGETS)}")
    name, options = argv[1], argv[2:]
    target = TARGETS[name]
    corpus = [arg for arg in options if not arg.startswith("-")]
    if not corpus:  # start from the valid seeds; new interesting inputs go to a scratch corpus
        scratch = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
        for number, seed in enumerate(SEEDS[name]):
            (scratch / f"seed-{number}").write_bytes(seed)
        options.append(str(scratch))
    atheris.Setup([argv[0], *options], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
