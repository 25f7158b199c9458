"""Benchmark: ParallelRunStep throughput locally and on Ray, vs a plain Ray map.

A Ray head is started on loopback as the tests start it (``tests/servers/ray_cluster``,
2 CPUs). In a fresh workspace, ``--files`` (10,000) small files and a generated CSV
of ``--csv-mb`` MB (1024) are read by a ParallelRunStep (``--workers`` workers,
``--files-per-batch`` files or 4 MB of rows per mini-batch) on the local process pool
and on a Ray target (actors). The plain Ray map is a ``ray.remote`` function over
the same files, one task per ``--files-per-batch`` files, run from this process
(already connected, so it pays no pipeline, step or actor start-up). Each figure is
the wall time of the whole run (a pipeline's includes its driver and step process);
peak RSS is the largest sum of resident memory over this process's children and the
Ray head's process tree, sampled every 0.2 s.

Target (issue 13): ParallelRunStep on Ray at least 0.8x the plain Ray map (files/s).

Usage::

    .venv/bin/python benchmarks/parallel_run.py [--files 10000] [--csv-mb 1024]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
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
) -> float:
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
    return took


def _plain_map(address: str, files: list[Path], per_task: int) -> float:
    import ray

    ray.init(address=address, _node_ip_address="127.0.0.1", log_to_driver=False)

    @ray.remote
    def score(paths: list[str]) -> list[str]:
        return [f"{os.path.basename(p)} {len(open(p, 'rb').read())}" for p in paths]

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
    return took


def _make_data(store: Path, files: int, csv_mb: int) -> tuple[list[Path], int]:
    folder = store / "many"
    folder.mkdir(parents=True)
    paths = []
    for i in range(files):
        path = folder / f"f{i:05d}.txt"
        path.write_text(f"file {i}\n" * 8)
        paths.append(path)
    csv = store / "big" / "big.csv"
    csv.parent.mkdir()
    line = "".join(f"{j},{j * 0.5},label{j % 7}\n" for j in range(1000)).encode()
    with csv.open("wb") as f:
        f.write(b"id,value,label\n")
        for _ in range(max(1, csv_mb * 2**20 // len(line))):
            f.write(line)
    return paths, csv.stat().st_size


def main() -> int:
    """Print the figures; exit 1 if ParallelRunStep on Ray misses 0.8x the map."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--csv-mb", type=int, default=1024)
    parser.add_argument("--files-per-batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    results: list[tuple[str, float, str, int]] = []
    with tempfile.TemporaryDirectory(prefix="df-prs-bench-") as tmp:
        root = Path(tmp)
        ws = Workspace.create("bench", path=str(root / "ws"))
        store_root = Path(ws.get_default_datastore().location.root)  # type: ignore[attr-defined]
        files, csv_bytes = _make_data(store_root, args.files, args.csv_mb)
        store = ws.get_default_datastore()
        many = Dataset.File.from_files((store, "many/*.txt"))
        big = Dataset.Tabular.from_delimited_files((store, "big/big.csv"))
        src = root / "src"
        src.mkdir()
        per = {"process_count_per_node": args.workers}
        with running_ray_head() as head:
            target = RayCompute.provisioning_configuration(head.address, num_cpus=0)
            ComputeTarget.create(ws, "bench-ray", target)
            for name, where in (("local", None), ("ray", "bench-ray")):
                with PeakRss([head.pid]) as rss:
                    took = _step(
                        ws,
                        src,
                        FILES_SCRIPT,
                        many,
                        where,
                        mini_batch_size=args.files_per_batch,
                        **per,
                    )
                results.append(
                    (
                        f"PRS {name} files",
                        took,
                        f"{args.files / took:8.0f} files/s",
                        rss.peak,
                    )
                )
                with PeakRss([head.pid]) as rss:
                    took = _step(
                        ws, src, ROWS_SCRIPT, big, where, mini_batch_size="4MB", **per
                    )
                results.append(
                    (
                        f"PRS {name} csv",
                        took,
                        f"{csv_bytes / 2**20 / took:8.1f} MB/s",
                        rss.peak,
                    )
                )
            with PeakRss([head.pid]) as rss:
                took = _plain_map(head.address, files, args.files_per_batch)
            results.append(
                (
                    "plain Ray map files",
                    took,
                    f"{args.files / took:8.0f} files/s",
                    rss.peak,
                )
            )
    print(
        f"{args.files} files, {csv_bytes / 2**20:.0f} MB CSV, {args.workers} workers, Ray head on loopback (2 CPUs)"
    )
    for name, took, rate, peak in results:
        print(f"  {name:22s} {took:8.2f} s {rate}   peak RSS {peak / 2**20:7.0f} MB")
    by = {name: took for name, took, _, _ in results}
    ratio = by["plain Ray map files"] / by["PRS ray files"]
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(
        f"  PRS on Ray / plain Ray map (files/s): {ratio:.2f}x (target >= 0.8) {verdict}"
    )
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
