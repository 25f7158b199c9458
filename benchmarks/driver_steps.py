"""Benchmark: the driver's own work per step, and for a fully reused run.

Everything the driver imports is imported first, and each run is created by a real
``Pipeline.submit`` whose driver is *not* started (``start_driver`` is replaced by a
function that returns this process's pid). ``driver.main`` then drives the run in this
process, so what is timed is the driver's work alone: no interpreter start, no imports.

The pipelines are chains of ``PythonScriptStep``s: step 1 writes a small file into an
``OutputFileDatasetConfig``; each next step reads it through ``.as_input()`` and writes
another (the step script does not import dataferry). Each round uses a fresh workspace
and drives, in order: the 3-step chain cold, the same again (every step reused), the
``--chain``-step chain cold (default 20) and again reused.

Per driven run it reports, from ``driver.main``'s start and end, the ``events`` table
(``time`` of each row) and the last line each step prints (its ``time.time()`` as it
exits):

* ``main``: ``driver.main`` start to return (the run's terminal status is written just
  before), wall and CPU (this process: user + system, all threads);
* ``start->Running``: ``driver.main`` start to the run's Running event;
* ``gap``: per step after the first, the previous step's exit to this step's Running
  event (the commit of the previous step, the scheduling, preparing and starting this
  one); ``commit``: a step's exit to its Finished event; ``prep``: a step's Preparing
  event to its Running (or, reused, Finished) event: the reuse decision and binding;
* ``end``: the last step's Finished event to the run's terminal event;
* ``tx``: catalog transactions (``BEGIN``) the driver issued, and per step: the
  marginal ``(tx(chain) - tx(3)) / (chain - 3)``; likewise the marginal driver CPU and
  wall per executed step.

Budgets: driver-side work per executed step (the marginal wall less the step's own
process) <= 6 ms, shown as ``gap`` and the marginal CPU; a fully reused 3-step run <= 30
ms from ``driver.main`` start to return. Figures are the median over ``--repeat``
rounds after one untimed warm-up round. The catalog's engine (its compiled statements)
is kept from run to run, as a driver forked from a process that had the workspace open
finds it; ``--fresh-engine`` makes a new one for every run, as a spawned driver does.
``--profile N`` prints the N costliest
functions (cumulative) of one more cold chain run under ``cProfile``.

Usage::

    .venv/bin/python benchmarks/driver_steps.py [--repeat 5] [--chain 20]
        [--profile 30] [--fresh-engine] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import logging
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep, Workspace
from dataferry.catalog import sql_catalog
from dataferry.catalog.run_store import RunStore
from dataferry.execution import driver, driver_start
from dataferry.execution.run_layout import stdout_path, step_dir

SHORT = 3
EXPERIMENT = "driver-steps"
BUDGET_STEP_S = 0.006
BUDGET_REUSED_S = 0.030

# one step: reads n from the previous step's folder (if any), writes n + 1 into its
# own, and prints the time it ends (the last thing it does)
LINK = """\
import os, sys, time
src, out = (sys.argv[1], sys.argv[2]) if len(sys.argv) > 2 else (None, sys.argv[1])
n = int(open(os.path.join(src, "n.txt")).read()) + 1 if src else 0
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "n.txt"), "w") as fh:
    fh.write(str(n))
print(repr(time.time()), flush=True)
"""

_BEGINS = [0]
FRESH_ENGINE = False


@event.listens_for(Engine, "begin")
def _count_begin(_conn: Any) -> None:
    _BEGINS[0] += 1


@dataclass
class Driven:
    """What one driven run measured (seconds, transactions)."""

    wall: float
    cpu: float
    tx: int
    to_running: float
    end: float
    gaps: list[float] = field(default_factory=list)
    commits: list[float] = field(default_factory=list)
    preps: list[float] = field(default_factory=list)


def _submit(ws: Workspace, length: int) -> str:
    """Create a run of the chain as ``submit`` does, with no driver started."""
    steps, previous = [], None
    for i in range(length):
        out = OutputFileDatasetConfig(name=f"n{i}")
        args = [previous.as_input(f"in{i}"), out] if previous is not None else [out]
        steps.append(
            PythonScriptStep(
                "link.py", name=f"step{i}", arguments=args, source_directory="steps"
            )
        )
        previous = out
    os.environ["DATAFERRY_AGENT"] = "0"  # recorded here, by this process
    started = driver_start.start_driver
    driver_start.start_driver = lambda _folder, _run_id: os.getpid()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # "Submitted PipelineRun ..."
            return str(Pipeline(ws, steps=steps).submit(EXPERIMENT).id)
    finally:
        driver_start.start_driver = started


def _drive(folder: Path, run_id: str, profiler: cProfile.Profile | None) -> Driven:
    """Run ``driver.main`` on ``run_id`` here; measure it and read its events."""
    if FRESH_ENGINE:
        sql_catalog._ENGINES.clear()
    begins = _BEGINS[0]
    start_epoch = time.time()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    code = driver.main([str(folder), run_id])
    if profiler is not None:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    tx = _BEGINS[0] - begins
    for handler in list(logging.getLogger("dataferry").handlers):  # main adds one
        logging.getLogger("dataferry").removeHandler(handler)
        handler.close()
    if code != 0:
        raise SystemExit(f"run {run_id} did not finish (driver exit {code})")
    return _read_events(folder, run_id, start_epoch, wall, cpu, tx)


def _read_events(
    folder: Path, run_id: str, start: float, wall: float, cpu: float, tx: int
) -> Driven:
    ws = Workspace(path=folder)
    store = RunStore(ws.catalog)
    events = store.events_since(run_id, limit=100_000)
    # the chain's order: step0, step1, ...
    records = sorted(store.step_runs(run_id), key=lambda r: int(r.step_name[4:]))
    order = [r.id for r in records]
    seen: dict[tuple[str | None, str], float] = {}
    for e in events:
        seen.setdefault((e.step_run_id, str(e.payload.get("to"))), e.time.timestamp())
    ended = {s: _exit_time(ws, run_id, s) for s in order}
    out = Driven(
        wall,
        cpu,
        tx,
        seen[(None, "Running")] - start,
        seen[(None, "Finished")] - seen[(order[-1], "Finished")],
    )
    for i, s in enumerate(order):
        began = seen.get((s, "Running"), seen[(s, "Finished")])
        out.preps.append(began - seen[(s, "Preparing")])
        if ended[s] is not None:
            out.commits.append(seen[(s, "Finished")] - ended[s])
        previous = ended[order[i - 1]] if i else None
        if previous is not None and (s, "Running") in seen:
            out.gaps.append(seen[(s, "Running")] - previous)
    ws.close()
    return out


def _exit_time(ws: Workspace, run_id: str, step_run_id: str) -> float | None:
    """The time a step printed as it ended; None for a reused step (it printed none)."""
    path = stdout_path(step_dir(ws, run_id, step_run_id))
    try:
        lines = path.read_text().split()
    except OSError:
        return None
    return float(lines[-1]) if lines else None


def _workspace(root: Path, name: str) -> Path:
    folder = root / name
    (folder / "steps").mkdir(parents=True)
    (folder / "steps" / "link.py").write_text(LINK)
    Workspace.create("driver-steps", folder, show_output=False).close()
    return folder


def _round(
    root: Path, name: str, chain: int, profiler: cProfile.Profile | None = None
) -> dict[str, Driven]:
    folder = _workspace(root, name)
    here = Path.cwd()
    os.chdir(folder)  # ``source_directory="steps"`` is relative to it
    try:
        ws = Workspace(path=folder)
        results = {}
        for length in (SHORT, chain):
            for phase in ("cold", "reused"):
                run_id = _submit(ws, length)
                use = profiler if phase == "cold" and length == chain else None
                results[f"{length} {phase}"] = _drive(folder, run_id, use)
        ws.close()
    finally:
        os.chdir(here)
    return results


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{1000 * statistics.median(values):7.1f}"


def report(rounds: list[dict[str, Driven]], chain: int) -> None:
    """Print the median of every figure over the rounds, then the budgets."""
    print(f"median of {len(rounds)} rounds, milliseconds (tx: transactions)")
    head = "run            main wall  main cpu  start->Running   gap  commit"
    print(head + "    prep     end   tx")
    for key in rounds[0]:
        runs = [r[key] for r in rounds]
        print(
            f"{key:<14} {_ms([r.wall for r in runs])}  {_ms([r.cpu for r in runs])}"
            f"  {_ms([r.to_running for r in runs]):>14}"
            f" {_ms([g for r in runs for g in r.gaps])}"
            f" {_ms([c for r in runs for c in r.commits])}"
            f" {_ms([p for r in runs for p in r.preps])}"
            f" {_ms([r.end for r in runs])}"
            f" {statistics.median(r.tx for r in runs):4.0f}"
        )
    span = chain - SHORT
    per_step = {
        "wall": [
            (r[f"{chain} cold"].wall - r[f"{SHORT} cold"].wall) / span for r in rounds
        ],
        "cpu": [
            (r[f"{chain} cold"].cpu - r[f"{SHORT} cold"].cpu) / span for r in rounds
        ],
    }
    tx = [(r[f"{chain} cold"].tx - r[f"{SHORT} cold"].tx) / span for r in rounds]
    reused_tx = [
        (r[f"{chain} reused"].tx - r[f"{SHORT} reused"].tx) / span for r in rounds
    ]
    gap = statistics.median(g for r in rounds for g in r[f"{chain} cold"].gaps)
    reused = statistics.median(r[f"{SHORT} reused"].wall for r in rounds)
    print(
        f"marginal executed step: wall {_ms(per_step['wall'])} ms (with its process), "
        f"driver cpu {_ms(per_step['cpu'])} ms, "
        f"{statistics.median(tx):.1f} transactions"
    )
    print(f"marginal reused step: {statistics.median(reused_tx):.1f} transactions")
    print(
        f"driver work per executed step (gap): {1000 * gap:.1f} ms, budget "
        f"{1000 * BUDGET_STEP_S:.0f} ms: {'met' if gap <= BUDGET_STEP_S else 'MISSED'}"
    )
    print(
        f"fully reused {SHORT}-step run: {1000 * reused:.1f} ms, budget "
        f"{1000 * BUDGET_REUSED_S:.0f} ms: "
        f"{'met' if reused <= BUDGET_REUSED_S else 'MISSED'}"
    )


def main() -> None:
    """Parse the arguments, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chain", type=int, default=20)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--fresh-engine", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    global FRESH_ENGINE
    FRESH_ENGINE = args.fresh_engine
    if args.chain <= SHORT:
        parser.error(f"--chain must be over {SHORT}")
    root = Path(tempfile.mkdtemp(prefix="driver-steps-", dir=args.workdir))
    try:
        _round(root, "warm-up", SHORT + 1)
        rounds = [_round(root, f"r{i}", args.chain) for i in range(args.repeat)]
        report(rounds, args.chain)
        if args.profile:
            profiler = cProfile.Profile()
            _round(root, "profiled", args.chain, profiler)
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.sort_stats("cumulative").print_stats(args.profile)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
