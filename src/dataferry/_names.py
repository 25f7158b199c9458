"""The one table of public names: what ``dataferry`` exports, and what each module of
the ``azureml`` compatibility package (``compat/``) serves.

``EXPORTS`` is ``dataferry``'s own namespace (name -> defining module). ``AZUREML``
maps each SDK module path to the names v1 code imports from it, each to
``"module:attribute"``; a name ``dataferry`` exports is given as :func:`_exported`, so
both packages hand out the same object. Only plain data here: ``import dataferry`` and
``import azureml.core`` read this table and import nothing else.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

DATAFERRY_VERSION: Final = "0.1.0"
# the SDK release whose API is mirrored, with dataferry's version as a local label
# (PEP 440), so "VERSION >= 1.x" checks in v1 code pass and the origin is visible
AZUREML_VERSION: Final = f"1.61.0+dataferry.{DATAFERRY_VERSION}"

_DATA = "dataferry.data"
_PIPELINE = "dataferry.pipeline"
_COMPUTE = "dataferry.data.compute"
_AUTH = "dataferry.data.authentication"

EXPORTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "AbstractDataset": _DATA,
        "AmlCompute": _COMPUTE,
        "AzureBlobDatastore": _DATA,
        "AzureCliAuthentication": _AUTH,
        "AzureDataLakeGen2Datastore": _DATA,
        "AzureFileDatastore": _DATA,
        "CommandStep": _PIPELINE,
        "ComputeTarget": _COMPUTE,
        "CondaDependencies": _PIPELINE,
        "DataPath": _DATA,
        "DataPathComputeBinding": _DATA,
        "DataReference": _DATA,
        "DataType": _DATA,
        "Dataset": _DATA,
        "DatasetConsumptionConfig": _DATA,
        "Datastore": _DATA,
        "Environment": _PIPELINE,
        "Estimator": _PIPELINE,
        "EstimatorStep": _PIPELINE,
        "Experiment": "dataferry.execution.experiment",
        "FileDataset": _DATA,
        "FileDatasetFactory": _DATA,
        "InputPortBinding": _PIPELINE,
        "InteractiveLoginAuthentication": _AUTH,
        "LocalTarget": _COMPUTE,
        "Model": "dataferry.execution.model",
        "MsiAuthentication": _AUTH,
        "OutputFileDatasetConfig": _PIPELINE,
        "OutputTabularDatasetConfig": _PIPELINE,
        "ParallelRunConfig": _PIPELINE,
        "ParallelRunStep": _PIPELINE,
        "Pipeline": "dataferry.execution.pipeline",
        "PipelineData": _PIPELINE,
        "PipelineEndpoint": "dataferry.execution.pipeline_endpoint",
        "PipelineParameter": _PIPELINE,
        "PipelineRun": "dataferry.execution.pipeline_run",
        "PortDataReference": "dataferry.execution.pipeline_run",
        "PublishedPipeline": "dataferry.execution.published",
        "PythonScriptStep": _PIPELINE,
        "Run": "dataferry.execution.run_context",
        "RunConfiguration": _PIPELINE,
        "Schedule": "dataferry.execution.schedule",
        "ScheduleRecurrence": _PIPELINE,
        "ScriptRun": "dataferry.execution.script_run",
        "ScriptRunConfig": _PIPELINE,
        "ServicePrincipalAuthentication": _AUTH,
        "StepRun": "dataferry.execution.pipeline_run",
        "StepSequence": _PIPELINE,
        "TabularDataset": _DATA,
        "TabularDatasetFactory": _DATA,
        "TimeZone": _PIPELINE,
        "TokenAuthentication": _AUTH,
        "Workspace": _DATA,
    }
)


def _exported(*names: str) -> dict[str, str]:
    """``name -> "module:name"`` for names ``dataferry`` exports (KeyError otherwise)."""
    return {name: f"{EXPORTS[name]}:{name}" for name in names}


def _from(module: str, *names: str) -> dict[str, str]:
    """``name -> "module:name"`` for names ``dataferry`` does not export."""
    return {name: f"{module}:{name}" for name in names}


def _azure_only(*names: str) -> dict[str, str]:
    return _from("dataferry.azure_only", *names)


_SRC = _PIPELINE + ".script_run_config"
_DISTRIBUTED = ("MpiConfiguration", "TensorflowConfiguration", "PyTorchConfiguration")
_IMAGES = _from(_COMPUTE + "_config", "DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE")
# the azureml.opendatasets classes public samples use
OPEN_DATASETS: Final = (
    "Diabetes",
    "MNIST",
    "NycTlcGreen",
    "NycTlcYellow",
    "NycTlcFhv",
    "OjSalesSimulated",
    "PublicHolidays",
    "NoaaIsdWeather",
    "NoaaGfsWeather",
    "UsPopulationCounty",
    "UsPopulationZip",
    "SanFranciscoSafety",
    "SeattleSafety",
    "ChicagoSafety",
    "BostonSafety",
    "NewYorkCitySafety",
)
_HYPERDRIVE = (
    "HyperDriveConfig",
    "RandomParameterSampling",
    "GridParameterSampling",
    "BayesianParameterSampling",
    "BanditPolicy",
    "MedianStoppingPolicy",
    "TruncationSelectionPolicy",
    "NoTerminationPolicy",
    "PrimaryMetricGoal",
    "choice",
    "uniform",
    "loguniform",
    "normal",
    "quniform",
    "randint",
)

AZUREML: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "azureml.core": {
            **_exported(
                "Workspace",
                "Datastore",
                "Dataset",
                "Experiment",
                "Run",
                "Environment",
                "RunConfiguration",
                "ComputeTarget",
                "ScriptRunConfig",
                "ScriptRun",
                "Model",
            ),
            "VERSION": "dataferry._names:AZUREML_VERSION",
        },
        "azureml.core.workspace": _exported("Workspace"),
        "azureml.core.datastore": _exported("Datastore"),
        "azureml.core.dataset": _exported("Dataset"),
        "azureml.core.experiment": _exported("Experiment"),
        "azureml.core.run": _exported("Run"),
        "azureml.core.script_run": _exported("ScriptRun"),
        "azureml.core.script_run_config": _exported("ScriptRunConfig"),
        "azureml.core.environment": {
            **_exported("Environment", "CondaDependencies"),
            **_from(_PIPELINE + ".environment", "PythonSection", "DockerSection"),
            **_IMAGES,
        },
        "azureml.core.conda_dependencies": _exported("CondaDependencies"),
        "azureml.core.runconfig": {
            **_exported("RunConfiguration", "CondaDependencies"),
            **_from(_SRC, *_DISTRIBUTED, "DockerConfiguration"),
            **_IMAGES,
        },
        "azureml.core.compute": {
            **_exported("ComputeTarget", "AmlCompute"),
            **_azure_only(
                "AksCompute",
                "ComputeInstance",
                "DatabricksCompute",
                "AdlaCompute",
                "BatchCompute",
                "HDInsightCompute",
                "KubernetesCompute",
                "SynapseCompute",
                "KustoCompute",
            ),
        },
        "azureml.core.compute.amlcompute": {
            **_exported("AmlCompute"),
            **_from(_COMPUTE, "AmlComputeStatus"),
            **_from(_COMPUTE + "_config", "AmlComputeProvisioningConfiguration"),
        },
        "azureml.core.compute_target": {
            **_exported("LocalTarget"),
            **_from("dataferry.errors", "ComputeTargetException"),
        },
        "azureml.core.authentication": {
            **_exported(
                "InteractiveLoginAuthentication",
                "ServicePrincipalAuthentication",
                "AzureCliAuthentication",
                "MsiAuthentication",
                "TokenAuthentication",
            ),
            **_from(_AUTH, "AbstractAuthentication"),
        },
        "azureml.core.model": {**_exported("Model"), **_azure_only("InferenceConfig")},
        "azureml.core.webservice": _azure_only(
            "Webservice", "AciWebservice", "AksWebservice", "LocalWebservice"
        ),
        "azureml.data": _exported(
            "FileDataset",
            "TabularDataset",
            "OutputFileDatasetConfig",
            "OutputTabularDatasetConfig",
            "DataType",
        ),
        "azureml.data.output_dataset_config": {
            **_exported("OutputFileDatasetConfig", "OutputTabularDatasetConfig"),
            **_from(_PIPELINE, "OutputDatasetConfig"),
        },
        "azureml.data.data_reference": _exported("DataReference"),
        "azureml.data.datapath": _exported("DataPath", "DataPathComputeBinding"),
        "azureml.data.dataset_consumption_config": _exported(
            "DatasetConsumptionConfig"
        ),
        "azureml.data.file_dataset": _exported("FileDataset"),
        "azureml.data.tabular_dataset": _exported("TabularDataset"),
        "azureml.data.dataset_factory": _exported(
            "TabularDatasetFactory", "FileDatasetFactory", "DataType"
        ),
        "azureml.data.azure_storage_datastore": _exported(
            "AzureBlobDatastore", "AzureFileDatastore"
        ),
        "azureml.data.azure_data_lake_datastore": _exported(
            "AzureDataLakeGen2Datastore"
        ),
        "azureml.pipeline.core": {
            **_exported(
                "Pipeline",
                "PipelineData",
                "PipelineParameter",
                "PipelineRun",
                "StepRun",
                "StepSequence",
                "PortDataReference",
                "InputPortBinding",
                "PublishedPipeline",
                "PipelineEndpoint",
            ),
            **_from(_PIPELINE, "PipelineStep"),
            **_exported("Schedule", "ScheduleRecurrence", "TimeZone"),
        },
        "azureml.pipeline.core.graph": _exported(
            "PipelineParameter", "PipelineData", "InputPortBinding"
        ),
        "azureml.pipeline.core.pipeline": _exported("Pipeline"),
        "azureml.pipeline.core.schedule": _exported(
            "Schedule", "ScheduleRecurrence", "TimeZone"
        ),
        "azureml.pipeline.core.pipeline_endpoint": _exported("PipelineEndpoint"),
        "azureml.pipeline.core.run": _exported(
            "PipelineRun", "StepRun", "PortDataReference"
        ),
        "azureml.pipeline.steps": {
            **_exported(
                "PythonScriptStep",
                "CommandStep",
                "EstimatorStep",
                "ParallelRunStep",
                "ParallelRunConfig",
            ),
            **_azure_only(
                "AutoMLStep",
                "HyperDriveStep",
                "DatabricksStep",
                "AdlaStep",
                "AzureBatchStep",
                "SynapseSparkStep",
                "KustoStep",
            ),
        },
        "azureml.pipeline.steps.parallel_run_config": _exported("ParallelRunConfig"),
        "azureml.pipeline.steps.parallel_run_step": _exported("ParallelRunStep"),
        # the helper entry scripts import (service-provided in Azure ML); the compat
        # distribution's ``azureml_user`` package serves it from this table
        "azureml_user.parallel_run": _from(
            "dataferry.execution.parallel.entry_script", "EntryScript"
        ),
        "azureml.train.automl": _azure_only("AutoMLConfig"),
        "azureml.train.hyperdrive": _azure_only(*_HYPERDRIVE),
        "azureml.train.estimator": _exported("Estimator"),
        "azureml.opendatasets": _azure_only(*OPEN_DATASETS),
        "azureml.widgets": _from("dataferry.execution.run_details", "RunDetails"),
        "azureml.exceptions": {
            **_from(
                "dataferry.errors",
                "ComputeTargetException",
                "UserErrorException",
                "ActivityFailedException",
                "RunConfigurationException",
                "ExperimentExecutionException",
            ),
            "WebserviceException": "dataferry.errors:ModelError",
            "ModelNotFoundException": "dataferry.errors:ModelNotFoundError",
            "ModelPathNotFoundException": "dataferry.errors:ModelPathNotFoundError",
            "AzureMLException": "dataferry.errors:DataferryError",
        },
    }
)
