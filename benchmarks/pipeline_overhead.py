"""Benchmark: what a trivial pipeline costs from ``python pipeline.py`` to its exit.

Part 1 times whole processes, from their start to their exit, side by side in one run:

* **dataferry**: ``python pipeline.py`` builds a chain of ``PythonScriptStep``s, submits
  it and waits for it. Step 1 writes a small file into an ``OutputFileDatasetConfig``;
  each next step reads it through ``.as_input()`` and writes another. *Cold*: the first
  run in a fresh workspace (created beforehand, not timed), so every step runs. *Reused*:
  the same ``pipeline.py`` again in the same workspace; every step must be reused.
* **Kedro**: the same chain as Kedro nodes in one ``python pipeline.py`` run by its
  ``SequentialRunner``, each node's output a local text file in the ``DataCatalog``.
  Kedro skips nothing, so its "reused" run (the second, same folder) reruns every node.
* **DVC**: the same chain as stages of a ``dvc.yaml`` (each runs the step script with
  the interpreter dataferry's steps run with), in a git-initialised folder. *Cold*: the
  first ``dvc repro``; *reused*: the second, nothing changed, so every stage is skipped.
* **bare**: ``python -c pass`` started N times one after the other, N = the steps of
  the pipeline: the floor for any runner that starts one interpreter per step.

Each is measured for the 3-step pipeline and a ``--chain``-step one (default 20).
Every run is checked (the chain's last file holds N - 1; dataferry's steps ran, or were
all reused). One untimed round goes first (page cache, ``.pyc`` files); then
``--repeat`` rounds, the tools rotated each round so that drift hits them alike.
Figures: best and median; the verdicts use the median.

Targets: the 3-step pipeline cold <= 0.3 s and reused <= 0.15 s, each ahead of every
peer measured; and the per-step overhead over the bare interpreter start <= 20 ms::

    per-step overhead = (T(dataferry, chain, cold) - T(bare x chain)) / chain

the whole-process time of the cold chain less that of starting the bare interpreter
once per step, shared out over the steps: every fixed cost (imports in the submitting
script, starting the driver, waiting) is included. The marginal cost of one more step,
(T(chain) - T(3 steps)) / (chain - 3) - T(bare x 1), is printed for information.

Part 2 times the phases of a large pipeline in this process: constructing the steps,
``Pipeline()``, ``validate()`` and ``submit()`` (until it returns; the run is then
cancelled at once and waited for, not timed), for a chain (each step reads the previous
step's output) and a fan-out (one step's output read by every other step), at
``--sizes`` steps (default 1,000 and 10,000; sizes over 10,000, and 100,000 by
default, only with ``--large``: they may take minutes). A 10-step pipeline of each shape
is measured too: its total is the fixed cost of submitting (the snapshot, the run's
first rows, starting the driver), and the time *per added step* at N steps is
(total(N) - total(10)) / (N - 10). Targets: steps + ``Pipeline()`` + ``validate()`` +
``submit()`` under 1 s at 10,000 steps, and linear growth: the CPU time per added step
at the largest size at most 1.5x that at the smallest. Each figure is the best of
``--scale-repeat`` runs (default 1), after one untimed 10-step warm-up. The time from
``cancel()`` to the run's end is printed for information, and so is *plan*: compiling
the plan and writing its JSON (``PlanCompiler.compile`` and ``Plan.to_json``, the pure
part of ``submit()``), timed on its own just before ``submit()``, not in the total.
Every phase is shown twice: wall time, and the CPU time of this process (on a loaded
machine wall time mostly measures the load; the load average is printed too). The
local agent's own work (recording the run) is in ``submit()``'s wall time only.

Kedro and DVC are installed with pip into their own virtualenv,
``benchmarks/_data/peers`` (never into the project's); one that cannot be installed is
reported and left out. Everything else goes to a temporary folder under
``benchmarks/_data`` (``--workdir`` to choose where), removed at the end.

dataferry submits through its local agent (``execution/agent.py``), one of the
benchmark's own: the first submission starts it, and its time is printed for
information; every measured run finds it running, as a user's runs after the first
do. ``--no-agent`` measures submitting without it. Child processes run with bytecode
caching on, as installed code does.

Usage::

    .venv/bin/python benchmarks/pipeline_overhead.py [--repeat 5] [--chain 20]
        [--sizes 1000,10000] [--large] [--no-peers] [--no-agent]
        [--part overhead|scale|both]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

DATA = Path(__file__).resolve().parent / "_data"
PEERS = DATA / "peers"
SHORT = 3
TARGET_COLD_S = 0.300
TARGET_REUSED_S = 0.150
TARGET_STEP_S = 0.020
TARGET_SCALE_S = 1.0
TARGET_SCALE_AT = 10_000
MAX_GROWTH = 1.5
PHASES = ("steps", "Pipeline()", "validate()", "submit()")  # timed in part 2
INFO = ("plan", "cancel")  # timed in part 2 for information, not in the total
BASELINE = 10  # steps: a pipeline this small shows the fixed cost of submitting
LARGE_FROM = 10_000  # sizes above this need --large
CLEANUP_S = 900.0  # how long a cancelled large run may take to end
EXPERIMENT = "overhead"
KEDRO_VERSION = "import kedro.runner, kedro; print(kedro.__version__)"
LEFT: list[Path] = []  # workspaces of cancelled runs that had not ended: kept

# One step: reads n from the previous step's folder (if any), writes n + 1 into its own.
LINK = """\
import os, sys
src, out = (sys.argv[1], sys.argv[2]) if len(sys.argv) > 2 else (None, sys.argv[1])
n = int(open(os.path.join(src, "n.txt")).read()) + 1 if src else 0
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "n.txt"), "w") as fh:
    fh.write(str(n))
"""

DATAFERRY_PIPELINE = """\
from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep, Workspace

ws = Workspace.from_config()
steps, previous = [], None
for i in range({length}):
    out = OutputFileDatasetConfig(name=f"n{{i}}")
    args = [previous.as_input(f"in{{i}}"), out] if previous is not None else [out]
    steps.append(PythonScriptStep("link.py", name=f"step{{i}}", arguments=args,
                                  source_directory="steps"))
    previous = out
run = Pipeline(ws, steps=steps).submit("{experiment}")
run.wait_for_completion(show_output=False)
"""

KEDRO_PIPELINE = """\
from pathlib import Path

from kedro.io import AbstractDataset, DataCatalog
from kedro.pipeline import node, pipeline
from kedro.runner import SequentialRunner


class TextFile(AbstractDataset):
    def __init__(self, path):
        self._path = Path(path)

    def load(self):
        return self._path.read_text()

    def save(self, data):
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.write_text(data)

    def _describe(self):
        return {{"path": str(self._path)}}


def first():
    return "0"


def link(text):
    return str(int(text) + 1)


catalog = DataCatalog({{f"n{{i}}": TextFile(f"data/n{{i}}.txt") for i in range({length})}})
nodes = [node(first, None, "n0", name="step0")]
nodes += [node(link, f"n{{i - 1}}", f"n{{i}}", name=f"step{{i}}") for i in range(1, {length})]
SequentialRunner().run(pipeline(nodes), catalog)
"""

# -- helpers --------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _quietly(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` with stdout silenced (``submit`` prints the run id)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def _run(argv: list[str], cwd: Path) -> str:
    """Run ``argv`` in ``cwd``; its stdout. A failure ends the benchmark with its output."""
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} in {cwd} exited {done.returncode}:\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def _remove(folder: Path) -> None:
    """Remove a project folder, retrying while a run's driver is still closing its catalog.

    A run's status turns final a few milliseconds before its driver exits, and the
    driver of ``python pipeline.py`` is not this process's child, so it cannot be waited
    for: a file it deletes as it closes may vanish under ``rmtree``.
    """
    for _ in range(50):
        try:
            shutil.rmtree(folder)
            return
        except OSError:  # vanished, or a file appeared meanwhile
            time.sleep(0.1)
    shutil.rmtree(folder)


def _reap_children(timeout_s: float) -> bool:
    """Wait for every child of this process (the drivers ``submit`` started) to exit.

    True once none is left; False if one still runs after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            time.sleep(0.05)
    return False


def _expect_chain_end(path: Path, length: int, tool: str) -> None:
    found = path.read_text() if path.exists() else "(missing)"
    if found != str(length - 1):
        raise SystemExit(f"{tool}: {path} holds {found!r}, expected {length - 1}")


# -- the tools ------------------------------------------------------------------------


@dataclass
class Tool:
    """How to set up a fresh project (not timed), run it (timed), and check the run."""

    name: str
    prepare: Callable[[Path, int], None]
    run: Callable[[Path, int], str]
    check: Callable[[Path, int, str, bool], None]


def _dataferry_prepare(folder: Path, length: int) -> None:
    from dataferry import Workspace

    (folder / "steps").mkdir(parents=True)
    (folder / "steps" / "link.py").write_text(LINK)
    text = DATAFERRY_PIPELINE.format(length=length, experiment=EXPERIMENT)
    (folder / "pipeline.py").write_text(text)
    Workspace.create("overhead", folder, show_output=False).close()


def _dataferry_check(folder: Path, length: int, out: str, reused: bool) -> None:
    """Every step Finished, and all reused (or none) as the phase expects."""
    from dataferry import Experiment, PipelineRun, Workspace

    run_id = out.rsplit("Submitted PipelineRun ", 1)[-1].split()[0]
    ws = Workspace.from_config(folder)
    try:
        steps = PipelineRun(Experiment(ws, EXPERIMENT), run_id).get_steps()
        details = [s.get_details() for s in steps]
    finally:
        ws.close()
    wrong = [
        d["name"]
        for d in details
        if d["status"] != "Finished" or (d["reusedFrom"] is not None) != reused
    ]
    if len(details) != length or wrong:
        raise SystemExit(
            f"dataferry run {run_id}: expected {length} steps "
            f"{'reused' if reused else 'run'}, wrong: {wrong or len(details)}"
        )


def dataferry_tool() -> Tool:
    return Tool(
        "dataferry",
        _dataferry_prepare,
        lambda folder, _n: _run([sys.executable, "pipeline.py"], folder),
        _dataferry_check,
    )


def _kedro_prepare(folder: Path, length: int) -> None:
    folder.mkdir(parents=True)
    (folder / "pipeline.py").write_text(KEDRO_PIPELINE.format(length=length))


def _kedro_check(folder: Path, length: int, _out: str, _reused: bool) -> None:
    _expect_chain_end(folder / "data" / f"n{length - 1}.txt", length, "kedro")


def kedro_tool() -> Tool:
    python = str(PEERS / "bin" / "python")
    return Tool(
        "kedro (reruns all)",
        _kedro_prepare,
        lambda folder, _n: _run([python, "pipeline.py"], folder),
        _kedro_check,
    )


def _dvc_yaml(length: int) -> str:
    lines = ["stages:"]
    for i in range(length):
        reads = [f"n{i - 1}"] if i else []
        lines += [
            f"  step{i}:",
            f"    cmd: {' '.join([sys.executable, 'link.py', *reads, f'n{i}'])}",
            f"    deps: [{', '.join(['link.py', *reads])}]",
            f"    outs: [n{i}]",
        ]
    return "\n".join(lines) + "\n"


def _dvc_prepare(folder: Path, length: int) -> None:
    folder.mkdir(parents=True)
    dvc = str(PEERS / "bin" / "dvc")
    _run(["git", "init", "-q"], folder)
    _run([dvc, "init", "-q"], folder)
    _run([dvc, "config", "core.analytics", "false"], folder)
    (folder / "link.py").write_text(LINK)
    (folder / "dvc.yaml").write_text(_dvc_yaml(length))


def _dvc_check(folder: Path, length: int, out: str, reused: bool) -> None:
    _expect_chain_end(folder / f"n{length - 1}" / "n.txt", length, "dvc")
    ran = out.count("Running stage")
    if ran != (0 if reused else length):
        raise SystemExit(f"dvc repro ran {ran} stages, reused={reused}:\n{out}")


def dvc_tool() -> Tool:
    dvc = str(PEERS / "bin" / "dvc")
    return Tool(
        "dvc (dvc repro)",
        _dvc_prepare,
        lambda folder, _n: _run([dvc, "repro"], folder),
        _dvc_check,
    )


def _bare_run(_folder: Path, length: int) -> str:
    for _ in range(length):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    return ""


def bare_tool() -> Tool:
    return Tool(
        "python -c pass x N",
        lambda folder, _n: folder.mkdir(parents=True),
        _bare_run,
        lambda *_: None,
    )


# -- the peers' virtualenv ------------------------------------------------------------


def install_peers() -> list[Tool]:
    """Kedro and DVC from PyPI into ``benchmarks/_data/peers``; the ones that work.

    Each is installed on its own, so one that fails does not keep the other out; pip's
    output goes to ``benchmarks/_data/peers-install.log``. Each found is named with
    its version.
    """
    python = PEERS / "bin" / "python"
    log = DATA / "peers-install.log"
    DATA.mkdir(parents=True, exist_ok=True)
    venv = [sys.executable, "-m", "venv", str(PEERS)]
    if not python.exists() and _version(venv) is None:
        print(f"no virtualenv could be made at {PEERS}: Kedro and DVC not measured")
        return []
    tools = []
    for package, probe, make in (
        ("kedro", [str(python), "-c", KEDRO_VERSION], kedro_tool),
        ("dvc", [str(PEERS / "bin" / "dvc"), "--version"], dvc_tool),
    ):
        version = _version(probe)
        if version is None:
            print(f"installing {package} into {PEERS} (pip output: {log}) ...")
            with open(log, "a") as fh:
                pip = [str(python), "-m", "pip", "install", "-q", package]
                subprocess.run(pip, stdout=fh, stderr=subprocess.STDOUT, check=False)
            version = _version(probe)
        if version is None:
            print(f"{package} could not be installed (see {log}): not measured")
        else:
            print(f"{package} {version}")
            tools.append(make())
    return tools


def _version(argv: list[str]) -> str | None:
    """The last line ``argv`` prints (Kedro logs on import); None if it fails."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError:
        return None
    lines = done.stdout.strip().splitlines()
    return lines[-1] if done.returncode == 0 and lines else None


# -- part 1: whole processes ----------------------------------------------------------

Samples = dict[tuple[str, int, str], list[float]]


def _one_round(tool: Tool, folder: Path, length: int) -> dict[str, float]:
    """A fresh project, then its cold run and its reused run, each timed and checked."""
    tool.prepare(folder, length)
    found = {}
    for phase, reused in (("cold", False), ("reused", True)):
        started = time.perf_counter()
        out = tool.run(folder, length)
        found[phase] = time.perf_counter() - started
        tool.check(folder, length, out, reused)
    _remove(folder)
    return found


def agent_start(root: Path) -> None:
    """Time the first submission, which starts the local agent (the runs measured
    afterwards find it running, as every submission after a user's first does)."""
    from dataferry.execution.agent_client import stop_agents

    stop_agents()
    folder = root / "agent-start"
    tool = dataferry_tool()
    tool.prepare(folder, SHORT)
    started = time.perf_counter()
    tool.run(folder, SHORT)
    print(
        f"info  first submission, starting the local agent: "
        f"{time.perf_counter() - started:.3f} s ({SHORT} steps cold)"
    )
    _remove(folder)


def measure(tools: list[Tool], lengths: list[int], repeat: int, root: Path) -> Samples:
    samples: Samples = {}
    for rnd in range(-1, repeat):  # round -1 warms up and is not recorded
        shift = max(rnd, 0) % len(tools)
        for tool in tools[shift:] + tools[:shift]:
            for length in lengths:
                folder = root / f"{tool.name.split()[0]}-{length}-{rnd + 1}"
                for phase, seconds in _one_round(tool, folder, length).items():
                    if rnd >= 0:
                        samples.setdefault((tool.name, length, phase), []).append(
                            seconds
                        )
    return samples


def _cell(values: list[float]) -> str:
    return f"{min(values):6.3f} / {statistics.median(values):6.3f}"


def report_overhead(
    samples: Samples, tools: list[Tool], lengths: list[int], repeat: int
) -> bool:
    columns = [(n, phase) for n in lengths for phase in ("cold", "reused")]
    print(
        f"\nPart 1: whole process, start to exit "
        f"(seconds, best / median of {repeat} rounds)"
    )
    head = "".join(f"{f'{n} steps {phase}':>18}" for n, phase in columns)
    print(f"{'':22}{head}")
    for tool in tools:
        cells = "".join(f"{_cell(samples[(tool.name, *c)]):>18}" for c in columns)
        print(f"{tool.name:22}{cells}")

    def med(name: str, length: int, phase: str) -> float:
        return statistics.median(samples[(name, length, phase)])

    print()
    peers = [t.name for t in tools if t.name not in ("dataferry", bare_tool().name)]
    ok = True
    for phase, target in (("cold", TARGET_COLD_S), ("reused", TARGET_REUSED_S)):
        ours = med("dataferry", SHORT, phase)
        passed = ours <= target
        print(
            f"{_verdict(passed)}  {SHORT} steps {phase}: {ours:.3f} s "
            f"(target <= {target:.2f} s)"
        )
        ahead = all(ours < med(p, SHORT, phase) for p in peers)
        theirs = ", ".join(
            f"{p.split()[0]} {med(p, SHORT, phase):.3f} s" for p in peers
        )
        print(
            f"{_verdict(ahead)}  {SHORT} steps {phase} ahead of every peer: "
            f"{ours:.3f} s vs {theirs or 'no peer measured'}"
        )
        ok &= passed and ahead
    return ok & _per_step(med, lengths[-1])


def _per_step(med: Callable[[str, int, str], float], chain: int) -> bool:
    bare = bare_tool().name
    overhead = (med("dataferry", chain, "cold") - med(bare, chain, "cold")) / chain
    passed = overhead <= TARGET_STEP_S
    print(
        f"{_verdict(passed)}  per-step overhead, (T({chain} steps cold) - "
        f"T(python -c pass x {chain})) / {chain} = {overhead * 1000:.1f} ms "
        f"(target <= {TARGET_STEP_S * 1000:.0f} ms)"
    )
    if chain > SHORT:
        extra = med("dataferry", chain, "cold") - med("dataferry", SHORT, "cold")
        marginal = extra / (chain - SHORT) - med(bare, chain, "cold") / chain
        print(
            f"info  one more step, (T({chain}) - T({SHORT})) / {chain - SHORT} - "
            f"T(python -c pass): {marginal * 1000:.1f} ms"
        )
    return passed


# -- part 2: large pipelines ----------------------------------------------------------


def _large_steps(shape: str, size: int, src: Path) -> list[Any]:
    from dataferry import OutputFileDatasetConfig, PythonScriptStep

    first = OutputFileDatasetConfig(name="n0")
    steps = [
        PythonScriptStep(
            "link.py", name="step0", arguments=[first], source_directory=str(src)
        )
    ]
    previous = first
    for i in range(1, size):
        out = OutputFileDatasetConfig(name=f"n{i}")
        args = [previous.as_input(f"in{i}"), out]
        steps.append(
            PythonScriptStep(
                "link.py", name=f"step{i}", arguments=args, source_directory=str(src)
            )
        )
        if shape == "chain":
            previous = out
    return steps


def _plan(pipeline: Any, ws: Any) -> None:
    """What ``submit()`` compiles: the plan and its JSON (the snapshot is taken too),
    with the cyclic garbage collector paused, as ``submit()`` pauses it."""
    from dataferry.execution.plan import PlanCompiler
    from dataferry.pipeline.gc_pause import gc_paused

    with gc_paused():
        PlanCompiler(pipeline, ws, ws.default_datastore_name()).compile().to_json()


def scale_once(root: Path, shape: str, size: int) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds per phase for one ``shape`` pipeline of ``size`` steps, in a
    new workspace."""
    from dataferry import Pipeline, Workspace

    folder = root / f"scale-{shape}-{size}"
    ws = Workspace.create("scale", folder, show_output=False)
    (folder / "steps").mkdir()
    (folder / "steps" / "link.py").write_text(LINK)
    found: dict[str, tuple[float, float]] = {}

    def timed(phase: str, fn: Callable[..., Any], *args: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn(*args)
        found[phase] = (time.perf_counter() - wall, time.process_time() - cpu)
        return result

    steps = timed("steps", _large_steps, shape, size, folder / "steps")
    pipeline = timed("Pipeline()", lambda: Pipeline(ws, steps=steps))
    problems = timed("validate()", pipeline.validate)
    if problems:
        raise SystemExit(f"{shape} of {size} steps: {problems[:5]}")
    timed("plan", _plan, pipeline, ws)
    run = timed("submit()", _quietly, pipeline.submit, EXPERIMENT)
    run.cancel()  # nothing is to run: only submit is measured
    status = timed(  # for information: how long the cancel took
        "cancel",
        lambda: run.wait_for_completion(
            show_output=False, raise_on_error=False, timeout_seconds=CLEANUP_S
        ),
    )
    ws.close()
    ended = status in ("Finished", "Failed", "Canceled") and _reap_children(60.0)
    if ended:
        shutil.rmtree(folder)
    else:
        LEFT.append(folder)  # its driver still uses it: not removed
        print(f"run {run.id} ({status}): its driver still runs; {folder} is kept")
    return found


def _best(root: Path, shape: str, size: int, repeat: int) -> dict[str, list[float]]:
    """Best of ``repeat`` per phase as [wall, CPU], and ``total``: the best sums of
    the phases."""
    runs = [scale_once(root, shape, size) for _ in range(repeat)]
    best = {p: [min(r[p][i] for r in runs) for i in (0, 1)] for p in runs[0]}
    total = [min(sum(r[p][i] for p in PHASES) for r in runs) for i in (0, 1)]
    return {**best, "total": total}


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def scale(root: Path, sizes: list[int], repeat: int) -> bool:
    print(
        f"\nPart 2: large pipelines, seconds per phase, best of {repeat}; {_load()}\n"
        f"  submit() until it returns; per added step = (total - total at {BASELINE}) "
        f"/ (steps - {BASELINE});\n  plan = compile + JSON, timed on its own (also in "
        "submit()); cancel = from cancel() just after submit to the run's end (neither "
        "in the total);\n  each size: a wall-time row, then this process's CPU time"
    )
    print(
        f"{'shape':8}{'steps':>8}{'':5}{'steps':>8}{'Pipeline()':>12}{'validate()':>12}"
        f"{'submit()':>10}{'total':>9}{'per added step':>16}{'plan':>8}{'cancel':>9}"
    )
    scale_once(root, "chain", BASELINE)  # warm-up (imports, first calls): not recorded
    ok = True
    for shape in ("chain", "fan-out"):
        fixed = _best(root, shape, BASELINE, repeat)
        _row(shape, BASELINE, fixed, None)
        per_step: dict[int, float] = {}  # CPU seconds per added step, by size
        for size in sizes:
            found = _best(root, shape, size, repeat)
            _row(shape, size, found, fixed)
            if size == TARGET_SCALE_AT:
                passed = found["total"][0] < TARGET_SCALE_S
                ok &= passed
                print(
                    f"{_verdict(passed)}  {shape}: {size:,} steps built, validated and "
                    f"submitted in {found['total'][0]:.3f} s wall, "
                    f"{found['total'][1]:.3f} s CPU (target < {TARGET_SCALE_S:.0f} s)"
                )
            per_step[size] = _added_per_step(found, fixed, size, 1)
        ok &= _growth(shape, per_step)
    print(f"Part 2 ends; {_load()}")
    return ok


def _added_per_step(
    found: dict[str, Any], fixed: dict[str, Any], size: int, i: int
) -> float:
    """Seconds per step added to the 10-step pipeline: wall (``i`` 0) or CPU (1)."""
    return float(found["total"][i] - fixed["total"][i]) / (size - BASELINE)


def _row(shape: str, size: int, found: dict[str, Any], fixed: Any) -> None:
    widths = (8, 12, 12, 10, 9)
    for i, clock in enumerate(("wall", "cpu")):
        cells = "".join(
            f"{found[p][i]:>{w}.3f}"
            for p, w in zip((*PHASES, "total"), widths, strict=True)
        )
        added = (
            f"{_added_per_step(found, fixed, size, i) * 1e6:10.1f} us" if fixed else ""
        )
        info = "".join(
            f"{found[p][i]:>{w}.3f}" for p, w in zip(INFO, (8, 9), strict=True)
        )
        label = f"{shape:8}{size:>8,}" if i == 0 else " " * 16
        print(f"{label}{clock:>5}{cells}{added:>16}{info}")


def _growth(shape: str, per_step: dict[int, float]) -> bool:
    if len(per_step) < 2:
        print(f"info  {shape}: growth is judged with two sizes or more")
        return True
    small, large = min(per_step), max(per_step)
    ratio = per_step[large] / per_step[small]
    passed = ratio <= MAX_GROWTH
    print(
        f"{_verdict(passed)}  {shape}: CPU time per added step at {large:,} = {ratio:.2f}x "
        f"that at {small:,} (target <= {MAX_GROWTH}x: linear growth)"
    )
    return passed


# -- main -----------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(s) for s in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not sizes or sizes[0] <= BASELINE:
        raise argparse.ArgumentTypeError(f"sizes must be integers over {BASELINE}")
    return sizes


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds of part 1")
    parser.add_argument(
        "--no-agent",
        action="store_true",
        help="submit without the local agent (DATAFERRY_AGENT=0), for comparison",
    )
    parser.add_argument("--chain", type=int, default=20, help="steps of the long chain")
    parser.add_argument("--sizes", type=_sizes, default=None, help="e.g. 1000,10000")
    parser.add_argument("--large", action="store_true", help="allow sizes > 10,000")
    parser.add_argument("--scale-repeat", type=int, default=1, help="runs per size")
    parser.add_argument("--no-peers", action="store_true", help="skip Kedro and DVC")
    parser.add_argument("--part", choices=("overhead", "scale", "both"), default="both")
    parser.add_argument("--workdir", type=Path, default=DATA)
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = [1000, 10_000] + ([100_000] if args.large else [])
    if args.sizes[-1] > LARGE_FROM and not args.large:
        parser.error(f"sizes over {LARGE_FROM:,} may take minutes: add --large")
    if args.repeat < 1 or args.scale_repeat < 1 or args.chain <= SHORT:
        parser.error(f"--repeat and --scale-repeat >= 1, --chain > {SHORT}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="overhead-", dir=args.workdir))
    os.environ["DATAFERRY_HOME"] = str(root / "home")  # keep ~/.dataferry untouched
    # the local agent of this benchmark's own, stopped at its end
    os.environ["DATAFERRY_RUNTIME_DIR"] = str(root / "agents")
    (root / "agents").mkdir(mode=0o700)
    if args.no_agent:
        os.environ["DATAFERRY_AGENT"] = "0"
    # installed code runs from cached bytecode (a shell may have turned caching off)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["DVC_NO_ANALYTICS"] = "1"
    os.environ["DO_NOT_TRACK"] = "1"  # kedro-telemetry's opt-out
    started = time.perf_counter()
    ok = True
    try:
        if args.part in ("overhead", "both"):
            peers = [] if args.no_peers else install_peers()
            print(f"python {sys.version.split()[0]}; cpus {os.cpu_count()}")
            if not args.no_agent:
                agent_start(root)
            tools = [dataferry_tool(), *peers, bare_tool()]
            lengths = [SHORT, args.chain]
            samples = measure(tools, lengths, args.repeat, root)
            ok &= report_overhead(samples, tools, lengths, args.repeat)
        if args.part in ("scale", "both"):
            ok &= scale(root, args.sizes, args.scale_repeat)
    finally:
        from dataferry.execution.agent_client import stop_agents

        stop_agents()
        if LEFT:
            print(f"{root} is kept: drivers of cancelled runs still use it")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(
        f"\ntotal benchmark time {time.perf_counter() - started:.0f} s; "
        f"{'all targets met' if ok else 'some targets missed'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
