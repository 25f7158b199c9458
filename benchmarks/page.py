"""Benchmark: the page of ``dataferry serve`` in Chromium (Playwright, as the tests).

Measured, each ``--tries`` times (median printed, with the load average):

- first paint and time to a usable view of a 500-step run (its graph has ~1,000
  nodes, so the step table shows first), and the time from pressing "Show graph" to
  the laid-out SVG graph (layout in the Web Worker);
- the SSE delay: a step's Finished committed to the events table (in this process)
  -> its box turning green in the page (a MutationObserver stamps the time);
- opening the last page of a 1 GB log (written, streamed in 8 MiB chunks, into a
  temp folder removed at the end).

The runs are recorded by the catalog without running them (tests/cli/big_run.py).
``--postgres`` measures the SSE delay on PostgreSQL too (LISTEN/NOTIFY), started on
loopback as the tests start it.

Usage::

    .venv/bin/python benchmarks/page.py [--tries 3] [--postgres] [--log-gb 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests")]

from cli.big_run import recorded_run  # noqa: E402
from cli.test_serve import start_server  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from servers.chromium import ARGS, chromium  # noqa: E402

from dataferry import Workspace  # noqa: E402
from dataferry.catalog.run_store import RunStore  # noqa: E402
from dataferry.catalog.status import RunStatus, StepStatus  # noqa: E402

# started before the commit (not awaited: the promise is kept in the page), read after
WATCH_GREEN = """(sel) => { window.greenAt = new Promise((done) => {
  const seen = () => document.querySelector(sel);
  if (seen()) return done(performance.timeOrigin + performance.now());
  new MutationObserver((_, obs) => {
    if (seen()) { obs.disconnect(); done(performance.timeOrigin + performance.now()); }
  }).observe(document.body, { subtree: true, childList: true, attributes: true });
}); }"""


def big_graph(page: Page, url: str, run_id: str) -> tuple[float, float, float]:
    """(first paint, table usable, graph drawn after the toggle), in ms."""
    start = time.perf_counter()
    page.goto(f"{url}/#/run/{run_id}")
    page.wait_for_selector("#step-table tr.step-row >> nth=499")
    usable = (time.perf_counter() - start) * 1000
    paint = page.evaluate(
        "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1"
    )
    start = time.perf_counter()
    page.click("#graph-toggle")
    page.wait_for_selector("#graph g.step >> nth=499", state="attached")
    return paint, usable, (time.perf_counter() - start) * 1000


def sse_delay(page: Page, ws: Workspace, url: str, run_id: str, step: str) -> float:
    """ms from a step's Finished committed to its box drawn green."""
    page.goto(f"{url}/#/run/{run_id}")
    page.wait_for_selector(f'g.step[data-name="{step}"][data-status="NotStarted"]')
    page.wait_for_selector("#live.on")
    sel = f'g.step[data-name="{step}"][data-status="Finished"] rect[fill="#66bb6a"]'
    page.evaluate(WATCH_GREEN, sel)
    store = RunStore(ws.catalog)
    (record,) = [s for s in store.step_runs(run_id) if s.step_name == step]
    committed = time.time() * 1000
    store.move_step(record.id, StepStatus.FINISHED)
    return float(page.evaluate("window.greenAt")) - committed


def log_run(ws: Workspace, folder: Path, size: int, tmp: Path) -> str:
    """A recorded run whose step ``s0`` has a finished stdout of ``size`` bytes."""
    run_id = recorded_run(ws, tmp, 1)
    folder.mkdir(parents=True)
    line = b"".join(
        b"log line %07d of a big step, padded to be long\n" % i for i in range(1000)
    )
    with open(folder / "stdout.txt", "wb") as out:
        while out.tell() < size:
            out.write(line * 160)  # ~8 MiB a write
    store = RunStore(ws.catalog)
    (record,) = store.step_runs(run_id)
    store.move_step(record.id, StepStatus.FINISHED, log_dir=str(folder))
    return run_id


def log_page(page: Page, url: str, run_id: str) -> float:
    """ms from opening a step's log view to its last page shown."""
    start = time.perf_counter()
    page.goto(f"{url}/#/run/{run_id}/step/s0")
    page.wait_for_function(
        "document.querySelector('#log')?.textContent.endsWith('big step, padded to be long\\n')"
    )
    return (time.perf_counter() - start) * 1000


def measure(ws: Workspace, tmp: Path, tries: int, log_bytes: int, label: str) -> None:
    big = recorded_run(ws, tmp, 500)
    small = recorded_run(ws, tmp, 3)
    RunStore(ws.catalog).move_run(small, RunStatus.RUNNING)
    logs = log_run(ws, tmp / "biglog", log_bytes, tmp) if log_bytes else None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium()), args=ARGS)
        for url in start_server(ws, "127.0.0.1"):
            rows = {"first paint": [], "500-step table usable": [], "graph drawn": []}
            for _ in range(tries):
                page = browser.new_page(viewport={"width": 1200, "height": 800})
                for key, ms in zip(rows, big_graph(page, url, big), strict=True):
                    rows[key].append(ms)
                page.close()
            page = browser.new_page()
            rows["SSE delay"] = [
                sse_delay(page, ws, url, small, f"s{i}") for i in range(min(tries, 3))
            ]
            if logs:
                rows["1 GB log, last page"] = [
                    log_page(page, url, logs) for _ in range(tries)
                ]
            page.goto("about:blank")
            page.close()
        browser.close()
    for key, values in rows.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(
            f"{label:10} {key:24} median {statistics.median(values):7.0f} ms  ({shown})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--log-gb", type=float, default=1.0)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    tmp = Path(tempfile.mkdtemp(prefix="page-bench-"))
    try:
        with ExitStack() as stack:
            os.environ["DATAFERRY_HOME"] = str(tmp / "home")
            ws = Workspace.create("bench", tmp / "sqlite", show_output=False)
            measure(ws, tmp / "s", args.tries, int(args.log_gb * 2**30), "sqlite")
            shutil.rmtree(tmp / "s" / "biglog", ignore_errors=True)
            if args.postgres:
                from servers.postgres import running_postgres

                server = stack.enter_context(running_postgres())
                server.execute('CREATE DATABASE "bench"')
                pg = Workspace.create(
                    "benchpg",
                    tmp / "pg",
                    show_output=False,
                    catalog_url=server.url("bench"),
                )
                measure(pg, tmp / "p", min(args.tries, 3), 0, "postgresql")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
