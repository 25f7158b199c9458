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

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise AzureOnlyError(_message(cls.__name__, cls._service))

    def __getattr__(cls, name: str) -> Any:
        # private and dunder names stay AttributeErrors, so introspection (help(),
        # IPython's display hooks, copy, pickle) sees a plain class
        if name.startswith("_"):
            raise AttributeError(name)
        raise AzureOnlyError(_message(f"{cls.__name__}.{name}", cls._service))


def _message(what: str, service: str) -> str:
    return (
        f"{what} is Azure-only: it needs {service}, which runs in the Azure ML service "
        "and has no local equivalent in dataferry. Run this part of the program on "
        "Azure ML, or replace it with a PythonScriptStep or script run that does the "
        "work locally."
    )


def refuse(what: str, service: str) -> NoReturn:
    """Raise the ``AzureOnlyError`` for ``what`` (a method, say), which needs ``service``.

    Raises:
        AzureOnlyError: always.
    """
    raise AzureOnlyError(_message(what, service))


def azure_only(name: str, service: str) -> type:
    """A class called ``name`` that raises ``AzureOnlyError`` naming ``service`` on use."""
    doc = f"Azure-only ({service}): importable, raises AzureOnlyError when used."
    return AzureOnlyMeta(name, (), {"__doc__": doc, "_service": service})


_AUTOML = "automated ML (AutoML)"
_HYPERDRIVE = "hyperparameter tuning (HyperDrive)"
_DEPLOY = "model deployment to Azure web services"
_OPEN_DATA = "Azure Open Datasets (public data read from Azure storage)"

AZURE_ONLY: dict[str, type] = {
    name: azure_only(name, service)
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
