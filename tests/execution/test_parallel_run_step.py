"""ParallelRunStep run locally: real pipeline, real worker processes, small data."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import run_pipeline, step

from dataferry import (
    Dataset,
    Environment,
    OutputFileDatasetConfig,
    ParallelRunConfig,
    ParallelRunStep,
    Pipeline,
)

if TYPE_CHECKING:
    from dataferry import Datastore, Workspace

pytestmark = pytest.mark.slow  # a real driver, step process and worker processes
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def compat_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Step and worker processes import this tree's dataferry and compat package
    (entry scripts import ``azureml_user.parallel_run``)."""
    parts = [str(ROOT / "src"), str(ROOT / "compat" / "src")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(parts))

COUNT_FILES = """\
import os
from azureml_user.parallel_run import EntryScript

def init():
    EntryScript().logger.info("init in %s", EntryScript().agent_name)

def run(mini_batch):
    return [f"{os.path.basename(p)} {len(open(p).read())}" for p in mini_batch]
"""


def _source(tmp_path: Path, body: str) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "score.py").write_text(textwrap.dedent(body))
    return src


def _files(store_root: Path, count: int) -> None:
    folder = store_root / "docs"
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"f{i:02d}.txt").write_text("x" * i)


def _config(src: Path, **changes: object) -> ParallelRunConfig:
    options: dict[str, object] = {
        "environment": Environment("prs"),
        "entry_script": "score.py",
        "error_threshold": 0,
        "output_action": "append_row",
        "compute_target": None,
        "node_count": 1,
        "process_count_per_node": 2,
        "mini_batch_size": 3,
        "source_directory": str(src),
        "run_invocation_timeout": 20,
    }
    options.update(changes)
    return ParallelRunConfig(**options)  # type: ignore[arg-type]


def _run(
    workspace: Workspace, blobstore: Datastore, config: ParallelRunConfig, inputs: list
) -> object:
    out = OutputFileDatasetConfig(name="scores", destination=(blobstore, "prs/out"))
    prs = ParallelRunStep("score", config, inputs=inputs, output=out)
    return run_pipeline(Pipeline(workspace, [prs]))


def test_file_inputs_append_rows_in_mini_batch_order(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
) -> None:
    _files(store_root, 8)
    docs = Dataset.File.from_files((blobstore, "docs/*.txt"))
    config = _config(_source(tmp_path, COUNT_FILES))

    run = _run(workspace, blobstore, config, [docs.as_named_input("docs")])

    s = step(run, "score")
    assert run.get_status() == "Finished", s.get_job_log()
    lines = (store_root / "prs/out/parallel_run_step.txt").read_text().splitlines()
    assert lines == [f"f{i:02d}.txt {i}" for i in range(8)]
