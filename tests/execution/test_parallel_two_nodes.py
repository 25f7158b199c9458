"""ParallelRunStep at scale on a real two-node Ray cluster (``servers.ray_nodes``: a
head here, a worker node in a network namespace; root and ``ip`` needed): 10,000 small
files and a 1 GiB CSV, read by actors on both nodes through a shared datastore folder,
every file and row processed once and the output file whole."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import step
from test_parallel_run_step import (
    _config,
    _source,
    compat_path,  # noqa: F401 (autouse: workers import this tree's dataferry)
)

from dataferry import (
    ComputeTarget,
    Dataset,
    OutputFileDatasetConfig,
    ParallelRunConfig,
    ParallelRunStep,
    Pipeline,
)
from dataferry.data.compute_ray import RayCompute

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from servers.ray_nodes import TwoNodes

    from dataferry import Datastore, PipelineRun, Workspace

# 10,000 files and 1 GiB through a real cluster take minutes on a loaded machine
pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(1800)]

FILES = 10_000
CSV_BYTES = 2**30  # the 1 GiB: the machine has the disk and memory for it

# each row names the node that read it: the worker's own address towards the head
PROBE = """\
import os, socket
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.connect((os.environ["HEAD_IP"], 1))
NODE = probe.getsockname()[0]
"""
COUNT_FILES = (
    PROBE
    + """
def run(mini_batch):
    return [f"{os.path.basename(p)} {len(open(p).read())} {NODE}" for p in mini_batch]
"""
)
COUNT_ROWS = (
    PROBE
    + """
def run(mini_batch):
    ids = mini_batch["id"]
    return [f"{ids.iloc[0]} {len(ids)} {int(ids.sum())} {NODE}"]
"""
)


@pytest.fixture(scope="module")
def nodes() -> Iterator[TwoNodes]:
    from servers.ray_cluster import RayUnavailable
    from servers.ray_nodes import NamespaceUnavailable, two_node_cluster

    try:
        with two_node_cluster(num_cpus=2) as cluster:
            yield cluster
    except NamespaceUnavailable as exc:
        pytest.skip(f"no two-node Ray cluster here: {exc}")
    except RayUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def both_nodes(
    workspace: Workspace,
    nodes: TwoNodes,
    store_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """A target on the whole cluster, the datastore's folder shared by both nodes."""
    monkeypatch.setenv("HEAD_IP", nodes.head_ip)
    config = RayCompute.provisioning_configuration(
        nodes.address, num_cpus=0, shared_folders=[str(store_root)]
    )
    ComputeTarget.create(workspace, "cluster", config)
    return "cluster"


def _run(
    workspace: Workspace, blobstore: Datastore, config: ParallelRunConfig, inputs: list
) -> PipelineRun:
    """Run the step to its end (minutes here, not the kit's 90 s)."""
    out = OutputFileDatasetConfig(name="scores", destination=(blobstore, "prs/out"))
    prs = ParallelRunStep("score", config, inputs=inputs, output=out)
    run = Pipeline(workspace, [prs]).submit("tests")
    run.wait_for_completion(
        show_output=False, raise_on_error=False, timeout_seconds=1500
    )
    return run


def _on_both_nodes(log: str, rows_from: set[str], nodes: TwoNodes) -> None:
    """The step's actors were pinned one to each node, and every row came from one
    of them (which node's actor is ready first decides how many each took)."""
    pinned = re.search(r"2 actors, 1 a node, on nodes (\w+), (\w+)", log)
    assert pinned is not None and pinned[1] != pinned[2], log
    assert rows_from <= {nodes.head_ip, nodes.worker_ip}


def _lines(store_root: Path) -> list[str]:
    text = (store_root / "prs/out/parallel_run_step.txt").read_text()
    assert text.endswith("\n")  # whole: no line cut short
    return text.splitlines()


def test_ten_thousand_files_on_both_nodes_each_once(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    nodes: TwoNodes,
    both_nodes: str,
) -> None:
    folder = store_root / "many"
    folder.mkdir()
    for i in range(FILES):
        (folder / f"f{i:05d}.txt").write_text("x" * (i % 50))
    docs = Dataset.File.from_files((blobstore, "many/*.txt"))
    config = _config(
        _source(tmp_path, COUNT_FILES),
        compute_target=both_nodes,
        node_count=2,
        process_count_per_node=1,
        mini_batch_size=100,
        run_invocation_timeout=120,
    )

    run = _run(workspace, blobstore, config, [docs.as_named_input("docs")])

    assert run.get_status() == "Finished", step(run, "score").get_job_log()
    rows = [line.split() for line in _lines(store_root)]
    assert [(name, int(size)) for name, size, _ in rows] == [
        (f"f{i:05d}.txt", i % 50) for i in range(FILES)
    ]
    _on_both_nodes(step(run, "score").get_job_log(), {n for *_, n in rows}, nodes)


def _write_csv(path: Path, size: int) -> int:
    """A CSV of at least ``size`` bytes, ids 0, 1, ... in order, written a block at a
    time (never held whole in memory); returns its row count."""
    rows, block = 0, 200_000
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fh.write("id,value,label\n")
        while fh.tell() < size:
            ids = range(rows, rows + block)
            # wide constant columns: a few Python operations per 60 bytes
            fh.write("".join([f"{i}{_REST}" for i in ids]))
            rows += block
    return rows


_REST = ",0.5," + "l" * 48 + "\n"


def test_a_one_gib_csv_on_both_nodes_every_row_once(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    nodes: TwoNodes,
    both_nodes: str,
) -> None:
    big = store_root / "big" / "big.csv"
    try:
        total = _write_csv(big, CSV_BYTES)
        table = Dataset.Tabular.from_delimited_files((blobstore, "big/big.csv"))
        config = _config(
            _source(tmp_path, COUNT_ROWS),
            compute_target=both_nodes,
            node_count=2,
            process_count_per_node=1,
            mini_batch_size="16MB",
            error_threshold=-1,  # one line per mini-batch, not per row
            run_invocation_timeout=600,
        )

        run = _run(workspace, blobstore, config, [table.as_named_input("big")])

        assert run.get_status() == "Finished", step(run, "score").get_job_log()
    finally:
        big.unlink(missing_ok=True)  # 1 GiB: not left for the session's end
    batches = sorted(
        (int(first), int(count), int(added), node)
        for first, count, added, node in (line.split() for line in _lines(store_root))
    )
    # the batches tile 0..total-1 exactly: no row missed, none read twice
    starts = [first for first, *_ in batches]
    ends = [first + count for first, count, *_ in batches]
    assert (starts[0], ends[-1], starts[1:]) == (0, total, ends[:-1])
    assert all(
        added == (first + first + count - 1) * count // 2
        for first, count, added, _ in batches
    )
    assert len(batches) >= CSV_BYTES // (16 * 2**20)
    log = step(run, "score").get_job_log()
    _on_both_nodes(log, {node for *_, node in batches}, nodes)
    assert os.path.getsize(store_root / "prs/out/parallel_run_step.txt") > 0
