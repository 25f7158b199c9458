"""Names of Azure ML services dataferry does not provide: they import, and fail when used.

A v1 notebook imports AutoML, HyperDrive, Databricks steps or web services at its top
even when the cell that uses them is never run. Each name here is a class that imports
fine and raises :class:`~dataferry.errors.AzureOnlyError`, naming itself and the
service, as soon as it is called or any of its attributes is read.
"""

from __future__ import annotations

from typing import Any, NoReturn

from dataferry._names import OPEN_DATASETS
from dataferry.errors import AzureOnlyError


class AzureOnlyMeta(type):
    """The metaclass of Azure-only names: calling one or reading an attribute fails."""

    _service: str
    _where: str

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise AzureOnlyError(_message(cls.__name__, cls._service, cls._where))

    def __getattr__(cls, name: str) -> Any:
        # private and dunder names stay AttributeErrors, so introspection (help(),
        # IPython's display hooks, copy, pickle) sees a plain class
        if name.startswith("_"):
            raise AttributeError(name)
        raise AzureOnlyError(
            _message(f"{cls.__name__}.{name}", cls._service, cls._where)
        )


AZURE_ML = "the Azure ML service"


def _message(what: str, service: str, where: str = AZURE_ML) -> str:
    """What an Azure-only use says: the service it needs and where that service runs
    (Azure ML, or another Azure service: Open Datasets are not Azure ML's)."""
    return (
        f"{what} is Azure-only: it needs {service}, which runs in {where} and has no "
        "local equivalent in dataferry. Run this part of the program on Azure, or "
        "replace it with a PythonScriptStep or script run that does the work locally."
    )


def refuse(what: str, service: str, where: str = AZURE_ML) -> NoReturn:
    """Raise the ``AzureOnlyError`` for ``what`` (a method, say), which needs
    ``service``, run by ``where`` (the Azure service, Azure ML unless given).

    Raises:
        AzureOnlyError: always.
    """
    raise AzureOnlyError(_message(what, service, where))


def azure_only(name: str, service: str, where: str = AZURE_ML) -> type:
    """A class called ``name`` that raises ``AzureOnlyError`` naming ``service`` (run
    by ``where``, the Azure service; Azure ML unless given) on use."""
    doc = f"Azure-only ({service}): importable, raises AzureOnlyError when used."
    namespace = {"__doc__": doc, "_service": service, "_where": where}
    return AzureOnlyMeta(name, (), namespace)


_AUTOML = "automated ML (AutoML)"
_HYPERDRIVE = "hyperparameter tuning (HyperDrive)"
_DEPLOY = "model deployment to Azure web services"
_OPEN_DATA = "Azure Open Datasets (public data read from Azure storage)"

_SERVICES = {  # the Azure service that runs each kind, where it is not Azure ML
    "an Azure Databricks workspace": "Azure Databricks",
    "Azure Data Lake Analytics": "Azure Data Lake Analytics",
    "Azure Batch": "Azure Batch",
    "an Azure Synapse Spark pool": "Azure Synapse Analytics",
    "an Azure HDInsight cluster": "Azure HDInsight",
    "Azure Data Explorer (Kusto)": "Azure Data Explorer",
    "an Azure Kubernetes Service cluster": "Azure Kubernetes Service",
    "an Azure Arc Kubernetes cluster": "Azure Arc",
    _OPEN_DATA: "the Azure Open Datasets catalog",
}

AZURE_ONLY: dict[str, type] = {
    name: azure_only(name, service, _SERVICES.get(service, AZURE_ML))
    for name, service in (
        ("AutoMLConfig", _AUTOML),
        ("AutoMLStep", _AUTOML),
        ("HyperDriveConfig", _HYPERDRIVE),
        ("HyperDriveStep", _HYPERDRIVE),
        ("RandomParameterSampling", _HYPERDRIVE),
        ("GridParameterSampling", _HYPERDRIVE),
        ("BayesianParameterSampling", _HYPERDRIVE),
        ("BanditPolicy", _HYPERDRIVE),
        ("MedianStoppingPolicy", _HYPERDRIVE),
        ("TruncationSelectionPolicy", _HYPERDRIVE),
        ("NoTerminationPolicy", _HYPERDRIVE),
        ("PrimaryMetricGoal", _HYPERDRIVE),
        ("choice", _HYPERDRIVE),
        ("uniform", _HYPERDRIVE),
        ("loguniform", _HYPERDRIVE),
        ("normal", _HYPERDRIVE),
        ("quniform", _HYPERDRIVE),
        ("randint", _HYPERDRIVE),
        ("DatabricksStep", "an Azure Databricks workspace"),
        ("DatabricksCompute", "an Azure Databricks workspace"),
        ("AdlaStep", "Azure Data Lake Analytics"),
        ("AdlaCompute", "Azure Data Lake Analytics"),
        ("AzureBatchStep", "Azure Batch"),
        ("BatchCompute", "Azure Batch"),
        ("SynapseSparkStep", "an Azure Synapse Spark pool"),
        ("SynapseCompute", "an Azure Synapse Spark pool"),
        ("HDInsightCompute", "an Azure HDInsight cluster"),
        ("KustoStep", "Azure Data Explorer (Kusto)"),
        ("KustoCompute", "Azure Data Explorer (Kusto)"),
        ("AksCompute", "an Azure Kubernetes Service cluster"),
        ("KubernetesCompute", "an Azure Arc Kubernetes cluster"),
        ("ComputeInstance", "an Azure ML compute instance (a VM)"),
        ("InferenceConfig", _DEPLOY),
        ("Webservice", _DEPLOY),
        ("AciWebservice", _DEPLOY),
        ("AksWebservice", _DEPLOY),
        ("LocalWebservice", _DEPLOY),
        *((name, _OPEN_DATA) for name in OPEN_DATASETS),
    )
}


def __getattr__(name: str) -> type:
    """``dataferry.azure_only.AutoMLConfig`` and the rest (the name table points here)."""
    try:
        return AZURE_ONLY[name]
    except KeyError:
        raise AttributeError(
            f"module 'dataferry.azure_only' has no attribute {name!r}"
        ) from None
