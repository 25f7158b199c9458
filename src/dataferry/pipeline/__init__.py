"""Pipeline layer: steps, data bindings, parameters and the graph. Pure: no I/O."""

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
    "ScriptRunConfig",
    "StepSequence",
]
