"""Benchmark: deciding reuse over a 10 GiB input, and hashing that input the first time.

A one-step pipeline mounts a folder of ``--files`` files of ``--file-mib`` MiB (40 x 256
MiB = 10 GiB by default) and is run twice. The step itself only lists the folder, so a
run's time is the framework's.

* **First run**: the driver hashes every input file (blake3, then cached by
  signature). Its time to decide is the hashing time; the throughput is set against
  ``sha256sum`` and ``b3sum`` on the same files, and against dataferry's hashing
  function called directly.
* **Second run**: nothing changed, so the step is reused; the time to decide is read
  from the driver log (``<ws>/runs/<run>/driver.log``: one line when the driver starts,
  one per step decision). Target: under 1 s.

The files are real bytes, not sparse: a 16 MiB block from ``os.urandom`` written 16
times per file with the file and block number stamped in front, so no two blocks are
equal and nothing reads as holes. They are written just before and fit in the page
cache, so every tool reads them from memory: the figures compare hashing, not disks.
Everything goes to a temporary folder (``--workdir`` to choose where), removed at the
end.

Usage::

    .venv/bin/python benchmarks/reuse.py [--files 40] [--file-mib 256] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import Any

MIB = 1 << 20
GIB = 1 << 30
BLOCK = 16 * MIB
TARGET_DECIDE_S = 1.0
STEP = """
import os, sys
src, out = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(src))
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "count.txt"), "w") as fh:
    fh.write(f"{len(names)}\\n")
"""


def generate(folder: Path, files: int, file_mib: int) -> float:
    """Write the input files; return the seconds it took."""
    folder.mkdir(parents=True)
    block = bytearray(os.urandom(BLOCK))
    started = time.perf_counter()
    for i in range(files):
        with open(folder / f"part-{i:03d}.bin", "wb") as fh:
            for b in range(file_mib * MIB // BLOCK):
                block[:8] = struct.pack("<II", i, b)  # no two blocks alike
                fh.write(block)
    return time.perf_counter() - started


def time_command(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def reference_tools(paths: list[str]) -> dict[str, float | None]:
    """Seconds per tool on ``paths`` (None: the tool is not installed).

    ``b3sum`` also runs one process per CPU (``xargs -P``); ``sha256sum`` only as one
    process: it is the slow one, and a second pass would double the benchmark's time.
    """
    cpus = str(os.cpu_count() or 1)
    found: dict[str, float | None] = {}
    for tool in ("sha256sum", "b3sum"):
        found[tool] = time_command([tool, *paths]) if shutil.which(tool) else None
    if shutil.which("b3sum"):
        started = time.perf_counter()
        subprocess.run(
            ["xargs", "-0", "-n", "1", "-P", cpus, "b3sum"],
            input="\0".join(paths).encode(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        found[f"b3sum (xargs -P{cpus})"] = time.perf_counter() - started
    return found


def dataferry_hashing(location: Any, paths: list[str]) -> float:
    """Seconds for dataferry's own hashing of ``paths``, with no cache."""
    from dataferry.storage.hashing import content_hashes

    started = time.perf_counter()
    content_hashes(location, paths, cached=lambda *_: {}, remember=lambda *_: None)
    return time.perf_counter() - started


_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO (.*)$")


def decision_time(log: Path, run_id: str, step: str) -> tuple[float, str]:
    """(seconds from the driver's start to the step's decision, the decision)."""
    start = decided = None
    explanation = ""
    for line in log.read_text().splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        stamp = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
        if m.group(2).startswith(f"run {run_id}: ") and "steps" in m.group(2):
            start = stamp
        elif decided is None and m.group(2).startswith(f"step {step}: "):
            decided, explanation = stamp, m.group(2)[len(f"step {step}: ") :]
    if start is None or decided is None:
        raise SystemExit(f"no decision for step {step} in {log}:\n{log.read_text()}")
    return (decided - start).total_seconds(), explanation


def run_twice(ws: Any, code: Path) -> list[tuple[float, str]]:
    from dataferry import (
        DataPath,
        Dataset,
        OutputFileDatasetConfig,
        Pipeline,
        PythonScriptStep,
    )

    store = ws.get_default_datastore()
    big = Dataset.File.from_files(DataPath(store, "big"))
    out = OutputFileDatasetConfig("listing")
    step = PythonScriptStep(
        "count.py",
        name="count",
        source_directory=str(code),
        arguments=[big.as_named_input("big").as_mount(), out],
    )
    found = []
    for _ in range(2):
        run = Pipeline(ws, steps=[step]).submit("reuse-bench")
        status = run.wait_for_completion(show_output=False, raise_on_error=False)
        if status != "Finished":
            raise SystemExit(f"run {run.id} ended {status}: {run.get_details()}")
        found.append(
            decision_time(ws.path / "runs" / run.id / "driver.log", run.id, "count")
        )
    return found


def rate(total_bytes: int, seconds: float | None) -> str:
    if seconds is None:
        return "not installed"
    return f"{seconds:7.2f} s  {total_bytes / GIB / seconds:6.2f} GiB/s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--file-mib", type=int, default=256)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    if args.file_mib * MIB % BLOCK:
        parser.error(f"--file-mib must be a multiple of {BLOCK // MIB}")
    root = Path(tempfile.mkdtemp(prefix="dataferry-reuse-", dir=args.workdir))
    os.environ["DATAFERRY_HOME"] = str(root / "home")  # keep the user's index clean
    try:
        return bench(root, args.files, args.file_mib)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench(root: Path, files: int, file_mib: int) -> int:
    from dataferry import Workspace
    from dataferry.storage.hashing import RACY_S

    ws = Workspace.create("reuse-bench", root / "project", show_output=False)
    store = ws.get_default_datastore()
    data = Path(store.location.root) / "big"
    total = files * file_mib * MIB
    print(
        f"input: {files} files x {file_mib} MiB = {total / GIB:.1f} GiB of random bytes"
    )
    print(
        f"generated in {generate(data, files, file_mib):.1f} s; cpus: {os.cpu_count()}"
    )
    written = time.time()
    paths = sorted(str(p) for p in data.iterdir())

    tools = reference_tools(paths)
    own = dataferry_hashing(store.location, paths)
    # a file modified less than RACY_S ago is hashed but not cached: let them settle
    time.sleep(max(0.0, written + RACY_S - time.time()))
    code = root / "code"
    code.mkdir()
    (code / "count.py").write_text(textwrap.dedent(STEP).lstrip())
    (first_s, first_why), (second_s, second_why) = run_twice(ws, code)
    ws.close()

    print("\nhashing the input (page cache warm for every line):")
    print(f"  {'dataferry, first run (time to decide)':40} {rate(total, first_s)}")
    print(f"  {'dataferry hashing function alone':40} {rate(total, own)}")
    for name, seconds in tools.items():
        print(f"  {name:40} {rate(total, seconds)}")
    print(f"\nfirst run:  {first_why}")
    print(f"second run: {second_why}")
    met = second_why.startswith("reused from run") and second_s < TARGET_DECIDE_S
    verdict = "met" if met else "NOT met"
    ms = second_s * 1000
    target = f"target < {TARGET_DECIDE_S:.0f} s: {verdict}"
    print(f"time to decide reuse: {ms:.0f} ms ({target})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
