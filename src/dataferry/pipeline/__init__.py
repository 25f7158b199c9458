"""Pipeline layer: steps, data bindings, parameters and the graph. Pure: no I/O.

``ScheduleRecurrence`` and ``TimeZone`` are imported on first use (PEP 562): their
module is built on dataclasses, which a script that only submits does not load.
"""

from typing import TYPE_CHECKING, Any

from dataferry.pipeline.graph import Node, PipelineGraph
from dataferry.pipeline.outputs import (
    InputPortBinding,
    OutputDatasetConfig,
    OutputFileDatasetConfig,
    OutputTabularDatasetConfig,
    PipelineData,
    PipelineOutputFileDataset,
    PipelineOutputTabularDataset,
)
from dataferry.pipeline.parallel_config import ParallelRunConfig
from dataferry.pipeline.parallel_step import ParallelRunStep
from dataferry.pipeline.parameters import PipelineParameter
from dataferry.pipeline.runconfig import (
    CondaDependencies,
    Environment,
    Estimator,
    RunConfiguration,
)
from dataferry.pipeline.script_run_config import ScriptRunConfig
from dataferry.pipeline.steps import (
    CommandStep,
    EstimatorStep,
    PipelineStep,
    PythonScriptStep,
    StepSequence,
)

if TYPE_CHECKING:
    from dataferry.pipeline.schedule_recurrence import ScheduleRecurrence, TimeZone

_ON_FIRST_USE = frozenset({"ScheduleRecurrence", "TimeZone"})


def __getattr__(name: str) -> Any:
    if name in _ON_FIRST_USE:
        from dataferry.pipeline import schedule_recurrence

        return getattr(schedule_recurrence, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CommandStep",
    "CondaDependencies",
    "Environment",
    "Estimator",
    "EstimatorStep",
    "InputPortBinding",
    "Node",
    "OutputDatasetConfig",
    "OutputFileDatasetConfig",
    "OutputTabularDatasetConfig",
    "ParallelRunConfig",
    "ParallelRunStep",
    "PipelineData",
    "PipelineGraph",
    "PipelineOutputFileDataset",
    "PipelineOutputTabularDataset",
    "PipelineParameter",
    "PipelineStep",
    "PythonScriptStep",
    "RunConfiguration",
    "ScheduleRecurrence",
    "ScriptRunConfig",
    "StepSequence",
    "TimeZone",
]
