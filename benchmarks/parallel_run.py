"""Benchmark: ParallelRunStep throughput locally and on Ray, vs plain maps.

A Ray head is started on loopback as the tests start it (``tests/servers/ray_cluster``,
2 CPUs; ``--no-ray`` skips every Ray figure). In a fresh workspace, ``--files``
(10,000) small files and a generated CSV of ``--csv-mb`` MB (1024; 0 skips it) are read
by a ParallelRunStep (``--workers`` workers, ``--files-per-batch`` files or 4 MB of
rows per mini-batch) on the local process pool and on a Ray target (actors). Like
with like: the plain multiprocessing map is a warm spawn pool of ``--workers``
processes over the same files, one task per ``--files-per-batch`` files (next to PRS
local); the plain Ray map is a ``ray.remote`` function the same way, run from this
process (already connected, so it pays no pipeline, step or actor start-up; next to
PRS on Ray). For a pipeline, ``wall`` is submit to completion, ``step`` the step's
own time from its events (Running to Finished: its process, workers, mini-batches
and output commit) and ``start`` the pipeline's start-up before it (submit, driver,
preparation, input mounts). ``cpu`` is the machine's busy CPU seconds (every
process, the load of others included: see the load average printed); peak RSS is
the largest sum of resident memory over this process's children and the Ray head's
process tree, sampled every 0.2 s.

Target (issue 13): ParallelRunStep on Ray at least 0.8x the plain Ray map (files/s).

Usage::

    .venv/bin/python benchmarks/parallel_run.py [--files 10000] [--csv-mb 1024] [--no-ray]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests")]

import psutil  # noqa: E402
from servers.ray_cluster import running_ray_head  # noqa: E402

from dataferry import (  # noqa: E402
    ComputeTarget,
    Dataset,
    Environment,
    OutputFileDatasetConfig,
    ParallelRunConfig,
    ParallelRunStep,
    Pipeline,
    Workspace,
)
from dataferry.catalog.run_store import RunStore  # noqa: E402
from dataferry.data.compute_ray import RayCompute  # noqa: E402

TARGET_RATIO = 0.8
FILES_SCRIPT = """\
import os

def run(mini_batch):
    return [f"{os.path.basename(p)} {len(open(p, 'rb').read())}" for p in mini_batch]
"""
ROWS_SCRIPT = """\
def run(mini_batch):
    return [str(len(mini_batch))]
"""


@dataclass
class Figure:
    """One measured run: wall seconds, the step's own seconds (a pipeline's), the
    machine's busy CPU seconds, peak RSS bytes and how much it processed."""

    name: str
    wall: float
    step: float | None
    cpu: float
    rss: int
    rate: str


def score_paths(paths: list[str]) -> list[str]:
    """What the entry script does, for the plain maps (importable by spawned workers)."""
    return [f"{os.path.basename(p)} {len(open(p, 'rb').read())}" for p in paths]


def _busy_cpu() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.system + getattr(times, "nice", 0.0))


class PeakRss:
    """The largest total RSS of ``roots``' process trees and this one's children."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            total = 0
            for root in [os.getpid(), *self.roots]:
                try:
                    tree = psutil.Process(root).children(recursive=True)
                except psutil.Error:
                    continue
                for proc in tree:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        continue
            self.peak = max(self.peak, total)


def _step(
    ws: Workspace,
    src: Path,
    script: str,
    dataset: object,
    target: str | None,
    **kw: object,
) -> tuple[float, float]:
    """Run one ParallelRunStep pipeline; (wall, the step's Running to Finished)."""
    (src / "score.py").write_text(script)
    config = ParallelRunConfig(
        environment=Environment("bench"),
        entry_script="score.py",
        error_threshold=-1,  # the CSV script returns one line per mini-batch
        output_action="append_row",
        compute_target=target,
        node_count=1,
        source_directory=str(src),
        run_invocation_timeout=600,
        **kw,  # type: ignore[arg-type]
    )
    store = ws.get_default_datastore()
    out = OutputFileDatasetConfig(
        name="o", destination=(store, f"out/{time.time_ns()}")
    )
    prs = ParallelRunStep(
        "score",
        config,
        inputs=[dataset.as_named_input("i")],
        output=out,
        allow_reuse=False,
    )  # type: ignore[attr-defined]
    started = time.perf_counter()
    run = Pipeline(ws, [prs]).submit("bench")
    run.wait_for_completion(show_output=False, timeout_seconds=7200)
    took = time.perf_counter() - started
    if run.get_status() != "Finished":
        raise SystemExit(f"the benchmark step failed: {run.get_status()}")
    return took, _step_seconds(ws, run.id)


def _step_seconds(ws: Workspace, run_id: str) -> float:
    """The step's Running to Finished, from its status events."""
    at: dict[str, float] = {}
    for event in RunStore(ws.catalog).events_since(run_id):
        if event.step_run_id is not None and event.kind == "step_status":
            at.setdefault(str(event.payload.get("to")), event.time.timestamp())
    return at["Finished"] - at["Running"]


def _measure(name: str, roots: list[int], fn: object, rate: object) -> Figure:
    """Run ``fn`` (wall, step seconds or None) under CPU and RSS sampling."""
    cpu = _busy_cpu()
    with PeakRss(roots) as rss:
        wall, step = fn()  # type: ignore[operator]
    return Figure(name, wall, step, _busy_cpu() - cpu, rss.peak, rate(wall, step))  # type: ignore[operator]


def _process_map(files: list[Path], per_task: int, workers: int) -> tuple[float, None]:
    """A warm spawn pool of ``workers`` over the files, ``per_task`` a task."""
    names = [str(p) for p in files]
    chunks = [names[i : i + per_task] for i in range(0, len(names), per_task)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(score_paths, [[]] * workers)  # every worker is up
        started = time.perf_counter()
        rows = sum(len(r) for r in pool.map(score_paths, chunks, chunksize=1))
        took = time.perf_counter() - started
    assert rows == len(files)
    return took, None


def _ray_map(address: str, files: list[Path], per_task: int) -> tuple[float, None]:
    import ray

    ray.init(address=address, _node_ip_address="127.0.0.1", log_to_driver=False)
    score = ray.remote(score_paths)
    ray.get(score.remote([]))  # a worker is up, as the pipeline's cluster is warm
    names = [str(p) for p in files]
    started = time.perf_counter()
    refs = [
        score.remote(names[i : i + per_task]) for i in range(0, len(names), per_task)
    ]
    rows = sum(len(r) for r in ray.get(refs))
    took = time.perf_counter() - started
    assert rows == len(files)
    ray.shutdown()
    return took, None


def _make_data(store: Path, files: int, csv_mb: int) -> tuple[list[Path], int]:
    folder = store / "many"
    folder.mkdir(parents=True)
    paths = []
    for i in range(files):
        path = folder / f"f{i:05d}.txt"
        path.write_text(f"file {i}\n" * 8)
        paths.append(path)
    if not csv_mb:
        return paths, 0
    csv = store / "big" / "big.csv"
    csv.parent.mkdir()
    line = "".join(f"{j},{j * 0.5},label{j % 7}\n" for j in range(1000)).encode()
    with csv.open("wb") as f:
        f.write(b"id,value,label\n")
        for _ in range(max(1, csv_mb * 2**20 // len(line))):
            f.write(line)
    return paths, csv.stat().st_size


def _files_rate(files: int) -> object:
    def rate(wall: float, step: float | None) -> str:
        own = f" ({files / step:6.0f} in step)" if step else " " * 17
        return f"{files / wall:8.0f} files/s{own}"

    return rate


def _mb_rate(size: int) -> object:
    def rate(wall: float, step: float | None) -> str:
        own = f" ({size / 2**20 / step:6.1f} in step)" if step else ""
        return f"{size / 2**20 / wall:8.1f} MB/s{own}"

    return rate


def _run_all(args: argparse.Namespace, root: Path, head: object) -> list[Figure]:
    """Every figure asked for, on ``head`` (a running Ray head) or locally only."""
    ws = Workspace.create("bench", path=str(root / "ws"))
    store_root = Path(ws.get_default_datastore().location.root)  # type: ignore[attr-defined]
    files, csv_bytes = _make_data(store_root, args.files, args.csv_mb)
    store = ws.get_default_datastore()
    many = Dataset.File.from_files((store, "many/*.txt"))
    src = root / "src"
    src.mkdir()
    per = {"process_count_per_node": args.workers}
    roots = [head.pid] if head is not None else []  # type: ignore[attr-defined]
    places: list[tuple[str, str | None]] = [("local", None)]
    if head is not None:
        target = RayCompute.provisioning_configuration(head.address, num_cpus=0)  # type: ignore[attr-defined]
        ComputeTarget.create(ws, "bench-ray", target)
        places.append(("ray", "bench-ray"))
    out: list[Figure] = []
    for name, where in places:
        out.append(
            _measure(
                f"PRS {name} files",
                roots,
                lambda where=where: _step(
                    ws,
                    src,
                    FILES_SCRIPT,
                    many,
                    where,
                    mini_batch_size=args.files_per_batch,
                    **per,
                ),
                _files_rate(args.files),
            )
        )
        if name == "local":
            out.append(
                _measure(
                    "plain process map files",
                    roots,
                    lambda: _process_map(files, args.files_per_batch, args.workers),
                    _files_rate(args.files),
                )
            )
        if csv_bytes:
            big = Dataset.Tabular.from_delimited_files((store, "big/big.csv"))
            out.append(
                _measure(
                    f"PRS {name} csv",
                    roots,
                    lambda where=where, big=big: _step(
                        ws, src, ROWS_SCRIPT, big, where, mini_batch_size="4MB", **per
                    ),
                    _mb_rate(csv_bytes),
                )
            )
    if head is not None:
        out.append(
            _measure(
                "plain Ray map files",
                roots,
                lambda: _ray_map(head.address, files, args.files_per_batch),  # type: ignore[attr-defined]
                _files_rate(args.files),
            )
        )
    return out


def _report(args: argparse.Namespace, figures: list[Figure], load: float) -> int:
    print(
        f"{args.files} files, {args.csv_mb} MB CSV, {args.workers} workers, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the start"
    )
    for f in figures:
        step = (
            f"step {f.step:7.2f} s  start {f.wall - f.step:6.2f} s"
            if f.step
            else " " * 30
        )
        print(
            f"  {f.name:24s} wall {f.wall:7.2f} s  {step}  cpu {f.cpu:7.1f} s  "
            f"{f.rate}  peak RSS {f.rss / 2**20:6.0f} MB"
        )
    by = {f.name: f for f in figures}
    local = by["plain process map files"].wall / by["PRS local files"].wall
    print(f"  PRS local / plain process map (files/s, wall): {local:.2f}x")
    if "PRS ray files" not in by:
        return 0
    ray_files = by["PRS ray files"]
    ratio = by["plain Ray map files"].wall / ray_files.wall
    own = by["plain Ray map files"].wall / (ray_files.step or ray_files.wall)
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(
        f"  PRS on Ray / plain Ray map (files/s): {ratio:.2f}x wall, {own:.2f}x step "
        f"(target >= 0.8) {verdict}"
    )
    return 0 if ratio >= TARGET_RATIO else 1


def main() -> int:
    """Print the figures; exit 1 if ParallelRunStep on Ray misses 0.8x the map."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--csv-mb", type=int, default=1024)
    parser.add_argument("--files-per-batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true", help="local figures only")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="df-prs-bench-") as tmp:
        if args.no_ray:
            figures = _run_all(args, Path(tmp), None)
        else:
            with running_ray_head() as head:
                figures = _run_all(args, Path(tmp), head)
    return _report(args, figures, load)


if __name__ == "__main__":
    raise SystemExit(main())
