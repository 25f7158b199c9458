"""The azureml package: every module path of the one name table, the same objects as
dataferry's, Azure-only names that fail when used, and no shadowing of the real SDK."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import dataferry
from dataferry._names import AZUREML, AZUREML_VERSION, EXPORTS
from dataferry.errors import AzureOnlyError

# the module paths issue 9 lists; the table may serve more, never fewer
ISSUE_PATHS = {
    "azureml.core", "azureml.core.run", "azureml.core.compute",
    "azureml.core.compute_target", "azureml.core.conda_dependencies",
    "azureml.core.environment", "azureml.core.runconfig", "azureml.core.authentication",
    "azureml.core.model", "azureml.core.dataset", "azureml.core.datastore",
    "azureml.core.experiment", "azureml.core.workspace", "azureml.data",
    "azureml.data.output_dataset_config", "azureml.data.data_reference",
    "azureml.data.datapath", "azureml.data.dataset_consumption_config",
    "azureml.data.file_dataset", "azureml.data.tabular_dataset", "azureml.pipeline.core",
    "azureml.pipeline.core.graph", "azureml.pipeline.core.pipeline",
    "azureml.pipeline.core.run", "azureml.pipeline.steps", "azureml.widgets",
    "azureml.exceptions",
}  # fmt: skip
SERVED = sorted((path, name) for path, names in AZUREML.items() for name in names)
HEAVY = (
    "pandas",
    "pyarrow",
    "sqlalchemy",
    "alembic",
    "fsspec",
    "numpy",
    "importlib.metadata",
)


def test_every_issue_module_path_is_served() -> None:
    assert set(AZUREML) >= ISSUE_PATHS


def test_the_table_is_pinned() -> None:
    assert set(AZUREML) == ISSUE_PATHS | {
        "azureml.core.compute.amlcompute",
        "azureml.core.webservice",
        "azureml.data.dataset_factory",
        "azureml.data.azure_storage_datastore",
        "azureml.data.azure_data_lake_datastore",
        "azureml.train.automl",
        "azureml.train.hyperdrive",
        "azureml.train.estimator",
        "azureml.core.script_run",
        "azureml.core.script_run_config",
        "azureml.opendatasets",
        "azureml.pipeline.steps.parallel_run_config",
        "azureml.pipeline.steps.parallel_run_step",
        "azureml_user.parallel_run",
        "azureml.pipeline.core.pipeline_endpoint",
        "azureml.pipeline.core.schedule",
    }
    assert set(AZUREML["azureml.core"]) == {
        "Workspace", "Datastore", "Dataset", "Experiment", "Run", "Environment",
        "RunConfiguration", "ComputeTarget", "Model", "VERSION", "ScriptRunConfig", "ScriptRun",
    }  # fmt: skip


@pytest.mark.parametrize(("path", "name"), SERVED, ids=[f"{p}.{n}" for p, n in SERVED])
def test_every_name_imports(path: str, name: str) -> None:
    value = getattr(importlib.import_module(path), name)

    if name in EXPORTS:  # the very object dataferry exports
        assert value is getattr(dataferry, name)
    assert value is not None


def test_version() -> None:
    from azureml.core import VERSION

    assert VERSION == AZUREML_VERSION == f"1.61.0+dataferry.{dataferry.__version__}"


@pytest.mark.parametrize("path", sorted(AZUREML))
def test_every_served_module_has_a_file(path: str) -> None:
    module = importlib.import_module(path)

    served_by = importlib.import_module("azureml").__file__
    assert module.__file__ == served_by
    assert served_by is not None
    assert Path(served_by).is_file()


def test_dir_and_all() -> None:
    import azureml.core.compute as compute

    assert set(compute.__all__) == set(AZUREML["azureml.core.compute"])
    assert set(dir(compute)) >= set(compute.__all__)


def test_unknown_name_is_an_import_error() -> None:
    with pytest.raises(ImportError, match="cannot import name 'RunDetailz'"):
        from azureml.widgets import RunDetailz  # type: ignore[attr-defined]  # noqa: F401


def test_unknown_attribute_says_what_is_served() -> None:
    import azureml.core

    with pytest.raises(
        AttributeError,
        match=r"module 'azureml.core' has no attribute 'Nope': dataferry does not "
        r"provide it \(the names it serves are in dataferry._names.AZUREML\)",
    ):
        _ = azureml.core.Nope  # type: ignore[attr-defined]


class TestAzureOnly:
    @pytest.mark.parametrize(
        ("path", "name", "service"),
        [
            ("azureml.train.automl", "AutoMLConfig", "automated ML"),
            ("azureml.train.hyperdrive", "HyperDriveConfig", "HyperDrive"),
            ("azureml.pipeline.steps", "DatabricksStep", "Databricks"),
            ("azureml.pipeline.steps", "AutoMLStep", "automated ML"),
            ("azureml.core.webservice", "AciWebservice", "deployment"),
            ("azureml.core.model", "InferenceConfig", "deployment"),
            ("azureml.core.compute", "AksCompute", "Kubernetes"),
            ("azureml.opendatasets", "Diabetes", "Azure Open Datasets"),
            ("azureml.opendatasets", "MNIST", "Azure Open Datasets"),
        ],
    )
    def test_using_one_names_it(self, path: str, name: str, service: str) -> None:
        cls = getattr(importlib.import_module(path), name)

        with pytest.raises(
            AzureOnlyError, match=f"{name} is Azure-only: it needs .*{service}"
        ):
            cls(name="x", workspace=None)

    def test_an_open_dataset_imports_and_fails_when_read(self) -> None:
        from azureml.opendatasets import Diabetes  # type: ignore[import-not-found]

        with pytest.raises(
            AzureOnlyError,
            match=r"Diabetes.get_tabular_dataset is Azure-only: it needs Azure Open "
            r"Datasets \(public data read from Azure storage\)",
        ):
            Diabetes.get_tabular_dataset()

    @pytest.mark.parametrize(
        ("path", "name", "where"),
        [
            ("azureml.opendatasets", "Diabetes", "the Azure Open Datasets catalog"),
            ("azureml.opendatasets", "NycTlcGreen", "the Azure Open Datasets catalog"),
            ("azureml.pipeline.steps", "DatabricksStep", "Azure Databricks"),
            ("azureml.core.compute", "SynapseCompute", "Azure Synapse Analytics"),
            ("azureml.pipeline.steps", "KustoStep", "Azure Data Explorer"),
            ("azureml.train.automl", "AutoMLConfig", "the Azure ML service"),
            ("azureml.core.webservice", "Webservice", "the Azure ML service"),
        ],
    )
    def test_the_message_names_the_service_that_runs_it(
        self, path: str, name: str, where: str
    ) -> None:
        cls = getattr(importlib.import_module(path), name)

        with pytest.raises(AzureOnlyError) as caught:
            cls.get_tabular_dataset()
        message = str(caught.value)
        assert f", which runs in {where} and has no local equivalent" in message
        assert message.endswith(
            "Run this part of the program on Azure, or replace it with a "
            "PythonScriptStep or script run that does the work locally."
        )
        if where != "the Azure ML service":
            assert "Azure ML service" not in message

    def test_reading_an_attribute_is_using_it(self) -> None:
        from azureml.core.webservice import Webservice

        with pytest.raises(
            AzureOnlyError, match=r"Webservice.deploy_from_model is Azure-only"
        ):
            Webservice.deploy_from_model  # noqa: B018

    def test_introspection_still_works(self) -> None:
        from azureml.train.hyperdrive import choice

        assert choice.__name__ == "choice"
        assert "Azure-only" in (choice.__doc__ or "")
        assert not hasattr(choice, "_repr_html_")

    def test_the_error_is_a_runtime_error_with_an_exit_code(self) -> None:
        assert issubclass(AzureOnlyError, RuntimeError)
        assert AzureOnlyError.exit_code == 2


def _python(
    code: str, pythonpath: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={"PYTHONPATH": pythonpath, "PATH": "/usr/bin:/bin"},
    )


def test_import_costs_no_more_than_dataferry(compat_path: str) -> None:
    code = (
        "import sys, json; import dataferry; before = set(sys.modules); "
        "import azureml.core, azureml.data, azureml.pipeline.core, azureml.pipeline.steps; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    result = _python(code, compat_path)

    added = set(json.loads(result.stdout))
    assert not {m for m in added if m.startswith(HEAVY)}
    assert not {m for m in added if m.startswith("dataferry")}
    assert added - {m for m in added if m.startswith("azureml")} <= {
        "importlib.machinery"
    }


class TestNoShadowing:
    def test_refuses_next_to_the_real_sdk(
        self, compat_path: str, tmp_path: Path
    ) -> None:
        site = tmp_path / "site"
        dist = site / "azureml_core-1.61.0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: azureml-core\nVersion: 1.61.0\n"
        )

        result = _python("import azureml.core", f"{compat_path}:{site}")

        assert result.returncode == 1
        assert "CompatShadowError" in result.stderr
        assert "the Azure ML SDK 'azureml-core' is installed" in result.stderr
        assert str(dist) in result.stderr
        assert "compatibility package 'dataferry-azureml'" in result.stderr
        assert "pip uninstall dataferry-azureml" in result.stderr

    def test_egg_info_counts_too(self, compat_path: str, tmp_path: Path) -> None:
        (tmp_path / "azureml_core-1.0.egg-info").mkdir()

        result = _python(
            "from dataferry.errors import CompatShadowError\n"
            "try:\n    import azureml\nexcept CompatShadowError as e:\n"
            "    print(type(e).__mro__[1:3], e.exit_code)\n",
            f"{compat_path}:{tmp_path}",
        )

        assert "DataferryError" in result.stdout
        assert "ImportError" in result.stdout
        assert result.stdout.strip().endswith("2")

    def test_other_azureml_dists_are_fine(
        self, compat_path: str, tmp_path: Path
    ) -> None:
        (tmp_path / "azureml_mlflow-1.0.dist-info").mkdir()

        result = _python(
            "import azureml.core; print('ok')", f"{compat_path}:{tmp_path}"
        )

        assert result.stdout.strip() == "ok", result.stderr


def test_parallel_run_names_are_dataferrys(compat_path: str) -> None:
    code = (
        "from azureml.pipeline.steps import ParallelRunStep, ParallelRunConfig; "
        "from azureml_user.parallel_run import EntryScript; "
        "import dataferry; "
        "from dataferry.execution.parallel.entry_script import EntryScript as E; "
        "assert ParallelRunStep is dataferry.ParallelRunStep; "
        "assert ParallelRunConfig is dataferry.ParallelRunConfig; "
        "assert EntryScript is E and EntryScript() is EntryScript(); "
        "print(EntryScript().agent_name)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "process000"
