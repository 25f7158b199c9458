"""The pipeline layer is pure: building and validating a graph loads no heavy package
and reads no catalog. Checked in a fresh interpreter, where ``sys.modules`` tells."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

HEAVY = ("pyarrow", "pandas", "numpy", "sqlalchemy", "fsspec", "alembic")

# Phase 1 builds steps with every kind of port and no workspace: nothing heavy may be
# loaded. Phase 2 opens the workspace, a DataPath and a dataset (the data layer loads
# what those need), closes the catalog, then builds and validates a 3-step pipeline:
# that may load nothing heavy more, and must leave the catalog closed.
SCRIPT = """
import json, sys
HEAVY = {heavy!r}
def loaded(names):
    return sorted(n for n in names if n.split(".")[0] in HEAVY
                  or n.startswith(("dataferry.catalog", "dataferry.storage.location")))

from dataferry import (OutputFileDatasetConfig, Pipeline, PipelineData,
                       PipelineParameter, PythonScriptStep)
from dataferry.pipeline import InputPortBinding
src = {src!r}
raw = OutputFileDatasetConfig(name="raw")
mid = PipelineData("mid")
tabular = raw.read_delimited_files().random_split(0.5, seed=1)[0]
a = PythonScriptStep("step.py", name="a", source_directory=src, arguments=[raw],
                     outputs=[raw])
b = PythonScriptStep("step.py", name="b", source_directory=src,
                     arguments=["--n", PipelineParameter("n", default_value=3)],
                     inputs=[raw.as_input("raw"), tabular.as_input("half")],
                     outputs=[mid])
report = {{"steps_only": loaded(sys.modules)}}

from dataferry import DataPath, Dataset, Datastore, Workspace
from dataferry.data import DataPathComputeBinding
ws = Workspace.from_config({project!r})
store = Datastore.get(ws, "workspaceblobstore")
docs = DataPath(store, "docs")
files = Dataset.File.from_files(docs).as_named_input("docs").as_mount()
c = PythonScriptStep("step.py", name="c", source_directory=src,
                     inputs=[mid, files, (docs, DataPathComputeBinding(mode="download"))])
ws.close()
before = set(sys.modules)
pipeline = Pipeline(ws, steps=[c])
report["problems"] = pipeline.validate()
report["steps"] = [n.step.name for n in pipeline.topological_order()]
report["new"] = loaded(set(sys.modules) - before)
report["catalog_opened"] = ws._catalog is not None
print(json.dumps(report))
"""


def _run(script: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


class TestPurePipelineLayer:
    def test_import_loads_nothing_heavy(self) -> None:
        report = _run(
            "import json, sys, dataferry.pipeline\n"
            f"print(json.dumps({{'heavy': sorted(n for n in sys.modules if n.split('.')[0] in {HEAVY!r})}}))"
        )

        assert report == {"heavy": []}

    @pytest.mark.slow
    def test_build_and_validate_load_nothing_heavy_and_read_no_catalog(
        self, workspace: Workspace, src: Path, store_root: Path
    ) -> None:
        (store_root / "docs").mkdir()
        (store_root / "docs" / "a.txt").write_text("a")
        script = textwrap.dedent(SCRIPT).format(
            heavy=HEAVY, src=str(src), project=str(workspace.path)
        )

        report = _run(script)

        assert report == {
            "steps_only": [],
            "problems": [],
            "steps": ["a", "b", "c"],
            "new": [],
            "catalog_opened": False,
        }
