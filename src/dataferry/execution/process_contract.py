"""What a step's process is given, as Azure ML gives it: command line, environment, context.

The environment carries the ``AZUREML_*`` variables a script written for Azure ML reads
(run id, workspace, data references, dataset inputs and file outputs) and an
``AML_PARAMETER_*`` variable per pipeline parameter the step uses; the context file is
what ``Run.get_context()`` reads inside the step. Pure functions of what the driver
bound and staged: nothing here reads or writes storage.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dataferry.execution.plan_values import (
    ArgumentItem,
    InputArg,
    LiteralArg,
    OutputArg,
    ParamArg,
    ParamRef,
)
from dataferry.execution.run_layout import context_file

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from dataferry.execution.commit import StagedOutput
    from dataferry.execution.materialise import BoundInput
    from dataferry.execution.plan_model import PlanNode


class WorkspaceNames(Protocol):
    """What a step is told of its workspace: a ``Workspace`` on the driver, a
    ``node_spec.WorkspaceIdentity`` on a node that has no catalog."""

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def subscription_id(self) -> str | None: ...
    @property
    def resource_group(self) -> str | None: ...


@dataclass(frozen=True)
class StepProcess:
    """One step run as its process sees it: the node, where it belongs, what it got.

    ``run_type`` is the kind of run the step belongs to (``azureml.PipelineRun``, or
    ``azureml.scriptrun`` for the one step that runs a script run) and
    ``run_parent_id`` the run that submitted that run (``submit_child``), if any: a
    script's ``Run.get_context()`` is the script run, so it needs both."""

    workspace: WorkspaceNames
    run_id: str
    experiment: str
    parameters: Mapping[str, Any]
    node: PlanNode
    step_run_id: str
    inputs: Sequence[BoundInput]
    staged: Sequence[StagedOutput]
    run_type: str = "azureml.PipelineRun"
    run_parent_id: str | None = None


def argument_value(ref: ArgumentItem, step: StepProcess) -> str:
    """One resolved argument: literal text, an input's path or dataset id, an output's
    folder, or a parameter's value (a dict as JSON)."""
    if isinstance(ref, LiteralArg):
        return ref.text
    if isinstance(ref, InputArg):
        return next(i.value for i in step.inputs if i.name == ref.name)
    if isinstance(ref, OutputArg):
        return str(next(o.write_dir for o in step.staged if o.name == ref.name))
    if isinstance(ref, ParamArg):
        value = ParamRef(ref.name).resolve(step.parameters)
        if isinstance(value, str):
            return value
        return json.dumps(value) if isinstance(value, dict) else str(value)
    return str(step.node.step_param(ref.name, step.parameters))


def argv(step: StepProcess, work_dir: Path, *, interpreter: str) -> list[str]:
    """The step's command line, as its kind builds it from the resolved arguments, run
    by ``interpreter`` (the step's resolved environment)."""
    node = step.node
    args = [argument_value(a, step) for a in node.arguments]
    return node.kind.argv(args, work_dir=work_dir, interpreter=interpreter)


def environment(step: StepProcess, folder: Path) -> dict[str, str]:
    """The step's environment: this process's, without any ``AZUREML_*`` or
    ``AML_PARAMETER_*`` of its own, plus the step environment's variables and the
    Azure ML contract for this step run."""
    node, ws = step.node, step.workspace
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AZUREML_", "AML_PARAMETER_"))
    }
    env.update({k: str(v) for k, v in node.environment.variables.items()})
    env.update(
        PYTHONUNBUFFERED="1",
        DATAFERRY_RUN_CONTEXT=str(context_file(folder)),
        AZUREML_RUN_ID=step.step_run_id,
        AZUREML_ARM_PROJECT_NAME=step.experiment,
        AZUREML_ARM_WORKSPACE_NAME=ws.name,
        AZUREML_OUTPUT_DIRECTORY="./outputs",
    )
    if ws.subscription_id:
        env["AZUREML_ARM_SUBSCRIPTION"] = ws.subscription_id
    if ws.resource_group:
        env["AZUREML_ARM_RESOURCEGROUP"] = ws.resource_group
    env.update(_data_references(step))
    for key in node.params:
        env["AML_PARAMETER_" + key] = str(node.step_param(key, step.parameters))
    for arg in node.arguments:  # in Azure ML an argument parameter is $AML_PARAMETER_x
        if isinstance(arg, ParamArg):
            name = re.sub(r"[~\W]", "_", arg.name)
            env["AML_PARAMETER_" + name] = argument_value(arg, step)
    return env


def _data_references(step: StepProcess) -> dict[str, str]:
    """``AZUREML_DATAREFERENCE_<name>`` for every input and output; a dataset input or
    a file output also under its own name, listed in the variables that name them."""
    env: dict[str, str] = {}
    dataset_inputs = []
    for bound in step.inputs:
        env[f"AZUREML_DATAREFERENCE_{bound.name}"] = bound.value
        if bound.style == "dataset":
            env[bound.name] = bound.value
            dataset_inputs.append(f"{bound.name}:{bound.mode}")
    env["AZUREML_DATASET_ENVIRONMENT_VARS"] = ",".join(dataset_inputs)
    file_outputs = []
    for staged in step.staged:
        env[f"AZUREML_DATAREFERENCE_{staged.name}"] = str(staged.write_dir)
        if staged.spec.type == "dataset_output":
            env[staged.name] = str(staged.write_dir)
            file_outputs.append(staged.name)
    env["AZUREML_DATASET_FILE_OUTPUTS"] = ";".join(file_outputs)
    return env


def context(step: StepProcess) -> dict[str, Any]:
    """What ``Run.get_context()`` reads inside the step (written to its context file)."""
    return {
        "workspace": str(step.workspace.path),
        "run_id": step.step_run_id,
        "parent_run_id": step.run_id,
        "run_type": step.run_type,
        "run_parent_id": step.run_parent_id,
        "experiment": step.experiment,
        "step_name": step.node.name,
        "inputs": {
            b.name: {"mode": b.mode, "value": b.value, "style": b.style}
            for b in step.inputs
        },
        "outputs": {
            o.name: {"path": str(o.write_dir), "type": o.spec.type} for o in step.staged
        },
    }


def write_context(step: StepProcess, folder: Path) -> None:
    """Write the context file into the step's folder."""
    context_file(folder).write_text(json.dumps(context(step), indent=2))
