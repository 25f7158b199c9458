"""Benchmark: building an environment with two small packages, and its cost once cached.

An environment asks for ``six==1.16.0`` and ``toolz==0.12.1`` (which the current
interpreter lacks). Measured, in a new workspace in a temporary folder:

* build: the first ``resolve_environment`` (venv, ``.pth`` to this interpreter's
  packages, ``pip install`` from the index, publish under its key). ``--cold`` runs pip
  with ``PIP_NO_CACHE_DIR=1`` so the wheels are downloaded, not taken from pip's cache.
* cached, new process: what a later run pays, timed inside a fresh interpreter around
  ``resolve_environment`` alone (reading installed distributions included; starting
  Python and importing dataferry are not: every step pays those anyway). Median of
  ``--repeat``.
* cached, same process: a later step of the same run (the resolution is remembered).

Target: a cached environment costs under 50 ms.

Usage::

    .venv/bin/python benchmarks/environment_build.py [--repeat 5] [--cold]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dataferry.execution.environments import resolve_environment
from dataferry.execution.plan_model import EnvironmentSpec

PACKAGES = ["six==1.16.0", "toolz==0.12.1"]
TIMED = """
import sys, time
from pathlib import Path
from dataferry.execution.environments import resolve_environment
from dataferry.execution.plan_model import EnvironmentSpec
spec = EnvironmentSpec("small", None, {{}}, {{"pip": {packages!r}}})
start = time.perf_counter()
resolve_environment(spec, Path({root!r}))
print((time.perf_counter() - start) * 1000)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="bypass pip's cache")
    args = parser.parse_args()
    if args.cold:
        os.environ["PIP_NO_CACHE_DIR"] = "1"
    root = Path(tempfile.mkdtemp(prefix="df-env-bench-"))
    try:
        spec = EnvironmentSpec("small", None, {}, {"pip": PACKAGES})
        start = time.perf_counter()
        resolve_environment(spec, root)
        build_s = time.perf_counter() - start
        fresh = [_fresh_process_ms(root) for _ in range(args.repeat)]
        same = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            resolve_environment(spec, root)
            same.append((time.perf_counter() - start) * 1000)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"build ({'cold' if args.cold else 'pip cache allowed'}): {build_s:.2f} s")
    print(f"cached, new process: {statistics.median(fresh):.1f} ms (median)")
    print(f"cached, same process: {statistics.median(same):.3f} ms (median)")
    verdict = "met" if statistics.median(fresh) < 50 else "MISSED"
    print(f"target < 50 ms for a cached environment: {verdict}")


def _fresh_process_ms(root: Path) -> float:
    code = TIMED.format(packages=PACKAGES, root=str(root))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
