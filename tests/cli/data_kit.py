"""A pipeline for the data views' tests: ``score`` reads the registered tabular
dataset ``sales``, logs one metric of each B.13 shape (a scalar, a series, a list,
rows, a table, an image) and writes ``scores.csv``, registered as the tabular
dataset ``scores``. Imported as ``cli.data_kit``."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from pipeline.kit import write_script

from dataferry import Dataset, OutputFileDatasetConfig, Pipeline, PythonScriptStep

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

# a 1x1 PNG: the smallest image log_image keeps
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
SCORE = """
import os, sys
from dataferry import Run
run = Run.get_context()
rows = run.input_datasets["sales"].to_pandas_dataframe()
run.log("accuracy", 0.875, description="share right")
for loss in (0.9, 0.5, 0.25):
    run.log("loss", loss)
run.log_list("recall", [0.1, 0.4, 0.8])
run.log_row("per class", label="a", count=3)
run.log_row("per class", label="b", count=5)
run.log_table("thresholds", {"t": [0.1, 0.5], "f1": [0.4, 0.6]})
run.log_image("curve", path=sys.argv[2])
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "scores.csv"), "w") as fh:
    fh.write("id,score,grade\\n")
    for i, v in zip(rows["id"], rows["value"]):
        fh.write(f"{i},{v * 2},{'high' if v > 1 else 'low'}\\n")
"""


def scoring(workspace: Workspace, tmp_path: Path, *, reuse: bool = False) -> Pipeline:
    """The one-step pipeline (see the module docstring)."""
    code = write_script(tmp_path / "code", "score.py", SCORE)
    (code / "curve.png").write_bytes(PNG)
    sales = Dataset.get_by_name(workspace, "sales")
    out = OutputFileDatasetConfig("scores").read_delimited_files()
    score = PythonScriptStep(
        "score.py",
        name="score",
        source_directory=str(code),
        arguments=[out.register_on_complete("scores"), "curve.png"],
        inputs=[sales.as_named_input("sales")],
        allow_reuse=reuse,
    )
    return Pipeline(workspace, [score])
