"""ParallelRunStep on a Ray target: mini-batches run in Ray actors on a real loopback
head, with the same output, retries and limits as the local process pool."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import step
from test_parallel_run_step import (
    COUNT_FILES,
    FLAKY,
    ROWS,
    SLOW_OR_KILL,
    _config,
    _files,
    _run,
    _source,
    compat_path,  # noqa: F401 (autouse: workers import this tree's dataferry)
    spy_dir,  # noqa: F401 (a fixture the tests name)
)

from dataferry import ComputeTarget, Dataset
from dataferry.data.compute_ray import RayCompute

if TYPE_CHECKING:
    from pathlib import Path

    from servers.ray_cluster import RayHead

    from dataferry import Datastore, Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]

WHERE = """\
import os
from azureml_user.parallel_run import EntryScript

def run(mini_batch):
    node = os.environ.get("DATAFERRY_PRS_NODE_ID", "local")
    return [f"{os.path.basename(p)} {EntryScript().agent_name} {node}" for p in mini_batch]
"""


@pytest.fixture
def on_ray(workspace: Workspace, ray_head: RayHead) -> str:
    config = RayCompute.provisioning_configuration(ray_head.address, num_cpus=1)
    ComputeTarget.create(workspace, "raycluster", config)
    return "raycluster"


def _output(store_root: Path) -> list[str]:
    return (store_root / "prs/out/parallel_run_step.txt").read_text().splitlines()


def _twice(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    on_ray: str,
    make: tuple[Path, dict[str, object]],
    inputs: list[object],
) -> tuple[list[str], list[str], str]:
    """The output of the same step run locally, then on Ray; the Ray step's log."""
    src, changes = make
    outputs = []
    log = ""
    for target in (None, on_ray):
        run = _run(
            workspace, blobstore, _config(src, compute_target=target, **changes), inputs
        )
        log = step(run, "score").get_job_log()
        assert run.get_status() == "Finished", log
        outputs.append(_output(store_root))
        (store_root / "prs/out/parallel_run_step.txt").unlink()
    return outputs[0], outputs[1], log


def test_file_mini_batches_on_ray_actors_give_the_local_pools_output(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    on_ray: str,
) -> None:
    _files(store_root, 11)
    docs = Dataset.File.from_files((blobstore, "docs/*.txt"))
    make = (_source(tmp_path, COUNT_FILES), {"mini_batch_size": 2})

    local, on_cluster, log = _twice(
        workspace, blobstore, store_root, on_ray, make, [docs.as_named_input("d")]
    )

    assert local == [f"f{i:02d}.txt {i}" for i in range(11)]
    assert on_cluster == local
    assert "running mini-batches as Ray actors on 127.0.0.1:" in log


def test_tabular_pieces_on_ray_actors_give_the_local_pools_rows(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    on_ray: str,
) -> None:
    from csv_kit import write_csv

    write_csv(store_root / "t/a.csv", 40)
    write_csv(store_root / "t/b.csv", 7, start=40)
    table = Dataset.Tabular.from_delimited_files((blobstore, "t/*.csv"))
    make = (_source(tmp_path, ROWS), {"mini_batch_size": "200"})

    local, on_cluster, _log = _twice(
        workspace, blobstore, store_root, on_ray, make, [table.as_named_input("t")]
    )

    assert local == [f"{i} {2 * i}" for i in range(47)]
    assert on_cluster == local


def test_every_actor_reports_its_node_and_agent(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    on_ray: str,
    ray_head: RayHead,
) -> None:
    import ray

    _files(store_root, 6)
    docs = Dataset.File.from_files((blobstore, "docs/*.txt"))
    config = _config(_source(tmp_path, WHERE), compute_target=on_ray, mini_batch_size=1)

    run = _run(workspace, blobstore, config, [docs.as_named_input("d")])

    assert run.get_status() == "Finished", step(run, "score").get_job_log()
    rows = [line.split() for line in _output(store_root)]
    assert [r[0] for r in rows] == [f"f{i:02d}.txt" for i in range(6)]
    assert {r[1] for r in rows} <= {"process000", "process001"}
    nodes = {r[2] for r in rows}
    assert len(nodes) == 1
    assert len(nodes.pop()) == 56  # a Ray node id (hex), not "local"
    assert not ray.is_initialized()  # the test process never joined the cluster


def test_a_failing_mini_batch_on_ray_is_retried_then_fails_uncommitted(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    spy_dir: Path,  # noqa: F811
    on_ray: str,
) -> None:
    _files(store_root, 6)
    docs = Dataset.File.from_files((blobstore, "docs/*.txt"))
    config = _config(
        _source(tmp_path, FLAKY),
        compute_target=on_ray,
        mini_batch_size=2,
        run_max_try=2,
    )

    run = _run(workspace, blobstore, config, [docs.as_named_input("d")])

    assert run.get_status() == "Failed"
    log = step(run, "score").get_job_log()
    assert "2 failed items exceed error_threshold 0" in log
    assert not (store_root / "prs/out").exists()
    assert len((spy_dir / "tried-f02.txt").read_text()) == 2
    assert len((spy_dir / "tried-f00.txt").read_text()) == 2


def test_a_lost_or_overdue_actor_is_replaced_and_its_batch_retried(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    spy_dir: Path,  # noqa: F811
    on_ray: str,
) -> None:
    _files(store_root, 6)
    docs = Dataset.File.from_files((blobstore, "docs/*.txt"))
    config = _config(
        _source(tmp_path, SLOW_OR_KILL),
        compute_target=on_ray,
        mini_batch_size=2,
        run_invocation_timeout=3,
    )

    run = _run(workspace, blobstore, config, [docs.as_named_input("d")])

    log = step(run, "score").get_job_log()
    assert run.get_status() == "Finished", log
    assert _output(store_root) == [f"f{i:02d}.txt" for i in range(6)]
    assert "worker process000 was lost" in log or "worker process001 was lost" in log
    assert "the worker process exited with code -9" in log
    assert "did not return within run_invocation_timeout (3s)" in log
    assert os.path.exists(spy_dir / "seen-f04.txt")
