"""Execution layer: submitting, driving and watching runs; the run context inside steps.

Names load on first use: a step that only does ``from dataferry import Run`` should not
pay for the catalog, Arrow and the pipeline machinery before it needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry._lazy import lazy_exports

if TYPE_CHECKING:
    from dataferry.execution.experiment import Experiment as Experiment
    from dataferry.execution.model import Model as Model
    from dataferry.execution.pipeline import Pipeline as Pipeline
    from dataferry.execution.pipeline_endpoint import (
        PipelineEndpoint as PipelineEndpoint,
    )
    from dataferry.execution.pipeline_run import (
        PipelineRun as PipelineRun,
    )
    from dataferry.execution.pipeline_run import (
        PortDataReference as PortDataReference,
    )
    from dataferry.execution.pipeline_run import (
        StepRun as StepRun,
    )
    from dataferry.execution.pipeline_run import (
        StepRunOutput as StepRunOutput,
    )
    from dataferry.execution.published import (
        PublishedPipeline as PublishedPipeline,
    )
    from dataferry.execution.run_context import (
        Run as Run,
    )
    from dataferry.execution.run_context import (
        RunEnvironmentException as RunEnvironmentException,
    )
    from dataferry.execution.schedule import Schedule as Schedule
    from dataferry.execution.script_run import ScriptRun as ScriptRun

_LAZY = {
    "Experiment": "dataferry.execution.experiment",
    "Model": "dataferry.execution.model",
    "Pipeline": "dataferry.execution.pipeline",
    "PipelineEndpoint": "dataferry.execution.pipeline_endpoint",
    "PipelineRun": "dataferry.execution.pipeline_run",
    "PortDataReference": "dataferry.execution.pipeline_run",
    "PublishedPipeline": "dataferry.execution.published",
    "Run": "dataferry.execution.run_context",
    "RunEnvironmentException": "dataferry.execution.run_context",
    "Schedule": "dataferry.execution.schedule",
    "ScriptRun": "dataferry.execution.script_run",
    "StepRun": "dataferry.execution.pipeline_run",
    "StepRunOutput": "dataferry.execution.pipeline_run",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
