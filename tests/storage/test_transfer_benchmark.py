"""benchmarks/transfer.py runs end to end at a tiny size, so that it cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.server
@pytest.mark.slow
def test_the_transfer_benchmark_runs_at_a_tiny_size() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])]
    )
    script = str(ROOT / "benchmarks" / "transfer.py")
    done = subprocess.run(
        [sys.executable, script, "--size-mib", "2", "--files", "20"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.split()[:3] for line in done.stdout.splitlines()]
    assert [line[:2] for line in lines if line[0] in ("upload", "download")] == [
        ["upload", "one"],
        ["download", "one"],
        ["upload", "20"],
        ["download", "20"],
    ]
    assert "ratio" in done.stdout
    assert "blob/local" in done.stdout
