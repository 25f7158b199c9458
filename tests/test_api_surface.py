"""The names users import, and what ``import dataferry`` costs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import dataferry

# The names the seeds (and the Azure ML SDK v1 data and pipeline API) use, as exported.
DATA_NAMES = {
    "AbstractDataset",
    "AzureBlobDatastore",
    "AzureDataLakeGen2Datastore",
    "AzureFileDatastore",
    "DataPath",
    "DataPathComputeBinding",
    "DataReference",
    "DataType",
    "Dataset",
    "DatasetConsumptionConfig",
    "Datastore",
    "FileDataset",
    "FileDatasetFactory",
    "TabularDataset",
    "TabularDatasetFactory",
    "Workspace",
}
PIPELINE_NAMES = {
    "CommandStep",
    "CondaDependencies",
    "Environment",
    "Estimator",
    "EstimatorStep",
    "InputPortBinding",
    "OutputFileDatasetConfig",
    "OutputTabularDatasetConfig",
    "ParallelRunConfig",
    "ParallelRunStep",
    "PipelineData",
    "PipelineParameter",
    "PythonScriptStep",
    "RunConfiguration",
    "ScheduleRecurrence",
    "ScriptRunConfig",
    "StepSequence",
    "TimeZone",
}
EXECUTION_NAMES = {
    "Experiment",
    "Model",
    "Pipeline",
    "PipelineEndpoint",
    "PublishedPipeline",
    "PipelineRun",
    "PortDataReference",
    "Run",
    "Schedule",
    "ScriptRun",
    "StepRun",
}
COMPUTE_NAMES = {"AmlCompute", "ComputeTarget", "LocalTarget"}
AUTH_NAMES = {
    "AzureCliAuthentication",
    "InteractiveLoginAuthentication",
    "MsiAuthentication",
    "ServicePrincipalAuthentication",
    "TokenAuthentication",
}
EXPORTED = DATA_NAMES | PIPELINE_NAMES | EXECUTION_NAMES | COMPUTE_NAMES | AUTH_NAMES

HEAVY = (
    "pandas",
    "pyarrow",
    "sqlalchemy",
    "alembic",
    "ray",
    "adlfs",
    "fsspec",
    "numpy",
)


def test_all_is_pinned() -> None:
    assert set(dataferry.__all__) == EXPORTED


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_every_name_resolves(name: str) -> None:
    value = getattr(dataferry, name)

    assert value.__name__ == name
    assert value.__doc__


@pytest.mark.parametrize(
    ("names", "package"),
    [
        (DATA_NAMES, "dataferry.data"),
        (PIPELINE_NAMES, "dataferry.pipeline"),
        (EXECUTION_NAMES, "dataferry.execution"),
        (COMPUTE_NAMES, "dataferry.data.compute"),
        (AUTH_NAMES, "dataferry.data.authentication"),
    ],
    ids=["data", "pipeline", "execution", "compute", "authentication"],
)
def test_names_come_from_their_layer(names: set[str], package: str) -> None:
    module = importlib.import_module(package)

    for name in names:
        assert getattr(dataferry, name) is getattr(module, name)


def test_unknown_name() -> None:
    with pytest.raises(
        AttributeError, match="module 'dataferry' has no attribute 'Nope'"
    ):
        _ = dataferry.Nope  # type: ignore[attr-defined]


def test_dir_lists_the_lazy_names() -> None:
    assert set(dir(dataferry)) >= EXPORTED


def test_version() -> None:
    assert dataferry.__version__ == "0.1.0"


def imported_by(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


@pytest.mark.parametrize("statement", ["import dataferry", "import dataferry.errors"])
def test_import_is_cheap(statement: str) -> None:
    modules = imported_by(statement)

    heavy = {m for m in modules if m.split(".")[0] in HEAVY}
    assert heavy == set()
    assert not {"dataferry.data", "dataferry.pipeline", "dataferry.execution"} & modules


def test_errors_module_imports_nothing_else_from_dataferry() -> None:
    modules = imported_by("import dataferry.errors")

    # dataferry._lazy is the package's own name loader (importlib only) and
    # dataferry._names its table of names (plain data)
    assert {m for m in modules if m.startswith("dataferry.")} == {
        "dataferry.errors",
        "dataferry._lazy",
        "dataferry._names",
    }
