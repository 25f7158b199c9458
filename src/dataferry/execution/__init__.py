"""Execution layer: submitting, driving and watching runs; the run context inside steps."""

from dataferry.execution.experiment import Experiment
from dataferry.execution.pipeline import Pipeline
from dataferry.execution.pipeline_run import PipelineRun, PortDataReference, StepRun, StepRunOutput
from dataferry.execution.run_context import Run, RunEnvironmentException

__all__ = [
    "Experiment",
    "Pipeline",
    "PipelineRun",
    "PortDataReference",
    "Run",
    "RunEnvironmentException",
    "StepRun",
    "StepRunOutput",
]
