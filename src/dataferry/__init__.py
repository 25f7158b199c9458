"""dataferry: ML pipelines whose steps pass data to each other, locally or on Ray.

The names are those of the Azure ML SDK v1 data API, so code written against it runs
with only its imports changed. They are loaded on first use, so ``import dataferry``
(and ``dataferry --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataferry.data import (
        AbstractDataset,
        AzureBlobDatastore,
        AzureDataLakeGen2Datastore,
        AzureFileDatastore,
        DataPath,
        DataPathComputeBinding,
        DataReference,
        Dataset,
        DatasetConsumptionConfig,
        Datastore,
        DataType,
        FileDataset,
        FileDatasetFactory,
        TabularDataset,
        TabularDatasetFactory,
        Workspace,
    )
    from dataferry.execution import Experiment, Pipeline, PipelineRun, PortDataReference, Run, StepRun
    from dataferry.pipeline import (
        CommandStep,
        CondaDependencies,
        Environment,
        Estimator,
        EstimatorStep,
        InputPortBinding,
        OutputFileDatasetConfig,
        OutputTabularDatasetConfig,
        PipelineData,
        PipelineParameter,
        PythonScriptStep,
        RunConfiguration,
        StepSequence,
    )

__version__ = "0.1.0"

_LAZY = {
    "AbstractDataset": "dataferry.data",
    "AzureBlobDatastore": "dataferry.data",
    "AzureDataLakeGen2Datastore": "dataferry.data",
    "AzureFileDatastore": "dataferry.data",
    "DataPath": "dataferry.data",
    "DataPathComputeBinding": "dataferry.data",
    "DataReference": "dataferry.data",
    "DataType": "dataferry.data",
    "Dataset": "dataferry.data",
    "DatasetConsumptionConfig": "dataferry.data",
    "Datastore": "dataferry.data",
    "FileDataset": "dataferry.data",
    "FileDatasetFactory": "dataferry.data",
    "TabularDataset": "dataferry.data",
    "TabularDatasetFactory": "dataferry.data",
    "Workspace": "dataferry.data",
    "CommandStep": "dataferry.pipeline",
    "CondaDependencies": "dataferry.pipeline",
    "Environment": "dataferry.pipeline",
    "Estimator": "dataferry.pipeline",
    "EstimatorStep": "dataferry.pipeline",
    "Experiment": "dataferry.execution.experiment",
    "InputPortBinding": "dataferry.pipeline",
    "OutputFileDatasetConfig": "dataferry.pipeline",
    "OutputTabularDatasetConfig": "dataferry.pipeline",
    "Pipeline": "dataferry.execution.pipeline",
    "PipelineData": "dataferry.pipeline",
    "PipelineParameter": "dataferry.pipeline",
    "PipelineRun": "dataferry.execution.pipeline_run",
    "PortDataReference": "dataferry.execution.pipeline_run",
    "PythonScriptStep": "dataferry.pipeline",
    "Run": "dataferry.execution.run_context",
    "RunConfiguration": "dataferry.pipeline",
    "StepRun": "dataferry.execution.pipeline_run",
    "StepSequence": "dataferry.pipeline",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dataferry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
