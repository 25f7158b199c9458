"""The step runner: one step run, start to end, on the machine where it runs.

``run_on_node(spec)`` takes a ``NodeSpec`` (plain data: a Ray task's argument) and,
on this node: fetches the code snapshot by its hash (once per node), binds the inputs
in their modes and stages the outputs (``node_prepare``), writes the process contract
(``AZUREML_*``, the context file), runs the script in its own session, and, when it
succeeded, hands each output's files to its datastore's staging prefix through
storage. It returns a small ``NodeResult``; the driver commits the staged outputs in
its one transaction. A failed or cancelled step leaves nothing staged.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from dataferry.execution import process_contract
from dataferry.execution.environments import resolve_environment
from dataferry.execution.executors import ray_task
from dataferry.execution.executors.ray_logs import LogTail
from dataferry.execution.materialise import release_inputs
from dataferry.execution.node_prepare import node_root, prepare_on_node
from dataferry.execution.node_spec import NodeResult, StagedOnNode
from dataferry.execution.run_layout import stderr_path, stdout_path

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dataferry.execution.commit import StagedOutput
    from dataferry.execution.node_prepare import NodeStep
    from dataferry.execution.node_spec import NodeSpec


def run_on_node(spec: NodeSpec, log_relay: Any = None) -> NodeResult:
    """Run one step here (see the module docstring); return its result.

    ``log_relay``: a ``ray_logs.LogRelay`` actor handle; when given, what the
    script writes to stdout and stderr is sent to it as the step runs (the driver
    appends it to the run's log files), the last of it before this returns.

    Raises:
        StepSpecError: the spec lacks the snapshot or a datastore the step uses.
        StorageError: a datastore failed while binding, staging or handing over.
        EnvironmentBuildError: the step's environment cannot be built on this node.
        KeyboardInterrupt: the task was cancelled; the script's group was stopped
            and what it staged discarded.
    """
    step = prepare_on_node(spec)
    try:
        code = _run_script(spec, step, log_relay)
        staged = tuple(_hand_over(o) for o in step.staged) if code == 0 else ()
    except BaseException:
        _discard(step)
        raise
    finally:
        release_inputs(step.inputs)
    if code != 0:
        _discard(step)
    return NodeResult(
        code, staged, step.snapshot_fetched, str(step.folder), tuple(step.notes)
    )


def _run_script(spec: NodeSpec, step: NodeStep, log_relay: Any) -> int:
    """Write the contract and run the step's command (its logs sent to
    ``log_relay`` as it runs, when given); its exit code."""
    node = spec.node
    env_root = node_root(spec)  # the environment cache is the node's: built once
    resolved = resolve_environment(node.environment, env_root)
    step.notes.extend(resolved.notes)
    contract = process_contract.StepProcess(
        spec.workspace,
        spec.run_id,
        spec.experiment,
        spec.parameters,
        node,
        spec.step_run_id,
        step.inputs,
        step.staged,
        run_type=spec.run_type,
        run_parent_id=spec.run_parent_id,
    )
    process_contract.write_context(contract, step.folder)
    out, err = stdout_path(step.folder), stderr_path(step.folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = {"stdout": str(out), "stderr": str(err)}
    tail = (
        LogTail(log_relay, spec.step_run_id, paths) if log_relay is not None else None
    )
    with tail or contextlib.nullcontext():
        with open(out, "a", encoding="utf-8") as fh:
            fh.writelines(f"dataferry: {note}\n" for note in step.notes)
        return _run_command(contract, step, spec.env, resolved.interpreter)


def _run_command(
    contract: process_contract.StepProcess,
    step: NodeStep,
    env: Mapping[str, str],
    interpreter: str,
) -> int:
    """Run the step's command in its own session; its exit code."""
    return ray_task.run_step(
        {
            "argv": process_contract.argv(contract, step.cwd, interpreter=interpreter),
            "cwd": str(step.cwd),
            "env": {**process_contract.environment(contract, step.folder), **env},
            "stdout_path": str(stdout_path(step.folder)),
            "stderr_path": str(stderr_path(step.folder)),
        }
    )


def _hand_over(staged: StagedOutput) -> StagedOnNode:
    """Put what the step wrote at its datastore's staging prefix for this output
    (already there on a local-folder datastore, which stages in place)."""
    location, write_dir = staged.location, staged.write_dir
    prefix = location.staging.staging_prefix(staged.step_run_id, staged.name)
    if not os.path.lexists(write_dir):
        write_dir.mkdir(parents=True)  # nothing written: an empty output, as locally
    files = _listed(write_dir)
    if location.local_path(location.full_path(prefix)) is None:
        pairs = [
            (
                str(write_dir / rel) if rel else str(write_dir),
                f"{prefix}/{rel}".rstrip("/"),
            )
            for rel in files
        ]
        location.put_files(pairs, overwrite=True, show_progress=False)
    return StagedOnNode(staged.name, location.name, staged.path, prefix, files)


def _listed(write_dir: os.PathLike[str]) -> dict[str, int]:
    """``{relative path: size}`` of the output's files (``{"": size}``: one file)."""
    if os.path.isfile(write_dir):
        return {"": os.path.getsize(write_dir)}
    files = {}
    for dirpath, _dirs, names in os.walk(write_dir):
        for name in names:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, write_dir).replace(os.sep, "/")
            files[rel] = os.path.getsize(full)
    return files


def _discard(step: NodeStep) -> None:
    """Remove what a step that did not succeed staged, here and on its datastores."""
    for staged in step.staged:
        with contextlib.suppress(OSError):
            staged.location.staging.discard(staged.place)
