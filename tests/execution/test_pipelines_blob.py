"""Pipelines whose inputs and outputs live on an Azure Blob datastore (Azurite).

Every input mode (direct, mount, download) reads blob data; outputs in upload and mount
mode are staged under ``.dataferry-staging`` in the container, published by server-side
copy and marked committed; a blob datastore can be the workspace default.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from execution.blob_kit import blobs, put, register_blob
from pipeline.kit import report, run_pipeline, step, write_script

from dataferry import (
    DataPath,
    Dataset,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
)

if TYPE_CHECKING:
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Datastore, PipelineRun, Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]

# copies every file of its input (a folder or one file) into its output, upper-cased
COPY = """
import os, sys
source, target = sys.argv[1], sys.argv[2]
os.makedirs(target, exist_ok=True)
if os.path.isfile(source):
    names = [(os.path.dirname(source), os.path.basename(source))]
else:
    names = [(d, os.path.relpath(os.path.join(d, n), source))
             for d, _, ns in os.walk(source) for n in ns]
    names = [(source, rel) for _, rel in names]
for base, rel in sorted(names):
    os.makedirs(os.path.dirname(os.path.join(target, rel)) or target, exist_ok=True)
    with open(os.path.join(base, rel)) as fh, open(os.path.join(target, rel), "w") as out:
        out.write(fh.read().upper())
"""

# records what its input holds: {relative path: text}
LIST = """
import json, os, sys
source = sys.argv[2]
found = {}
for d, _, ns in os.walk(source):
    for n in ns:
        with open(os.path.join(d, n)) as fh:
            found[os.path.relpath(os.path.join(d, n), source)] = fh.read()
with open(sys.argv[1], "w") as fh:
    json.dump(found, fh)
"""

RAW = {"raw/a.csv": "n\nx\n", "raw/sub/b.csv": "n\ny\n"}


@pytest.fixture
def blob(workspace: Workspace, azurite: Azurite, blob_container: str) -> Datastore:
    """A blob datastore holding RAW."""
    store = register_blob(workspace, azurite, blob_container)
    put(store, RAW)
    return store


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = write_script(tmp_path / "code", "upper.py", COPY)
    return write_script(folder, "list.py", LIST)


UPPER = {"a.csv": "N\nX\n", "sub/b.csv": "N\nY\n"}


@pytest.mark.parametrize(
    ("source", "mode", "output_mode", "expected"),
    [
        ("raw", "mount", "mount", UPPER),
        ("raw/**/*.csv", "download", "upload", UPPER),
        ("raw/sub/b.csv", "mount", "upload", {"b.csv": "N\nY\n"}),
    ],
)
def test_file_inputs_and_outputs_on_blob(
    workspace: Workspace,
    blob: Datastore,
    code: Path,
    tmp_path: Path,
    source: str,
    mode: str,
    output_mode: str,
    expected: dict[str, str],
) -> None:
    named = Dataset.File.from_files(DataPath(blob, source)).as_named_input("raw")
    given = named.as_mount() if mode == "mount" else named.as_download()
    out = OutputFileDatasetConfig("made", destination=(blob, "made/{run-id}"))
    out = out.as_upload() if output_mode == "upload" else out.as_mount()
    seen = tmp_path / "seen.json"
    copy = PythonScriptStep(
        "upper.py", name="copy", source_directory=str(code), arguments=[given, out]
    )
    lister = PythonScriptStep(
        "list.py",
        name="list",
        source_directory=str(code),
        arguments=[str(seen), getattr(out.as_input("made"), f"as_{mode}")()],
    )

    run = run_pipeline(Pipeline(workspace, [copy, lister]))

    made = step(run, "copy")
    assert run.get_status() == "Finished", made.get_job_log()
    assert report(seen) == expected
    committed = blobs(blob, f"made/{made.id}")
    marker = json.loads(committed.pop(".dataferry-committed"))
    assert committed == expected
    assert sorted(marker["files"]) == sorted(expected)
    assert blobs(blob, ".dataferry-staging") == {}


# reads its direct (tabular) input as a data frame and writes it to its output
TABULAR = """
import os, sys
from dataferry import Run
df = Run.get_context().input_datasets["rows"].to_pandas_dataframe()
os.makedirs(sys.argv[1], exist_ok=True)
df.assign(n=df["n"] * 10).to_csv(os.path.join(sys.argv[1], "rows.csv"), index=False)
"""


def test_a_direct_input_and_the_default_destination_on_a_default_blob_datastore(
    workspace: Workspace, blob: Datastore, code: Path, tmp_path: Path
) -> None:
    put(blob, {"rows/1.csv": "n,label\n1,a\n", "rows/2.csv": "n,label\n2,b\n"})
    blob.set_as_default()
    rows = Dataset.Tabular.from_delimited_files(DataPath(blob, "rows/*.csv"))
    write_script(code, "tabular.py", TABULAR)
    out = OutputFileDatasetConfig("scaled")  # no destination: the default datastore
    registered = out.register_on_complete("scaled_rows")
    scale = PythonScriptStep(
        "tabular.py",
        name="scale",
        source_directory=str(code),
        inputs=[rows.as_named_input("rows")],
        arguments=[registered],
    )

    run = run_pipeline(Pipeline(workspace, [scale]))

    made = step(run, "scale")
    assert run.get_status() == "Finished", made.get_job_log()
    written = made.get_output_data("scaled")
    assert (written.datastore_name, written.path_on_datastore) == (
        "blob",
        f"dataset/{made.id}/scaled",
    )
    committed = blobs(blob, written.path_on_datastore)
    assert sorted(committed) == [".dataferry-committed", "rows.csv"]
    assert committed["rows.csv"] == "n,label\n10,a\n20,b\n"
    again = Dataset.get_by_name(workspace, "scaled_rows")
    assert again.to_path() == ["/rows.csv"]

    # a later run reads the registered output by name, from blob
    seen = tmp_path / "seen.json"
    lister = PythonScriptStep(
        "list.py",
        name="list",
        source_directory=str(code),
        arguments=[str(seen), again.as_named_input("scaled").as_download()],
    )
    later = run_pipeline(Pipeline(workspace, [lister]))

    assert later.get_status() == "Finished", step(later, "list").get_job_log()
    assert report(seen) == {"rows.csv": "n,label\n10,a\n20,b\n"}


def test_an_overwritten_destination_on_blob_holds_the_last_runs_files(
    workspace: Workspace, blob: Datastore, code: Path
) -> None:
    """A destination without {run-id}: a run refuses to write over it unless the output
    is ``as_upload(overwrite=True)``; then new files win and old ones stay (as on a
    local datastore), and the output never reads as a mix."""

    def once(overwrite: bool) -> PipelineRun:
        named = Dataset.File.from_files(DataPath(blob, "raw")).as_named_input("raw")
        out = OutputFileDatasetConfig("made", destination=(blob, "shared/made"))
        copy = PythonScriptStep(
            "upper.py",
            name="copy",
            source_directory=str(code),
            arguments=[named.as_download(), out.as_upload(overwrite=overwrite)],
            allow_reuse=False,
        )
        return run_pipeline(Pipeline(workspace, [copy]))

    assert once(overwrite=True).get_status() == "Finished"
    put(blob, {"raw/a.csv": "n\nz\n", "raw/c.csv": "n\nc\n"})
    blob.location.fs.rm_file(blob.location.full_path("raw/sub/b.csv"))
    refused = once(overwrite=False)

    assert refused.get_status() == "Failed"
    assert step(refused, "copy").get_details()["error"] == (
        "Output path already exist: output 'made' would be written to "
        "blob:/shared/made, which holds data already. Put {run-id} in the "
        "destination, or use as_upload(overwrite=True) to replace it."
    )
    assert blobs(blob, "shared/made")["a.csv"] == "N\nX\n"

    replaced = once(overwrite=True)

    assert replaced.get_status() == "Finished", step(replaced, "copy").get_details()
    committed = blobs(blob, "shared/made")
    marker = json.loads(committed.pop(".dataferry-committed"))
    assert committed == {"a.csv": "N\nZ\n", "c.csv": "N\nC\n", "sub/b.csv": "N\nY\n"}
    assert sorted(marker["files"]) == ["a.csv", "c.csv", "sub/b.csv"]
    assert blobs(blob, ".dataferry-staging") == {}
