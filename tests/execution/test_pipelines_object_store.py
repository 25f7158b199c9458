"""A pipeline whose outputs live on a datastore without rename (an object store).

The datastore is a real folder behind fsspec's ``dir://`` filesystem, so the driver and
step processes share it while dataferry treats it like a blob container: outputs are
staged locally, uploaded under ``.dataferry-staging``, published by copy and marked.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import report, run_pipeline, step, write_script

from dataferry import Datastore, OutputFileDatasetConfig, Pipeline, PythonScriptStep

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

WRITER = """
import os, sys
for i in range(3):
    os.makedirs(os.path.join(sys.argv[1], "sub"), exist_ok=True)
    with open(os.path.join(sys.argv[1], "sub" if i else "", f"part-{i}.csv"), "w") as fh:
        fh.write(f"n\\n{i}\\n")
"""

READER = """
import json, os, sys
folder = sys.argv[2]
found = sorted(
    os.path.relpath(os.path.join(d, n), folder)
    for d, _, names in os.walk(folder) for n in names
)
with open(sys.argv[1], "w") as fh:
    json.dump(found, fh)
"""

FILES = ["part-0.csv", "sub/part-1.csv", "sub/part-2.csv"]


def files_under(folder: Path) -> list[str]:
    found = [os.path.join(d, n) for d, _, ns in os.walk(folder) for n in ns]
    return sorted(os.path.relpath(f, folder) for f in found)


@pytest.mark.slow
def test_outputs_on_an_object_store_run_and_are_reused(
    workspace: Workspace, tmp_path: Path
) -> None:
    root = tmp_path / "bucket"
    root.mkdir()
    remote = Datastore.register_fsspec(
        workspace,
        "remote",
        "dir://",
        path=str(root),
        target_protocol="file",
        target_options={"auto_mkdir": True},
    )
    code = write_script(tmp_path / "code", "writer.py", WRITER)
    write_script(code, "reader.py", READER)
    out = OutputFileDatasetConfig(
        "made", destination=(remote, "made/{run-id}")
    ).as_upload()
    seen = tmp_path / "seen.json"
    writer = PythonScriptStep(
        "writer.py", name="writer", source_directory=str(code), arguments=[out]
    )
    reader = PythonScriptStep(
        "reader.py",
        name="reader",
        source_directory=str(code),
        arguments=[str(seen), out.as_input("made").as_download()],
        allow_reuse=False,
    )

    first = run_pipeline(Pipeline(workspace, [writer, reader]))

    w = step(first, "writer")
    assert first.get_status() == "Finished", w.get_job_log()
    assert report(seen) == FILES
    made = root / "made" / w.id
    assert files_under(made) == [".dataferry-committed", *FILES]
    marker = json.loads((made / ".dataferry-committed").read_text())
    assert {k: v["size"] for k, v in marker["files"].items()} == dict.fromkeys(FILES, 4)
    assert files_under(root / ".dataferry-staging") == []

    seen.unlink()
    second = run_pipeline(Pipeline(workspace, [writer, reader]))

    assert second.get_status() == "Finished"
    assert step(second, "writer").get_details()["explanation"] == (
        f"reused from run {first.id} (step run {w.id})"
    )
    assert report(seen) == FILES
