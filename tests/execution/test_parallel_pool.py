"""The worker pool's init rules, with real spawned workers and no pipeline."""

from __future__ import annotations

import textwrap
import time
from typing import TYPE_CHECKING

import pytest

from dataferry.errors import ParallelRunError
from dataferry.execution.parallel.pool import ProcessPool
from dataferry.execution.parallel.worker import WorkerSpec

pytestmark = pytest.mark.slow  # spawned worker processes

if TYPE_CHECKING:
    from pathlib import Path


def _pool(tmp_path: Path, body: str, **limits: float) -> ProcessPool:
    (tmp_path / "score.py").write_text(textwrap.dedent(body))
    spec = WorkerSpec("score.py", str(tmp_path), (), str(tmp_path / "logs"), "", "INFO")
    return ProcessPool(spec, count=1, timeout_s=5, **limits)  # type: ignore[arg-type]


def _collect_until_error(pool: ProcessPool) -> None:
    deadline = time.monotonic() + 120  # spawned workers start slowly on a busy box
    try:
        while time.monotonic() < deadline:
            pool.collect(0.1)
    finally:
        pool.close()


def test_a_hanging_init_fails_the_pool_after_the_stall_limit(tmp_path: Path) -> None:
    pool = _pool(
        tmp_path,
        "import time\ndef init():\n    time.sleep(60)\ndef run(b):\n    return b\n",
        max_init_failures=2,
        stall_s=1.0,
    )

    with pytest.raises(
        ParallelRunError,
        match=r"no worker became ready and no mini-batch ended for \d+s \(limit "
        r"3 \* run_invocation_timeout \+ 30 = 1s\); init\(\) of the entry script hangs",
    ):
        _collect_until_error(pool)


def test_init_failures_up_to_the_limit_then_a_typed_error(tmp_path: Path) -> None:
    pool = _pool(
        tmp_path,
        "def init():\n    raise KeyError('no config')\ndef run(b):\n    return b\n",
        max_init_failures=3,
        stall_s=600.0,
    )

    with pytest.raises(
        ParallelRunError,
        match=r"(?s)failed 3 times \(limit 2 \* node_count \* process_count_per_node "
        r"= 3\); fix init\(\) and resubmit.*KeyError: 'no config'",
    ):
        _collect_until_error(pool)
