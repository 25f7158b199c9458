"""The step runner: one step run, start to end, on the machine where it runs.

``run_on_node(spec)`` takes a ``NodeSpec`` (plain data: a Ray task's argument) and,
on this node: fetches the code snapshot by its hash (once per node), binds the inputs
in their modes and stages the outputs (``node_prepare``), writes the process contract
(``AZUREML_*``, the context file), runs the script in its own session, and, when it
succeeded, hands each output's files to its datastore's staging prefix through
storage. It returns a small ``NodeResult``; the driver commits the staged outputs in
its one transaction. A failed or cancelled step leaves nothing staged. The phases
around the process (contract, hand over, result) are ``step_phases``' functions,
which a local step calls too.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING, Any

from dataferry.execution import process_contract, step_phases
from dataferry.execution.environments import resolve_environment
from dataferry.execution.executors import ray_task
from dataferry.execution.executors.ray_logs import LogTail
from dataferry.execution.materialise import release_inputs
from dataferry.execution.node_prepare import node_root, prepare_on_node
from dataferry.execution.run_layout import stderr_path, stdout_path

if TYPE_CHECKING:
    from dataferry.execution.node_prepare import NodeStep
    from dataferry.execution.node_spec import NodeResult, NodeSpec


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
        result = step_phases.finish(
            code,
            step.staged,
            step.folder,
            snapshot_fetched=step.snapshot_fetched,
            notes=step.notes,
        )
    except BaseException:
        step_phases.discard(step.staged)
        raise
    finally:
        release_inputs(step.inputs)
    if code != 0:
        step_phases.discard(step.staged)
    return result


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
    paths = {
        "stdout": str(stdout_path(step.folder)),
        "stderr": str(stderr_path(step.folder)),
    }
    tail = (
        LogTail(log_relay, spec.step_run_id, paths) if log_relay is not None else None
    )
    with tail or contextlib.nullcontext():  # made first: the notes are sent too
        command = step_phases.step_command(
            contract,
            step.folder,
            step.cwd,
            interpreter=resolved.interpreter,
            notes=step.notes,
            extra_env=spec.env,
        )
        return ray_task.run_step(dataclasses.asdict(command))
