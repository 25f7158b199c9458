"""Two runs of a pipeline that differ in every way a comparison shows. Imported as
``cli.compare_kit``.

Run 1: ``keep`` and ``score`` (reads 'nums' version 1, factor 1, code v1).
Run 2: ``keep`` again (reused), ``score`` with 'nums' version 2, factor 2, its
``score.py`` changed and ``helper.py`` added, and a new step ``extra``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.kit import run_pipeline, write_script

from dataferry import (
    DataPath,
    Dataset,
    Pipeline,
    PipelineParameter,
    PythonScriptStep,
)

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace
    from dataferry.execution.pipeline_run import PipelineRun

SCORE = """
import sys
from dataferry import Run
run = Run.get_context()
rows = run.input_datasets["nums"].to_pandas_dataframe()
run.log("rows", len(rows))
run.log("factor", float(sys.argv[1]))
"""
KEEP = "print('kept')\n"


def two_runs(workspace: Workspace, tmp_path: Path) -> tuple[PipelineRun, PipelineRun]:
    """Both runs, finished."""
    store = workspace.get_default_datastore()
    root = store.location.root
    write_script(tmp_path / "nums", "a.csv", "x\n1\n2\n")
    for name in ("a.csv",):
        (tmp_path / "nums" / name).replace(f"{root}/a.csv")
    with open(f"{root}/b.csv", "w") as fh:
        fh.write("x\n3\n")
    v1 = Dataset.Tabular.from_delimited_files(DataPath(store, "a.csv")).register(
        workspace, "nums"
    )
    v2 = Dataset.Tabular.from_delimited_files(
        [DataPath(store, "a.csv"), DataPath(store, "b.csv")]
    ).register(workspace, "nums", create_new_version=True)
    keep = write_script(tmp_path / "keep", "keep.py", KEEP)
    first = run_pipeline(_pipeline(workspace, tmp_path / "c1", keep, v1), "cmp")
    second_code = write_script(tmp_path / "c2", "helper.py", "X = 1\n")
    second = run_pipeline(
        _pipeline(workspace, second_code, keep, v2, extra=True),
        "cmp",
        pipeline_parameters={"factor": 2},
    )
    return first, second


def _pipeline(
    workspace: Workspace,
    code: Path,
    keep: Path,
    nums: object,
    *,
    extra: bool = False,
) -> Pipeline:
    script = SCORE if not extra else SCORE + "print('v2')\n"
    write_script(code, "score.py", script)
    factor = PipelineParameter("factor", default_value=1)
    steps = [
        PythonScriptStep("keep.py", name="keep", source_directory=str(keep)),
        PythonScriptStep(
            "score.py",
            name="score",
            source_directory=str(code),
            arguments=[factor],
            inputs=[nums.as_named_input("nums")],  # type: ignore[attr-defined]
        ),
    ]
    if extra:
        steps.append(
            PythonScriptStep("keep.py", name="extra", source_directory=str(keep))
        )
    return Pipeline(workspace, steps)
