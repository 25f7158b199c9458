"""Benchmark: the driver's CPU while it waits for a long step.

Runs a one-step pipeline whose step sleeps ``--seconds`` (60 by default) and measures
the driver process's CPU time (user + system, from ``psutil``) over the wait: from the
moment the step is recorded Running to ``--seconds - 2`` later, so start-up and the
commit stay out of it. The driver should sleep on the step's exit (a pidfd) and wake
only for its bounded checks (a cancel asked for in the catalog, every 0.2 s) and its
heartbeat thread (every 2 s).

Target: under 1 % of one CPU while idle.

Usage::

    .venv/bin/python benchmarks/driver_idle.py [--seconds 60] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

from dataferry import Pipeline, PythonScriptStep, Workspace
from dataferry.catalog.run_store import RunStore

STEP = """
import sys, time
time.sleep(float(sys.argv[1]))
"""


def _wait_running(store: RunStore, run_id: str, timeout_s: float = 60.0) -> int:
    """The driver's pid, once the run's step is recorded Running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = store.get_run(run_id)
        steps = store.step_runs(run_id)
        if run.driver_pid and steps and steps[0].status == "Running":
            return int(run.driver_pid)
        time.sleep(0.05)
    raise SystemExit(f"run {run_id}: its step did not start within {timeout_s} s")


def measure(workdir: Path, seconds: float) -> dict[str, float]:
    """Run the sleeping step; return the driver's CPU seconds over the wait."""
    ws = Workspace.create("idle", workdir / "project", show_output=False)
    code = workdir / "code"
    code.mkdir()
    (code / "sleep.py").write_text(textwrap.dedent(STEP))
    step = PythonScriptStep(
        "sleep.py",
        name="sleep",
        source_directory=str(code),
        arguments=[str(seconds)],
        allow_reuse=False,
    )
    run = Pipeline(ws, steps=[step]).submit("idle")
    pid = _wait_running(RunStore(ws.catalog), run.id)
    driver = psutil.Process(pid)
    window = max(seconds - 2.0, 1.0)
    before, started = driver.cpu_times(), time.monotonic()
    time.sleep(window)
    after, ended = driver.cpu_times(), time.monotonic()
    run.wait_for_completion(show_output=False)
    wall = ended - started
    cpu = (after.user - before.user) + (after.system - before.system)
    return {"wall_s": wall, "cpu_s": cpu, "cpu_percent": 100.0 * cpu / wall}


def main() -> None:
    """Parse the arguments, measure, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="driver-idle-", dir=args.workdir))
    try:
        result = measure(workdir, args.seconds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"driver idle over {result['wall_s']:.1f} s: {result['cpu_s'] * 1000:.0f} ms "
        f"CPU ({result['cpu_percent']:.2f} % of one CPU); target < 1 %"
    )


if __name__ == "__main__":
    main()
