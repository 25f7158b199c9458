"""Benchmark: issue 12's figures, on SQLite and on PostgreSQL 15 (started here on
loopback, as the tests start it).

Per database it prints:

* registrations per second (save a dataset + register a version of one name), from
  one process and from 8 processes at once; the 8-process round registers ``--regs``
  (1,000) versions of one name, which must come out exactly 1..N;
* step commits per second (``RunStore.commit_step`` of a Running step: output row,
  lineage, Finished, its events, in one transaction), from one process and from 8;
* 8 processes submitting ``--runs`` (50) one-step runs each through
  ``Pipeline.submit`` to one workspace and waiting for them: every run must finish,
  with its output committed exactly once;
* the wall time of one run of ``--steps`` (200) trivial steps (independent
  ``PythonScriptStep``s writing nothing), from submit to Finished.

Usage::

    .venv/bin/python benchmarks/catalog_rates.py [--only sqlite] [--runs 50]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1] / "tests" / p) for p in ("catalog", "")
]

import races  # noqa: E402
from servers.postgres import running_postgres  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from dataferry import (  # noqa: E402
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
    Workspace,
)
from dataferry.catalog import SqlCatalog  # noqa: E402
from dataferry.catalog.run_store import RunStore  # noqa: E402
from dataferry.catalog.schema import outputs  # noqa: E402
from dataferry.catalog.status import StepStatus  # noqa: E402
from dataferry.catalog.step_commit import StepCommit  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

PROCESSES = 8


def _rate(label: str, count: int, took: float) -> None:
    print(f"  {label}: {count} in {took:.2f} s = {count / took:.0f}/s", flush=True)


def registrations(new_url: Callable[[], str], single: int, regs: int) -> bool:
    """Registrations/s from one process, then from 8 on a fresh catalog, whose
    versions must be exactly 1..regs."""
    url = new_url()
    start = time.perf_counter()
    for i in range(single):
        races.register(url, 99, i)
    _rate("registrations, 1 process", single, time.perf_counter() - start)
    races.close_all()
    url, before = new_url(), 0
    per = regs // PROCESSES
    start = time.perf_counter()
    outcomes = races.race([url], races.register, processes=PROCESSES, tries=per)
    _rate(f"registrations, {PROCESSES} processes", regs, time.perf_counter() - start)
    cat = SqlCatalog(url)
    versions = [v.version for v in cat.list_versions("shared")]
    cat.close()
    exact = sorted(versions) == list(range(1, before + regs + 1))
    print(
        f"    outcomes {dict(outcomes)}; versions exactly 1..{before + regs}: {exact}"
    )
    return exact and outcomes == {"ok": regs}


def _running_steps(url: str, count: int, processes: int) -> None:
    """Runs ``r{i}-{n}`` with step ``s{i}-{n}``, moved to Running."""
    races.make_runs(url, count, processes)
    store = RunStore(races.catalog(url))
    ids = [(f"s{i}-{n}", {}) for i in range(count) for n in range(processes)]
    store.move_steps(StepStatus.RUNNING, ids)
    races.close_all()


def commit(url: str, index: int, i: int) -> str:
    """Commit step ``s{i}-{index}`` with one output."""
    row = {
        "name": "out",
        "datastore": "ds",
        "path": f"runs/{i}-{index}/out",
        "mode": "upload",
        "size_bytes": 10,
        "file_count": 1,
        "signatures": {},
    }
    RunStore(races.catalog(url)).commit_step(
        StepCommit(f"s{i}-{index}", f"r{i}-{index}", 0, outputs=[row])
    )
    return "ok"


def step_commits(new_url: Callable[[], str], count: int) -> bool:
    """Step commits/s from one process and from 8."""
    url = new_url()
    _running_steps(url, count, 1)
    start = time.perf_counter()
    for i in range(count):
        commit(url, 0, i)
    _rate("step commits, 1 process", count, time.perf_counter() - start)
    races.close_all()
    url = new_url()
    per = count // PROCESSES
    _running_steps(url, per, PROCESSES)
    start = time.perf_counter()
    outcomes = races.race([url], commit, processes=PROCESSES, tries=per)
    _rate(
        f"step commits, {PROCESSES} processes",
        per * PROCESSES,
        time.perf_counter() - start,
    )
    return outcomes == {"ok": per * PROCESSES}


_TRIVIAL = "import sys\nopen(sys.argv[-1] + '/done', 'w').write('x')\n"


def _steps_folder(folder: Path) -> Path:
    steps = folder / "steps"
    steps.mkdir(exist_ok=True)
    (steps / "write.py").write_text(_TRIVIAL)
    (steps / "noop.py").write_text("pass\n")
    return steps


def _submit_many(
    folder: str, index: int, runs: int, results: multiprocessing.Queue
) -> None:
    try:
        ws = Workspace.from_config(folder)
        ids = []
        for _i in range(runs):
            out = OutputFileDatasetConfig(name="out")
            step = PythonScriptStep(
                "write.py",
                name="write",
                arguments=[out],
                source_directory=str(Path(folder) / "steps"),
                allow_reuse=False,
            )
            with contextlib.redirect_stdout(io.StringIO()):
                ids.append(Pipeline(ws, steps=[step]).submit(f"p{index}").id)
        from dataferry.execution.views import wait_for_status

        results.put([wait_for_status(ws, r, timeout_s=1800) for r in ids])
    except BaseException as exc:
        results.put([f"{type(exc).__name__}: {exc}"])


def submissions(url: str, folder: Path, runs: int) -> bool:
    """8 processes submit ``runs`` one-step runs each; all Finished, outputs once."""
    Workspace.create("rates", folder, show_output=False, catalog_url=url).close()
    _steps_folder(folder)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    start = time.perf_counter()
    procs = [
        ctx.Process(target=_submit_many, args=(str(folder), n, runs, results))
        for n in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    statuses = [s for _ in procs for s in results.get(timeout=3600)]
    for proc in procs:
        proc.join()
    took = time.perf_counter() - start
    finished = statuses.count("Finished")
    cat = SqlCatalog(url)
    with cat.read() as conn:
        rows = conn.execute(
            select(outputs.c.step_run_id, func.count()).group_by(outputs.c.step_run_id)
        ).all()
    cat.close()
    once = len(rows) == PROCESSES * runs and all(n == 1 for _, n in rows)
    print(
        f"  {PROCESSES} processes x {runs} runs: {finished} of {len(statuses)} Finished"
        f" in {took:.1f} s ({len(statuses) / took:.1f} runs/s); outputs committed once"
        f" each: {once}",
        flush=True,
    )
    others = sorted({s for s in statuses if s != "Finished"})
    if others:
        print(f"    other outcomes: {others[:5]}")
    return finished == PROCESSES * runs and once


def wide_run(url: str, folder: Path, steps: int) -> None:
    """Wall time of one run of ``steps`` independent trivial steps."""
    ws = Workspace.create("wide", folder, show_output=False, catalog_url=url)
    source = _steps_folder(folder)
    pipeline_steps = [
        PythonScriptStep(
            "noop.py", name=f"s{i}", source_directory=str(source), allow_reuse=False
        )
        for i in range(steps)
    ]
    from dataferry.execution.views import wait_for_status

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        run_id = Pipeline(ws, steps=pipeline_steps).submit("wide").id
    status = wait_for_status(ws, run_id, timeout_s=3600)
    print(
        f"  one run of {steps} trivial steps: {status} in "
        f"{time.perf_counter() - start:.1f} s",
        flush=True,
    )
    ws.close()


def measure(new_url: Callable[[], str], args: argparse.Namespace) -> bool:
    ok = registrations(new_url, args.single, args.regs)
    ok &= step_commits(new_url, args.commits)
    with tempfile.TemporaryDirectory() as folder:
        ok &= submissions(new_url(), Path(folder) / "subs", args.runs)
        wide_run(new_url(), Path(folder) / "wide", args.steps)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--single", type=int, default=300)
    parser.add_argument("--regs", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=400)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}, {os.cpu_count()} cores")
    ok = True
    if args.only != "postgresql":
        print("SQLite", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            count = iter(range(1_000_000))

            def sqlite_url() -> str:
                url = f"sqlite:///{folder}/c{next(count)}.db"
                SqlCatalog(url).close()
                return url

            ok &= measure(sqlite_url, args)
    if args.only != "sqlite":
        print("PostgreSQL 15", flush=True)
        with running_postgres() as server:
            server.execute('CREATE DATABASE "migrated"')
            SqlCatalog(server.url("migrated")).close()
            ok &= measure(lambda: server.create_database("migrated"), args)
    print(f"load average at end: {os.getloadavg()}")
    print("all checks held" if ok else "SOME CHECK FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
