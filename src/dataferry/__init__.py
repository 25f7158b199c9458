"""dataferry: ML pipelines whose steps pass data to each other, locally or on Ray.

The names are those of the Azure ML SDK v1 data API, so code written against it runs
with only its imports changed (or unchanged, with the ``azureml`` package of
``compat/``). The table of names is ``dataferry._names``. They are loaded on first use, so ``import dataferry``
(and ``dataferry --help``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry._lazy import lazy_exports
from dataferry._names import DATAFERRY_VERSION, EXPORTS

if TYPE_CHECKING:
    from dataferry.data import (
        AbstractDataset as AbstractDataset,
    )
    from dataferry.data import (
        AzureBlobDatastore as AzureBlobDatastore,
    )
    from dataferry.data import (
        AzureDataLakeGen2Datastore as AzureDataLakeGen2Datastore,
    )
    from dataferry.data import (
        AzureFileDatastore as AzureFileDatastore,
    )
    from dataferry.data import (
        DataPath as DataPath,
    )
    from dataferry.data import (
        DataPathComputeBinding as DataPathComputeBinding,
    )
    from dataferry.data import (
        DataReference as DataReference,
    )
    from dataferry.data import (
        Dataset as Dataset,
    )
    from dataferry.data import (
        DatasetConsumptionConfig as DatasetConsumptionConfig,
    )
    from dataferry.data import (
        Datastore as Datastore,
    )
    from dataferry.data import (
        DataType as DataType,
    )
    from dataferry.data import (
        FileDataset as FileDataset,
    )
    from dataferry.data import (
        FileDatasetFactory as FileDatasetFactory,
    )
    from dataferry.data import (
        TabularDataset as TabularDataset,
    )
    from dataferry.data import (
        TabularDatasetFactory as TabularDatasetFactory,
    )
    from dataferry.data import (
        Workspace as Workspace,
    )
    from dataferry.data.authentication import (
        AzureCliAuthentication as AzureCliAuthentication,
    )
    from dataferry.data.authentication import (
        InteractiveLoginAuthentication as InteractiveLoginAuthentication,
    )
    from dataferry.data.authentication import (
        MsiAuthentication as MsiAuthentication,
    )
    from dataferry.data.authentication import (
        ServicePrincipalAuthentication as ServicePrincipalAuthentication,
    )
    from dataferry.data.authentication import (
        TokenAuthentication as TokenAuthentication,
    )
    from dataferry.data.compute import (
        AmlCompute as AmlCompute,
    )
    from dataferry.data.compute import (
        ComputeTarget as ComputeTarget,
    )
    from dataferry.data.compute import (
        LocalTarget as LocalTarget,
    )
    from dataferry.execution import (
        Experiment as Experiment,
    )
    from dataferry.execution import (
        Pipeline as Pipeline,
    )
    from dataferry.execution import (
        PipelineRun as PipelineRun,
    )
    from dataferry.execution import (
        PortDataReference as PortDataReference,
    )
    from dataferry.execution import (
        Run as Run,
    )
    from dataferry.execution import (
        StepRun as StepRun,
    )
    from dataferry.pipeline import (
        CommandStep as CommandStep,
    )
    from dataferry.pipeline import (
        CondaDependencies as CondaDependencies,
    )
    from dataferry.pipeline import (
        Environment as Environment,
    )
    from dataferry.pipeline import (
        Estimator as Estimator,
    )
    from dataferry.pipeline import (
        EstimatorStep as EstimatorStep,
    )
    from dataferry.pipeline import (
        InputPortBinding as InputPortBinding,
    )
    from dataferry.pipeline import (
        OutputFileDatasetConfig as OutputFileDatasetConfig,
    )
    from dataferry.pipeline import (
        OutputTabularDatasetConfig as OutputTabularDatasetConfig,
    )
    from dataferry.pipeline import (
        ParallelRunConfig as ParallelRunConfig,
    )
    from dataferry.pipeline import (
        ParallelRunStep as ParallelRunStep,
    )
    from dataferry.pipeline import (
        PipelineData as PipelineData,
    )
    from dataferry.pipeline import (
        PipelineParameter as PipelineParameter,
    )
    from dataferry.pipeline import (
        PythonScriptStep as PythonScriptStep,
    )
    from dataferry.pipeline import (
        RunConfiguration as RunConfiguration,
    )
    from dataferry.pipeline import (
        StepSequence as StepSequence,
    )

__version__ = DATAFERRY_VERSION

# the one table of names, shared with the azureml compatibility package (_names.py)
_LAZY = EXPORTS

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
