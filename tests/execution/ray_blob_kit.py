"""A two-node Ray cluster and a blob datastore both nodes reach, for step-runner tests
(``servers.ray_nodes``: root and ``ip``; Azurite through a forwarder on the head's veth
end, ``servers.forward``)."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

import pytest
from servers.azurite import ACCOUNT, KEY

from dataferry import (
    ComputeTarget,
    Datastore,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
)
from dataferry.data.compute_ray import RayCompute

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from servers.azurite import Azurite
    from servers.ray_nodes import TwoNodes

    from dataferry import Workspace
    from dataferry.execution.pipeline_run import PipelineRun

WAIT_S = 120


@contextlib.contextmanager
def two_nodes() -> Iterator[TwoNodes]:
    """A head and a worker node (the test skips where namespaces cannot be made)."""
    from servers.ray_cluster import RayUnavailable
    from servers.ray_nodes import NamespaceUnavailable, two_node_cluster

    try:
        with two_node_cluster() as cluster:
            yield cluster
    except NamespaceUnavailable as exc:
        pytest.skip(f"no two-node Ray cluster here: {exc}")
    except RayUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@contextlib.contextmanager
def blob_on_nodes(
    workspace: Workspace,
    azurite: Azurite,
    container: str,
    nodes: TwoNodes,
    lost_node_retries: int = 2,
) -> Iterator[Datastore]:
    """The datastore ``blob`` (Azurite at the head's veth address) and the targets
    ``onhead`` and ``onworker`` pinned by the label ``node``."""
    from servers.forward import forwarding

    with forwarding(nodes.head_ip, azurite.port) as port:
        store = Datastore.register_azure_blob_container(
            workspace,
            "blob",
            container,
            ACCOUNT,
            account_key=KEY,
            protocol="http",
            endpoint=f"{nodes.head_ip}:{port}",
            create_if_not_exists=True,
        )
        for name, label in (("onhead", "head"), ("onworker", "worker")):
            pin(workspace, nodes, name, label, lost_node_retries)
        yield store


def pin(
    workspace: Workspace, nodes: TwoNodes, name: str, label: str, retries: int
) -> None:
    """Create the Ray target ``name`` whose steps run on the node labelled ``label``."""
    config = RayCompute.provisioning_configuration(
        nodes.address,
        num_cpus=1,
        node_labels={"node": label},
        lost_node_retries=retries,
    )
    ComputeTarget.create(workspace, name, config)


def one_step(
    workspace: Workspace, blob: Datastore, code: Path, script: str, *args: str
) -> Pipeline:
    """A pipeline of the step ``work`` on the worker node, its output on ``blob``."""
    out = OutputFileDatasetConfig("out", destination=(blob, "out/{run-id}"))
    work = PythonScriptStep(
        script,
        name="work",
        source_directory=str(code),
        arguments=[out, *args],
        compute_target="onworker",
        allow_reuse=False,
    )
    return Pipeline(workspace, [work])


def wait_for(run: PipelineRun, done: Callable[[], bool], what: str) -> None:
    """Wait until ``done()`` while the run goes on; fail the test otherwise."""
    until = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < until, f"{what}: {run.get_details()}"
        assert run.get_status() not in ("Failed", "Canceled", "Finished"), what
        time.sleep(0.1)
