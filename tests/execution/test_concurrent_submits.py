"""Eight processes submitting runs to one workspace at once, on SQLite and on
PostgreSQL: every run finishes, and every output is committed exactly once (one
catalog row per step run, its files on the datastore). The benchmark-sized round (50
runs per process) is benchmarks/catalog_rates.py."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from dataferry.catalog.schema import outputs

if TYPE_CHECKING:
    from dataferry import Workspace

pytestmark = pytest.mark.slow  # real submitting processes, drivers and steps

PROCESSES = 8
RUNS = 2  # per process

WRITE = "import sys\nopen(sys.argv[-1] + '/done.txt', 'w').write(sys.argv[1])\n"

SUBMITTER = """
import contextlib, io, json, sys
from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep, Workspace
from dataferry.execution.views import wait_for_status

project, code, index, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ws = Workspace.from_config(project)
ids = []
for n in range(runs):
    out = OutputFileDatasetConfig(name="out")
    step = PythonScriptStep("write.py", name="write", arguments=[f"{index}-{n}", out],
                            source_directory=code, allow_reuse=False)
    with contextlib.redirect_stdout(io.StringIO()):
        ids.append(Pipeline(ws, steps=[step]).submit(f"p{index}").id)
print(json.dumps([wait_for_status(ws, r, timeout_s=600) for r in ids]))
"""


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``):
    the runs, their steps and their outputs are catalog rows written at once."""
    return catalog_workspace


def test_eight_processes_submitting_at_once_commit_every_output_once(
    workspace: Workspace, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "write.py").write_text(WRITE)
    script = tmp_path / "submit.py"
    script.write_text(textwrap.dedent(SUBMITTER))
    project = str(workspace.path.parent)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), project, str(code), str(i), str(RUNS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    statuses = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err
        statuses += json.loads(out)

    assert statuses == ["Finished"] * (PROCESSES * RUNS)
    with workspace.catalog.read() as conn:
        rows = conn.execute(
            select(outputs.c.step_run_id, func.count(), func.min(outputs.c.path))
            .where(outputs.c.name == "out")
            .group_by(outputs.c.step_run_id)
        ).all()
    assert [n for _, n, _ in rows] == [1] * (PROCESSES * RUNS)
    root = Path(workspace.get_default_datastore().location.root)
    written = sorted((root / path / "done.txt").read_text() for _, _, path in rows)
    expected = sorted(f"{i}-{n}" for i in range(PROCESSES) for n in range(RUNS))
    assert written == expected
