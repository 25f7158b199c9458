"""Benchmark: ``dataferry runs list`` with 1,000 runs in the catalog.

A new workspace is filled through the catalog's own API (``RunStore``), as the driver
fills it: each run has ``--steps`` step runs that move NotStarted -> Preparing ->
Running and commit (an output and its lineage row each, through ``commit_step``), with
their events; the run moves NotStarted -> Running -> Finished (every tenth Failed, its
last step failing). Runs go to ``--experiments`` experiments in turn.

Then each command runs ``--repeat`` times as a whole process (``python -m
dataferry.cli``, the interpreter start included) and its median wall time is printed:
``runs list``, ``runs list --json``, ``runs list -e EXP`` and ``runs list -n 1000``
(every run). Target: the first three under 0.3 s. The bare interpreter start
(``python -c pass``) and ``dataferry --help`` are printed for comparison. Next to
the wall time, the CPU time (user + system) of the process: on a shared machine the
wall time swings with the load, the CPU time much less.

Filling takes a few minutes (every move is a transaction of its own, as in a run):
``--workdir DIR`` keeps the workspace in ``DIR/project`` and a later run with the same
``DIR`` times it again without refilling.

Usage::

    .venv/bin/python benchmarks/runs_list.py [--runs 1000] [--steps 3] [--repeat 7]
        [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.3


def fill(project: Path, runs: int, steps: int, experiments: int) -> None:
    """A workspace in ``project`` holding ``runs`` finished (or failed) runs."""
    from dataferry import Workspace
    from dataferry.catalog import now
    from dataferry.catalog.run_store import RunStore
    from dataferry.catalog.status import RunStatus, StepStatus
    from dataferry.catalog.step_commit import StepCommit

    ws = Workspace.create("bench", project, show_output=False)
    store = RunStore(ws.catalog)
    names = [f"step{k}" for k in range(steps)]
    nodes = [
        {"node_id": f"n{k}", "name": n, "upstream": [f"n{k - 1}"] if k else []}
        for k, n in enumerate(names)
    ]
    for i in range(runs):
        run_id = f"run-{i:05d}-{'abcdef'[i % 6]}"
        ids = [(f"{run_id}-s{k}", f"n{k}", n) for k, n in enumerate(names)]
        store.create_run(
            run_id,
            f"exp{i % experiments}",
            {"nodes": nodes},
            parameters={"alpha": i},
            options={"run_type": "azureml.PipelineRun"},
            tags={"team": "ml"},
            description=None,
            steps=ids,
        )
        store.move_run(run_id, RunStatus.RUNNING, started_at=now())
        failed = i % 10 == 9
        for k, (step_id, _node, name) in enumerate(ids):
            store.move_step(step_id, StepStatus.PREPARING, started_at=now())
            store.move_step(step_id, StepStatus.RUNNING)
            if failed and k == steps - 1:
                store.move_step(step_id, StepStatus.FAILED, exit_code=1, ended_at=now())
                continue
            out = {
                "name": "out",
                "datastore": "workspaceblobstore",
                "path": f"runs/{run_id}/{name}/out",
                "mode": "mount",
                "size_bytes": 1024,
                "file_count": 1,
                "signatures": {},
            }
            lineage = {"role": "output", "name": "out", "path": out["path"]}
            store.commit_step(
                StepCommit(step_id, run_id, 0, outputs=[out], lineage=[lineage])
            )
        end = RunStatus.FAILED if failed else RunStatus.FINISHED
        store.move_run(
            run_id, end, ended_at=now(), error=f"{names[-1]} failed" if failed else None
        )
    ws.close()


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_s(argv: list[str], repeat: int) -> tuple[float, float]:
    """The median wall and CPU time of ``argv`` as a process (checked to exit 0),
    after one run that is not counted (it writes the bytecode caches a user has)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    walls, cpus = [], []
    for _ in range(repeat):
        cpu = _children_cpu_s()
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        walls.append(time.perf_counter() - start)
        cpus.append(_children_cpu_s() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def timed(project: Path, repeat: int) -> bool:
    """Print each command's figures; True if one the target covers is over it."""
    cli = [sys.executable, "-m", "dataferry.cli", "-w", str(project)]
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "dataferry --help": [*cli, "--help"],
        "runs list": [*cli, "runs", "list"],
        "runs list --json": [*cli, "runs", "list", "--json"],
        "runs list -e exp1": [*cli, "runs", "list", "-e", "exp1"],
        "runs list -n 1000": [*cli, "runs", "list", "-n", "1000"],
    }
    over = False
    for label, argv in cases.items():
        wall, cpu = median_s(argv, repeat)
        mark = ""
        if label.startswith("runs list") and "-n" not in label:
            mark = "  ok" if wall < TARGET_S else f"  OVER {TARGET_S} s"
            over = over or wall >= TARGET_S
        print(
            f"{label:<20} {wall * 1000:6.0f} ms wall {cpu * 1000:6.0f} ms CPU"
            f" (medians of {repeat}){mark}"
        )
    return over


def main() -> int:
    """Fill a workspace, time the commands, print the figures; 1 if over target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--experiments", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="keep (and reuse) the workspace")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory())
        )
        project = workdir / "project"
        if not project.exists():
            start = time.perf_counter()
            fill(project, args.runs, args.steps, args.experiments)
            print(f"filled {args.runs} runs in {time.perf_counter() - start:.1f} s")
        over = timed(project, args.repeat)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
