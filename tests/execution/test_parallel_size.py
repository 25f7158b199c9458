"""A ParallelRunStep's workers must fit its compute target: refused at submit."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import nothing_written

from dataferry import (
    AmlCompute,
    ComputeTarget,
    Dataset,
    Environment,
    OutputFileDatasetConfig,
    ParallelRunConfig,
    ParallelRunStep,
    Pipeline,
    PipelineParameter,
)
from dataferry.errors import ParallelRunSizeError
from dataferry.execution.parallel_size import check_parallel_sizes
from dataferry.execution.submission import WorkspaceFacts, read_facts

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Datastore, Workspace

CORES = os.cpu_count() or 1


def _pipeline(
    workspace: Workspace,
    blobstore: Datastore,
    tmp_path: Path,
    target: object,
    nodes: object,
    per_node: int,
) -> Pipeline:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "score.py").write_text("def run(mini_batch):\n    return mini_batch\n")
    config = ParallelRunConfig(
        environment=Environment("prs"),
        entry_script="score.py",
        error_threshold=0,
        output_action="append_row",
        compute_target=target,
        node_count=nodes,
        process_count_per_node=per_node,
        source_directory=str(src),
    )
    docs = Dataset.File.from_files((blobstore, "docs/a.txt"), validate=False)
    out = OutputFileDatasetConfig(name="scores", destination=(blobstore, "prs/out"))
    step = ParallelRunStep("score", config, [docs.as_named_input("docs")], out)
    return Pipeline(workspace, [step])


@pytest.fixture
def cluster(workspace: Workspace) -> str:
    config = AmlCompute.provisioning_configuration(max_nodes=2)
    ComputeTarget.create(workspace, "cpu-cluster", config)
    return "cpu-cluster"


def test_more_nodes_than_the_target_has_is_refused_at_submit(
    workspace: Workspace, blobstore: Datastore, tmp_path: Path, cluster: str
) -> None:
    pipeline = _pipeline(workspace, blobstore, tmp_path, cluster, 3, 1)

    with pytest.raises(
        ParallelRunSizeError,
        match=r"'score' asks for node_count 3 x process_count_per_node 1 = 3 workers, "
        r"but compute target 'cpu-cluster' has max_nodes 2; lower node_count",
    ):
        pipeline.submit("prs")
    assert nothing_written(workspace)


def test_more_processes_per_node_than_cores_is_refused(
    workspace: Workspace, blobstore: Datastore, tmp_path: Path, cluster: str
) -> None:
    pipeline = _pipeline(workspace, blobstore, tmp_path, cluster, 1, CORES + 1)

    with pytest.raises(
        ParallelRunSizeError,
        match=rf"process_count_per_node {CORES + 1} = {CORES + 1} workers, but a node "
        rf"of compute target 'cpu-cluster' is this machine, which has {CORES} cores",
    ):
        pipeline.submit("prs")


def test_a_node_count_parameter_is_checked_with_the_submitted_value(
    workspace: Workspace, blobstore: Datastore, tmp_path: Path, cluster: str
) -> None:
    nodes = PipelineParameter("nodes", default_value=1)
    pipeline = _pipeline(workspace, blobstore, tmp_path, cluster, nodes, 1)

    with pytest.raises(ParallelRunSizeError, match=r"node_count 5 x .* max_nodes 2"):
        pipeline.submit("prs", pipeline_parameters={"nodes": 5})


def test_sizes_within_the_target_or_on_no_recorded_target_pass(
    workspace: Workspace, blobstore: Datastore, tmp_path: Path, cluster: str
) -> None:
    fits = _pipeline(workspace, blobstore, tmp_path, cluster, 2, CORES)
    unrecorded = _pipeline(workspace, blobstore, tmp_path, "elsewhere", 9, 9)
    none = _pipeline(workspace, blobstore, tmp_path, None, 4, 1)

    for pipeline in (fits, unrecorded, none):
        assert check_parallel_sizes(pipeline, {cluster: 2}, {}) is None


def test_the_targets_sizes_reach_the_script_in_the_workspace_facts(
    workspace: Workspace, cluster: str
) -> None:
    # the agent reads them where the catalog is open; the script only gets the JSON
    facts = read_facts(workspace)
    sent = WorkspaceFacts.from_json(json.loads(json.dumps(facts.to_json())))

    assert facts.compute_nodes == {cluster: 2}
    assert sent == facts
