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


ROWS = """\
def run(mini_batch):
    mini_batch["double"] = mini_batch["id"] * 2
    return mini_batch[["id", "double"]]
"""


def test_tabular_batches_never_span_files_and_write_dataframe_rows(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    spy_dir: Path,
) -> None:
    from csv_kit import write_csv

    write_csv(store_root / "t/a.csv", 5)
    write_csv(store_root / "t/b.csv", 3, start=5)
    table = Dataset.Tabular.from_delimited_files((blobstore, "t/*.csv"))
    spy = _source(tmp_path, ROWS + SPY)
    config = _config(spy, mini_batch_size="1KB")

    run = _run(workspace, blobstore, config, [table.as_named_input("rows")])

    assert run.get_status() == "Finished", step(run, "score").get_job_log()
    lines = (store_root / "prs/out/parallel_run_step.txt").read_text().splitlines()
    assert lines == [f"{i} {2 * i}" for i in range(8)]
    sizes = sorted(int(n) for n in (tmp_path / "calls").read_text().split())
    assert sizes == [3, 5]  # one mini-batch per file: 1 KB would hold both


SPY = """
import os
_run = run
def run(mini_batch):
    with open(os.path.join(os.environ["SPY_DIR"], "calls"), "a") as f:
        f.write(f"{len(mini_batch)}\\n")
    return _run(mini_batch)
"""


FLAKY = """\
import os

def run(mini_batch):
    marker = os.path.join(os.environ["SPY_DIR"], "tried-" + os.path.basename(mini_batch[0]))
    first = not os.path.exists(marker)
    open(marker, "a").write("x")
    if "f03.txt" in [os.path.basename(p) for p in mini_batch]:
        raise RuntimeError("cannot score f03")
    if first and "f00.txt" in [os.path.basename(p) for p in mini_batch]:
        raise RuntimeError("flaky once")
    return [os.path.basename(p) for p in mini_batch]
"""


@pytest.fixture
def spy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPY_DIR", str(tmp_path))
    return tmp_path


def test_a_failing_mini_batch_beyond_error_threshold_fails_the_step_uncommitted(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    spy_dir: Path,
) -> None:
    _files(store_root, 6)
    docs = Dataset.File.from_files((blobstore, "docs/*.txt"))
    config = _config(_source(tmp_path, FLAKY), mini_batch_size=2, run_max_try=2)

    run = _run(workspace, blobstore, config, [docs.as_named_input("docs")])

    assert run.get_status() == "Failed"
    log = step(run, "score").get_job_log()
    assert "2 failed items exceed error_threshold 0" in log
    assert not (store_root / "prs/out").exists()
    # the batch of f02/f03 was tried run_max_try times, the flaky one twice
    assert len((spy_dir / "tried-f02.txt").read_text()) == 2
    assert len((spy_dir / "tried-f00.txt").read_text()) == 2


def test_failures_within_the_thresholds_drop_their_rows_and_succeed(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    spy_dir: Path,
) -> None:
    _files(store_root, 6)
    docs = Dataset.File.from_files((blobstore, "docs/*.txt"))
    config = _config(
        _source(tmp_path, FLAKY),
        mini_batch_size=2,
        run_max_try=3,
        error_threshold=2,
        allowed_failed_count=1,
    )

    run = _run(workspace, blobstore, config, [docs.as_named_input("docs")])

    assert run.get_status() == "Finished", step(run, "score").get_job_log()
    lines = (store_root / "prs/out/parallel_run_step.txt").read_text().splitlines()
    assert lines == ["f00.txt", "f01.txt", "f04.txt", "f05.txt"]
    assert len((spy_dir / "tried-f02.txt").read_text()) == 3


SLOW_OR_KILL = """\
import os, signal, time

def run(mini_batch):
    names = [os.path.basename(p) for p in mini_batch]
    marker = os.path.join(os.environ["SPY_DIR"], "seen-" + names[0])
    first = not os.path.exists(marker)
    open(marker, "a").write("x")
    if first and "f02.txt" in names:
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies mid-run
    if first and "f04.txt" in names:
        time.sleep(30)  # past run_invocation_timeout
    return names
"""


def test_a_killed_or_overdue_worker_is_replaced_and_its_batch_retried(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    spy_dir: Path,
) -> None:
    _files(store_root, 6)
    docs = Dataset.File.from_files((blobstore, "docs/*.txt"))
    config = _config(
        _source(tmp_path, SLOW_OR_KILL), mini_batch_size=2, run_invocation_timeout=3
    )

    run = _run(workspace, blobstore, config, [docs.as_named_input("docs")])

    log = step(run, "score").get_job_log()
    assert run.get_status() == "Finished", log
    lines = (store_root / "prs/out/parallel_run_step.txt").read_text().splitlines()
    assert lines == [f"f{i:02d}.txt" for i in range(6)]
    assert "died (exit code -9)" in log
    assert "did not return within run_invocation_timeout (3s)" in log


PARTITIONED = """\
def run(mini_batch, context):
    key = context.partition_key_value["label"]
    return [f"{key} {len(mini_batch)}"]
"""


PARTITION_DATASET = """\
def run(mini_batch, context):
    whole = context.dataset.to_pandas_dataframe()
    assert list(whole["id"]) == list(mini_batch["id"]), (whole, mini_batch)
    label = context.partition_key_value["label"]
    return [f"{label} {','.join(str(i) for i in whole['id'])}"]
"""


def test_the_context_dataset_is_the_input_filtered_to_the_key_values(
    workspace: Workspace, blobstore: Datastore, store_root: Path, tmp_path: Path
) -> None:
    csv = store_root / "p/a.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text("id,label,k\n1,x,1\n2,y,1\n3,x,2\n")
    (store_root / "p/b.csv").write_text("id,label,k\n4,y,1\n5,x,1\n")
    table = Dataset.Tabular.from_delimited_files((blobstore, "p/*.csv"))
    config = _config(
        _source(tmp_path, PARTITION_DATASET),
        mini_batch_size=None,
        partition_keys=["label", "k"],
        error_threshold=-1,  # one line per partition, not per row
    )

    run = _run(workspace, blobstore, config, [table.as_named_input("rows")])

    assert run.get_status() == "Finished", step(run, "score").get_job_log()
    lines = (store_root / "prs/out/parallel_run_step.txt").read_text().splitlines()
    assert lines == ["x 1,5", "y 2,4", "x 3"]


SIDE = """\
import argparse, os

def init():
    global LOOKUP
    args, _ = argparse.ArgumentParser().parse_known_args()
    parser = argparse.ArgumentParser()
    parser.add_argument("--lookup")
    args, _ = parser.parse_known_args()
    folder = args.lookup if os.path.isdir(args.lookup) else os.path.dirname(args.lookup)
    LOOKUP = {
        name: open(os.path.join(folder, name)).read().strip()
        for name in sorted(os.listdir(folder))
    }

def run(mini_batch):
    return [f"{os.path.basename(p)} {LOOKUP['labels.txt']}" for p in mini_batch]
"""


def test_a_side_input_in_the_arguments_is_mounted_and_read_by_every_worker(
    workspace: Workspace, blobstore: Datastore, store_root: Path, tmp_path: Path
) -> None:
    _files(store_root, 4)
    (store_root / "ref").mkdir()
    (store_root / "ref/labels.txt").write_text("cat\n")
    docs = Dataset.File.from_files((blobstore, "docs/*.txt"))
    lookup = Dataset.File.from_files((blobstore, "ref/")).as_named_input("lookup")
    out = OutputFileDatasetConfig(name="scores", destination=(blobstore, "prs/out"))
    prs = ParallelRunStep(
        "score",
        _config(_source(tmp_path, SIDE), mini_batch_size=1),
        inputs=[docs.as_named_input("docs")],
        output=out,
        side_inputs=[lookup],
        arguments=["--lookup", lookup],
    )

    run = run_pipeline(Pipeline(workspace, [prs]))

    assert run.get_status() == "Finished", step(run, "score").get_job_log()
    lines = (store_root / "prs/out/parallel_run_step.txt").read_text().splitlines()
    assert lines == [f"f{i:02d}.txt cat" for i in range(4)]


def test_partition_keys_make_one_mini_batch_per_key_value(
    workspace: Workspace, blobstore: Datastore, store_root: Path, tmp_path: Path
) -> None:
    csv = store_root / "p/a.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text("id,label\n1,x\n2,y\n3,x\n")
    (store_root / "p/b.csv").write_text("id,label\n4,y\n5,z\n")
    table = Dataset.Tabular.from_delimited_files((blobstore, "p/*.csv"))
    config = _config(
        _source(tmp_path, PARTITIONED),
        mini_batch_size=None,
        partition_keys=["label"],
        error_threshold=-1,
    )

    run = _run(workspace, blobstore, config, [table.as_named_input("rows")])

    assert run.get_status() == "Finished", step(run, "score").get_job_log()
    lines = (store_root / "prs/out/parallel_run_step.txt").read_text().splitlines()
    assert lines == ["x 2", "y 2", "z 1"]


FAILING_INIT = """\
import os

def init():
    with open(os.path.join(os.environ["SPY_DIR"], "inits"), "a") as f:
        f.write("x")
    raise RuntimeError("no model file")

def run(mini_batch):
    return mini_batch
"""


def test_init_failing_on_every_worker_fails_the_job_after_twice_the_workers(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    spy_dir: Path,
) -> None:
    _files(store_root, 6)
    docs = Dataset.File.from_files((blobstore, "docs/*.txt"))
    config = _config(_source(tmp_path, FAILING_INIT), mini_batch_size=2)

    run = _run(workspace, blobstore, config, [docs.as_named_input("docs")])

    s = step(run, "score")
    log = s.get_job_log()
    assert run.get_status() == "Failed"
    assert (
        "init() of the entry script failed 4 times (limit 2 * node_count * "
        "process_count_per_node = 4)" in log
    )
    assert "RuntimeError: no model file" in log
    assert "failure 1 of 4 allowed" in log
    (result,) = workspace.path.rglob("logs/job_result.txt")  # the step's folder
    assert result.read_text().startswith(
        "FAILED: init() of the entry script failed 4 times"
    )
    assert len((spy_dir / "inits").read_text()) >= 4
    assert not (store_root / "prs/out").exists()
