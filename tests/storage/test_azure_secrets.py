"""Keys, SAS tokens and connection strings never reach the catalog, logs, errors or
the CLI's output: a test that uses them for everything and greps for them."""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from servers.azurite import ACCOUNT, KEY

from dataferry import DataPath, Dataset, Datastore
from dataferry.cli import app
from dataferry.errors import DataferryError

if TYPE_CHECKING:
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Workspace

pytestmark = pytest.mark.server

# well-formed, recognisable, and refused by Azurite
FAKE_KEY = "RkFLRS1TRUNSRVQtZGF0YWZlcnJ5LXNlY3JldC10ZXN0LTAwMDAwMDAwMDAwMDA="


def container_sas(container: str) -> str:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    return generate_container_sas(
        ACCOUNT,
        container,
        account_key=KEY,
        permission=ContainerSasPermissions(
            read=True, write=True, list=True, delete=True, create=True, add=True
        ),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )


def test_no_secret_is_written_logged_or_shown(
    workspace: Workspace,
    azurite: Azurite,
    blob_container: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint = azurite.endpoint
    keyed = Datastore.register_azure_blob_container(
        workspace, "keyed", blob_container, ACCOUNT, account_key=KEY,
        endpoint=endpoint, create_if_not_exists=True,
    )  # fmt: skip
    sas = container_sas(blob_container)
    signature = sas.split("sig=", 1)[1].split("&", 1)[0]
    signed = Datastore.register_azure_blob_container(
        workspace, "signed", blob_container, ACCOUNT, sas_token=sas, endpoint=endpoint
    )
    Datastore.register_azure_data_lake_gen2(
        workspace, "lake", blob_container, ACCOUNT,
        connection_string=azurite.connection_string,
    )  # fmt: skip
    # the usual: upload, list, read into pandas, register a dataset, download
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "t.csv").write_text("a,b\n1,x\n2,y\n")
    keyed.upload(str(tmp_path / "up"), target_path="in", show_progress=False)
    ds = Dataset.Tabular.from_delimited_files(DataPath(signed, "in/*.csv"))
    assert ds.to_pandas_dataframe()["a"].tolist() == [1, 2]
    ds.register(workspace, "t")
    assert signed.download(str(tmp_path / "down"), show_progress=False) == 1
    # and what fails: a refused key at registration, and at use
    failures: list[BaseException] = []
    with pytest.raises(DataferryError) as refused:
        Datastore.register_azure_blob_container(
            workspace, "fake", blob_container, ACCOUNT, account_key=FAKE_KEY,
            endpoint=endpoint,
        )  # fmt: skip
    failures.append(refused.value)
    fake = Datastore.register_azure_blob_container(
        workspace, "fake", blob_container, ACCOUNT, account_key=FAKE_KEY,
        endpoint=endpoint, skip_validation=True,
    )  # fmt: skip
    with pytest.raises(
        DataferryError, match="refused the datastore's credentials"
    ) as e:
        Dataset.File.from_files(DataPath(fake, "in"))
    failures.append(e.value)
    runner = CliRunner(env={"COLUMNS": "200"})
    project = str(workspace.path.parent)
    outputs = [
        runner.invoke(app, ["-w", project, "datastore", *args]).output
        for args in (["list"], ["show", "keyed"], ["show", "signed"], ["show", "fake"])
    ]

    secrets = {"account key": KEY, "fake key": FAKE_KEY, "SAS signature": signature}
    stored = b"".join(p.read_bytes() for p in workspace.path.glob("catalog.db*"))
    texts = {
        "catalog": stored.decode("latin-1"),
        "logs": caplog.text,
        "errors": "".join("".join(traceback.format_exception(exc)) for exc in failures),
        "CLI output": "".join(outputs),
        "show": repr([s._describe() for s in workspace.datastores.values()]),
    }
    leaks = [
        f"{what} in {where}"
        for what, secret in secrets.items()
        for where, text in texts.items()
        if secret in text
    ]
    assert leaks == []
    assert "no file" not in texts["CLI output"]


# copies its input folder into its output folder
COPY_STEP = """
import shutil, sys
shutil.copytree(sys.argv[1], sys.argv[2], dirs_exist_ok=True)
print("copied", sys.argv[1])
"""


@pytest.mark.slow
def test_no_secret_reaches_a_pipeline_runs_details_or_logs(
    workspace: Workspace,
    azurite: Azurite,
    blob_container: str,
    tmp_path: Path,
    local_agents: Path,
) -> None:
    from pipeline.kit import run_pipeline, write_script

    from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep

    endpoint = azurite.endpoint
    keyed = Datastore.register_azure_blob_container(
        workspace, "keyed", blob_container, ACCOUNT, account_key=KEY,
        endpoint=endpoint, create_if_not_exists=True,
    )  # fmt: skip
    sas = container_sas(blob_container)
    signature = sas.split("sig=", 1)[1].split("&", 1)[0]
    signed = Datastore.register_azure_blob_container(
        workspace, "signed", blob_container, ACCOUNT, sas_token=sas, endpoint=endpoint
    )
    fake = Datastore.register_azure_blob_container(
        workspace, "fake", blob_container, ACCOUNT, account_key=FAKE_KEY,
        endpoint=endpoint, skip_validation=True,
    )  # fmt: skip
    keyed.location.fs.pipe_file(f"{blob_container}/in/t.csv", b"a\n1\n")
    keyed.set_as_default()  # outputs without a destination land on the keyed store
    code = write_script(tmp_path / "code", "copy.py", COPY_STEP)
    made = OutputFileDatasetConfig("made")
    good = PythonScriptStep(
        "copy.py",
        name="good",
        source_directory=str(code),
        arguments=[
            Dataset.File.from_files(DataPath(signed, "in")).as_named_input("in")
            .as_download(),
            made,
        ],
    )  # fmt: skip
    refused = PythonScriptStep(
        "copy.py",
        name="refused",
        source_directory=str(code),
        arguments=[
            made.as_input("made").as_download(),
            OutputFileDatasetConfig("never", destination=(fake, "never")),
        ],
    )

    run = run_pipeline(Pipeline(workspace, [good, refused]))

    assert run.get_status() == "Failed"
    (failed,) = run.find_step_run("refused")
    assert failed.get_details()["error"].startswith(
        "committing outputs failed: step 'refused' (datastore 'fake', path 'never'): "
        "PermissionError: "
    )
    assert "refused the datastore's credentials (HTTP 403)" in str(failed.get_details())
    secrets = {"account key": KEY, "fake key": FAKE_KEY, "SAS signature": signature}
    texts = {
        "run details": repr(run.get_details()),
        "step details": repr([s.get_details() for s in run.get_steps()]),
        "step logs": "".join(s.get_job_log() for s in run.get_steps()),
    }
    texts |= {
        str(path): path.read_bytes().decode("latin-1")
        for folder in (workspace.path, local_agents)
        for path in folder.rglob("*")
        if path.is_file() and path.name != "secrets.json"  # where secrets belong
    }
    leaks = [
        f"{what} in {where}"
        for what, secret in secrets.items()
        for where, text in texts.items()
        if secret in text
    ]
    assert leaks == []
    assert any(where.endswith("/driver.log") for where in texts)  # it was read
