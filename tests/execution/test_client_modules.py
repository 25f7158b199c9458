"""Which dataferry modules a submitting script imports (issue 8, item 6).

Every module a script imports is start-up time paid on every ``python pipeline.py``.
The list is pinned so that a change which pulls more into the submitting script (the
catalog, SQLAlchemy through it, the driver) fails here and is made on purpose: the
local agent does the catalog's work, so the script needs none of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

# what a script that builds a chain of steps, submits it and waits imports, all told
CLIENT_MODULES = frozenset(
    {
        "dataferry",
        "dataferry._extras",
        "dataferry._lazy",
        "dataferry._names",
        "dataferry._record",
        "dataferry.catalog",
        "dataferry.catalog.status",
        "dataferry.data",
        "dataferry.data.abstract_dataset",
        "dataferry.data.column_types",
        "dataferry.data.compute_path",
        "dataferry.data.config",
        "dataferry.data.consumption",
        "dataferry.data.datapath",
        "dataferry.data.datastore",
        "dataferry.data.kinds",
        "dataferry.data.listing_scope",
        "dataferry.data.machine_paths",
        "dataferry.data.seeds",
        "dataferry.data.sources",
        "dataferry.data.url_credentials",
        "dataferry.data.workspace",
        "dataferry.data.workspace_details",
        "dataferry.errors",
        "dataferry.execution",
        "dataferry.execution.agent_client",
        "dataferry.execution.agent_protocol",
        "dataferry.execution.datastore_check",
        "dataferry.execution.environments",
        "dataferry.execution.environments.spec",
        "dataferry.execution.experiment",
        "dataferry.execution.metrics",
        "dataferry.execution.parallel_size",
        "dataferry.execution.pipeline",
        "dataferry.execution.pipeline_capture",
        "dataferry.execution.pipeline_run",
        "dataferry.execution.plan",
        "dataferry.execution.plan_inputs",
        "dataferry.execution.plan_json",
        "dataferry.execution.plan_model",
        "dataferry.execution.plan_values",
        "dataferry.execution.port_identity",
        "dataferry.execution.run_api",
        "dataferry.execution.run_children",
        "dataferry.execution.run_layout",
        "dataferry.execution.run_metrics",
        "dataferry.execution.run_models",
        "dataferry.execution.run_outputs",
        "dataferry.execution.shared_snapshots",
        "dataferry.execution.snapshot",
        "dataferry.execution.step_kinds",
        "dataferry.execution.submission",
        "dataferry.execution.views",
        "dataferry.pipeline",
        "dataferry.pipeline.bindings",
        "dataferry.pipeline.checks",
        "dataferry.pipeline.conda_dependencies",
        "dataferry.pipeline.environment",
        "dataferry.pipeline.gc_pause",
        "dataferry.pipeline.graph",
        "dataferry.pipeline.outputs",
        "dataferry.pipeline.parallel_config",
        "dataferry.pipeline.parallel_step",
        "dataferry.pipeline.parameters",
        "dataferry.pipeline.runconfig",
        "dataferry.pipeline.script_run_config",
        "dataferry.pipeline.step_resources",
        "dataferry.pipeline.steps",
        "dataferry.storage",
        "dataferry.storage.azure_shapes",
        "dataferry.storage.commit_marker",
        "dataferry.storage.hashing",
        "dataferry.storage.kinds",
        "dataferry.storage.location",
        "dataferry.storage.paths",
        "dataferry.storage.secrets",
        "dataferry.storage.spec",
        "dataferry.storage.transfer_progress",
    }
)

# never worth their import time to a script that only builds and submits: the agent
# reads the catalog (SQLAlchemy); steps read data (pyarrow, pandas); the CLI renders
# (rich, click); value classes are records, not dataclasses, whose import pulls in
# inspect, ast and dis and whose classes cost ~1 ms each to build
HEAVY = (
    "sqlalchemy",
    "pyarrow",
    "pandas",
    "numpy",
    "rich",
    "click",
    "dataclasses",
    "inspect",
)
# standard modules that only copying a new snapshot, an upload or logging needs: a
# fully reused submission (its snapshot taken before) loads none of them
REUSED_SPARES = ("logging", "socket", "shutil", "tempfile")

LINK = """
import os, sys
out = sys.argv[-1]
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "n.txt"), "w").write("1")
"""

SCRIPT = """
import json, sys
from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep, Workspace
ws = Workspace.from_config({project!r})
steps, previous = [], None
for i in range(3):
    out = OutputFileDatasetConfig(name=f"n{{i}}")
    args = [previous.as_input(f"in{{i}}"), out] if previous is not None else [out]
    steps.append(PythonScriptStep("link.py", name=f"step{{i}}", arguments=args,
                                  source_directory={src!r}))
    previous = out
status = Pipeline(ws, steps=steps).submit("modules").wait_for_completion(
    show_output=False)
print(json.dumps({{"status": status,
                   "modules": sorted(m for m in sys.modules if m.startswith("dataferry")),
                   "heavy": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def _submit(workspace: Workspace, tmp_path: Path) -> dict[str, object]:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "link.py").write_text(LINK)
    script = textwrap.dedent(
        SCRIPT.format(
            project=str(workspace.path), src=str(src), heavy=HEAVY + REUSED_SPARES
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.slow
def test_a_submitting_script_imports_only_the_pinned_modules(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAFERRY_AGENT", "1")

    cold = _submit(workspace, tmp_path)
    reused = _submit(workspace, tmp_path)

    assert set(cold["heavy"]) <= set(REUSED_SPARES)  # type: ignore[arg-type]
    assert reused["heavy"] == []
    for report in (cold, reused):
        assert report["status"] == "Finished"
        loaded = set(report["modules"])  # type: ignore[call-overload]
        assert sorted(loaded - CLIENT_MODULES) == [], "imported beyond the pinned list"
        assert sorted(CLIENT_MODULES - loaded) == [], "pinned but no longer imported"
