"""Benchmark: per-step overhead of steps on a Ray target vs the local executor.

A Ray head is started on loopback as the tests start it (``tests/servers/ray_cluster``,
two CPUs, stopped by pid at the end). In a fresh workspace, ``--steps`` (100) trivial
independent steps (``pass``) run once with every step on a Ray target and once on the
local executor, one step at a time (``max_concurrency`` 1), so a step's share of the
wall time is its cost. The cluster is warm: a 2-step Ray run goes first, untimed. Each
driver is its own process and connects to the cluster once (``ray.init``); that fixed
cost is printed separately (the wall time of a 1-step Ray run less a 1-step local run)
and left out of the per-step figure:

    per-step overhead on Ray = (T(ray, N) - T(ray, 1)) / (N - 1)
                             - (T(local, N) - T(local, 1)) / (N - 1)

Target (issue 13): under 150 ms per step on Ray with a warm cluster.

Usage::

    .venv/bin/python benchmarks/ray_overhead.py [--steps 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests")]

from servers.ray_cluster import running_ray_head  # noqa: E402

from dataferry import ComputeTarget, Pipeline, PythonScriptStep, Workspace  # noqa: E402
from dataferry.data.compute_ray import RayCompute  # noqa: E402

TARGET_MS = 150.0


def _run(ws: Workspace, code: Path, count: int, target: str | None, tag: str) -> float:
    steps = [
        PythonScriptStep(
            "noop.py",
            name=f"{tag}{i}",
            source_directory=str(code),
            arguments=[tag, i],  # distinct steps: nothing is reused
            compute_target=target,
            allow_reuse=False,
        )
        for i in range(count)
    ]
    started = time.perf_counter()
    run = Pipeline(ws, steps).submit("bench")
    run.wait_for_completion(show_output=False, timeout_seconds=3600)
    return time.perf_counter() - started


def main() -> int:
    """Print the figures; exit 1 if the Ray overhead misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    n = args.steps
    with tempfile.TemporaryDirectory(prefix="df-ray-bench-") as tmp:
        root = Path(tmp)
        code = root / "code"
        code.mkdir()
        (code / "noop.py").write_text("pass\n")
        ws = Workspace.create("bench", path=str(root / "ws"))
        ws.catalog.set_setting("max_concurrency", 1)
        with running_ray_head() as head:
            config = RayCompute.provisioning_configuration(head.address, max_nodes=1)
            ComputeTarget.create(ws, "bench-ray", config)
            _run(ws, code, 2, "bench-ray", "warm")  # the cluster's workers start
            ray_1 = _run(ws, code, 1, "bench-ray", "r1-")
            ray_n = _run(ws, code, n, "bench-ray", "rn-")
            local_1 = _run(ws, code, 1, None, "l1-")
            local_n = _run(ws, code, n, None, "ln-")
    ray_step = (ray_n - ray_1) / (n - 1)
    local_step = (local_n - local_1) / (n - 1)
    overhead_ms = (ray_step - local_step) * 1000
    print(f"{n} trivial steps, one at a time, Ray head on loopback (2 CPUs)")
    print(f"  local: {local_n:7.2f} s  ({local_step * 1000:6.1f} ms per step)")
    print(f"  ray:   {ray_n:7.2f} s  ({ray_step * 1000:6.1f} ms per step)")
    print(f"  driver's connection to Ray (once per run): {ray_1 - local_1:5.2f} s")
    verdict = "ok" if overhead_ms < TARGET_MS else "MISSED"
    print(f"  per-step overhead on Ray: {overhead_ms:6.1f} ms (target < 150) {verdict}")
    return 0 if overhead_ms < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
