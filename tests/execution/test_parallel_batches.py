"""File mini-batches are planned from names alone: sorted part by part as paths sort,
keyed by what they hold, and a job of file inputs never loads pyarrow."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from dataferry.errors import ParallelRunError
from dataferry.execution.parallel.batches import plan_batches
from dataferry.execution.parallel.options import parse_options

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry.execution.parallel.options import ParallelOptions


def _options(*inputs: Path, size: int | None = None) -> ParallelOptions:
    argv = ["--scoring_module_name", "s.py", "--error_threshold", "-1"]
    argv += ["--output_action", "append_row"]
    if size is not None:
        argv += ["--mini_batch_size", str(size)]
    for i, path in enumerate(inputs):
        argv += [f"--input_fds_{i}", str(path)]
    return parse_options(argv)[0]


def _tree(root: Path, names: list[str]) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    return root


def test_nested_files_are_batched_in_path_order_with_absolute_paths(
    tmp_path: Path,
) -> None:
    # "a/z" sorts before "a-b" as paths do (part by part), not as strings do
    root = _tree(tmp_path / "in", ["b.txt", "a-b", "a/z", "a/c/d", "a.txt"])

    batches = plan_batches(_options(root, size=2), None)  # type: ignore[arg-type]

    assert [b.payload for b in batches] == [
        [str(root / "a/c/d"), str(root / "a/z")],
        [str(root / "a-b"), str(root / "a.txt")],
        [str(root / "b.txt")],
    ]
    assert [(b.index, b.key, b.items) for b in batches] == [
        (0, "files:0:a/c/d:a/z:2", 2),
        (1, "files:0:a-b:a.txt:2", 2),
        (2, "files:0:b.txt:b.txt:1", 1),
    ]


def test_a_single_file_input_and_the_default_size_of_ten(tmp_path: Path) -> None:
    one = _tree(tmp_path / "one", ["only.csv"]) / "only.csv"
    many = _tree(tmp_path / "many", [f"f{i:02d}" for i in range(23)])

    batches = plan_batches(_options(one, many), None)  # type: ignore[arg-type]

    assert [(b.key, b.items) for b in batches] == [
        ("files:0:only.csv:only.csv:1", 1),
        ("files:1:f00:f09:10", 10),
        ("files:1:f10:f19:10", 10),
        ("files:1:f20:f22:3", 3),
    ]
    assert batches[0].payload == [str(one)]
    assert batches[3].payload == [str(many / f"f{i}") for i in range(20, 23)]


def test_an_input_that_is_not_there_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(ParallelRunError, match=r"input 0 \(.*gone\) is neither a file"):
        plan_batches(_options(tmp_path / "gone"), None)  # type: ignore[arg-type]


def test_the_job_and_its_workers_load_no_pyarrow_for_file_inputs() -> None:
    # pyarrow costs about a second per process on a loaded machine; only a worker
    # that gets a tabular piece imports it
    code = (
        "import sys, dataferry.execution.parallel.job, "
        "dataferry.execution.parallel.ray_relay; "
        "print(sorted(m for m in ('pyarrow', 'pandas', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
