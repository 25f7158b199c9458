"""A plain pipeline script pays only for what it uses (issue 8, item 6).

Each case runs a script in a fresh interpreter, where ``sys.modules`` tells what was
loaded: importing dataferry, opening the workspace, building, validating, and submitting
and waiting through the local agent load none of the heavy packages; submitting from
the script itself loads the catalog (SQLAlchemy) but no Arrow or pandas; a step that
uses ``Run.get_context()`` loads none of them.
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

HEAVY = ("pyarrow", "pandas", "numpy", "sqlalchemy", "alembic", "fsspec")
DATA_HEAVY = ("pyarrow", "pandas", "numpy")

REPORT = """
import json, sys
def heavy():
    return sorted({{n.split(".")[0] for n in sys.modules}} & set({heavy!r}))
"""

# a step that reads its input and writes its output through the run context, and
# reports what its own process had loaded by then into the file named by its argument
STEP = """
import json, os, sys
from dataferry import Run
run = Run.get_context()
out = run.output_datasets["out"]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "n.txt"), "w") as fh:
    fh.write(run.input_datasets["up"] if "up" in run.input_datasets else "first")
loaded = {n.split(".")[0] for n in sys.modules}
with open(sys.argv[1], "w") as fh:
    json.dump(sorted(loaded & {"pyarrow", "pandas", "numpy", "sqlalchemy", "alembic"}), fh)
"""


def _run(script: str, cwd: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize(
    "imports",
    [
        "import dataferry",
        "from dataferry import Workspace, Pipeline, PythonScriptStep",
        "from dataferry import OutputFileDatasetConfig, PipelineData, PipelineParameter",
        "from dataferry import Run",
    ],
)
def test_importing_dataferry_loads_nothing_heavy(imports: str, tmp_path: Path) -> None:
    script = REPORT.format(heavy=HEAVY) + f"{imports}\nprint(json.dumps(heavy()))"

    assert _run(script, tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize(("agent", "catalog_loaded"), [("1", False), ("0", True)])
def test_a_plain_pipeline_script_loads_no_arrow_or_pandas(
    workspace: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    agent: str,
    catalog_loaded: bool,
) -> None:
    monkeypatch.setenv("DATAFERRY_AGENT", agent)
    steps = tmp_path / "steps"
    steps.mkdir()
    (steps / "report.py").write_text(STEP)
    reports = [tmp_path / "a.json", tmp_path / "b.json"]
    body = f"""
    from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep, Workspace
    report = {{}}
    ws = Workspace.from_config({str(workspace.path)!r})
    report["opened"] = heavy()
    first = OutputFileDatasetConfig(name="out")
    second = OutputFileDatasetConfig(name="out")
    a = PythonScriptStep("report.py", name="a", arguments=[{str(reports[0])!r}],
                         outputs=[first], source_directory={str(steps)!r})
    b = PythonScriptStep("report.py", name="b", arguments=[{str(reports[1])!r}],
                         inputs=[first.as_input("up")], outputs=[second],
                         source_directory={str(steps)!r})
    pipeline = Pipeline(ws, steps=[b])
    report["problems"] = pipeline.validate()
    report["built"] = heavy()
    run = pipeline.submit("imports")
    report["status"] = run.wait_for_completion(show_output=False)
    report["submitted"] = heavy()
    print(json.dumps(report))
    """
    script = REPORT.format(heavy=HEAVY) + textwrap.dedent(body)

    report = _run(script, tmp_path)

    submitted = report.pop("submitted")
    assert report == {
        "opened": [],
        "problems": [],
        "built": [],
        "status": "Finished",
    }
    # through the local agent the script never touches the catalog: it loads nothing
    # heavy at all. Submitting from the script itself (DATAFERRY_AGENT=0) reads and
    # writes the catalog there: SQLAlchemy is loaded then, but no Arrow or pandas.
    if catalog_loaded:
        assert "sqlalchemy" in submitted  # type: ignore[operator]
        assert not {"pyarrow", "pandas", "alembic"} & set(submitted)  # type: ignore[call-overload]
    else:
        assert submitted == []
    # the steps' processes: the run context loads none of them
    assert [json.loads(r.read_text()) for r in reports] == [[], []]


# the client half of submit: everything the submitting script does before it hands the
# plan over (the catalog writes happen elsewhere); a plan's outputs, inputs, parameters
# and a command step, so every kind of port is compiled and written as JSON
CLIENT_HALF = """
from dataferry import (CommandStep, OutputFileDatasetConfig, Pipeline, PipelineData,
                       PipelineParameter, PythonScriptStep, Workspace)
from dataferry.execution.plan import PlanCompiler
ws = Workspace.from_config({project!r})
raw, mid = OutputFileDatasetConfig(name="raw"), PipelineData("mid")
a = PythonScriptStep("step.py", name="a", arguments=[raw], source_directory={src!r})
b = PythonScriptStep("step.py", name="b", source_directory={src!r},
                     arguments=["--n", PipelineParameter("n", default_value=3)],
                     inputs=[raw.as_input("raw")], outputs=[mid])
c = CommandStep(["python", "step.py", mid.as_input("mid")], name="c",
                inputs=[mid], source_directory={src!r})
pipeline = Pipeline(ws, steps=[c])
assert pipeline.validate() == []
compiler = PlanCompiler(pipeline, ws, "workspaceblobstore")  # as the agent tells
parameters = compiler.parameters(None)
plan = compiler.compile()
stored = plan.to_json()
print(json.dumps({{"nodes": [n["name"] for n in stored["nodes"]],
                   "parameters": parameters, "heavy": heavy()}}))
"""


def test_compiling_a_plan_loads_nothing_heavy(
    workspace: Workspace, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "step.py").write_text("print('ok')\n")
    body = CLIENT_HALF.format(project=str(workspace.path), src=str(src))
    # nor what only some submissions need: packages' requirement parsing (steps that
    # declare packages), ignore-file matching (a folder with a .amlignore)
    script = REPORT.format(heavy=(*HEAVY, "packaging", "pathspec")) + body

    report = _run(script, tmp_path)

    assert report == {"nodes": ["a", "b", "c"], "parameters": {"n": 3}, "heavy": []}


# standard modules the submitting script has no use for, each costing it milliseconds
# (uuid imports platform; logging imports traceback, threading, string...)
CLIENT_UNUSED = ("logging", "uuid", "platform", "runpy", "concurrent")


def test_the_client_half_of_submit_loads_no_unused_standard_module(
    workspace: Workspace, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "step.py").write_text("print('ok')\n")
    body = CLIENT_HALF.format(project=str(workspace.path), src=str(src))
    script = (
        REPORT.format(heavy=CLIENT_UNUSED)
        + "import dataferry.execution.pipeline_run, dataferry.execution.agent_client\n"
        + "import dataferry.execution.submission, dataferry.execution.pipeline_capture\n"
        + body
    )

    report = _run(script, tmp_path)

    assert report == {"nodes": ["a", "b", "c"], "parameters": {"n": 3}, "heavy": []}
