"""A pipeline whose plan has every kind of node, input, output and argument.

Imported as ``execution.plan_kit``. It uses only the public API, so the same pipeline
can be compiled by any version of dataferry (to compare plans across versions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry import (
    CommandStep,
    DataPath,
    DataPathComputeBinding,
    Dataset,
    DatasetConsumptionConfig,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PipelineParameter,
    PythonScriptStep,
)

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace


def every_kind_pipeline(ws: Workspace, code: Path) -> Pipeline:
    """``prep`` (script) -> ``report`` (argv command) -> ``shout`` (shell command).

    ``prep`` reads a file dataset, a tabular dataset, a dataset parameter, a DataPath
    and a DataPath parameter, and writes a registered tabular output; ``report`` reads
    it and writes a PipelineData with a pipeline output name, which ``shout`` reads.
    """
    store = ws.get_default_datastore()
    root = store.location.root
    (code / "prep.py").parent.mkdir(parents=True, exist_ok=True)
    for name in ("prep.py", "report.py"):
        (code / name).write_text("")
    with open(f"{root}/a.csv", "w") as fh:
        fh.write("x\n1\n")
    files = Dataset.File.from_files(DataPath(store, "a.csv"))
    table = Dataset.Tabular.from_delimited_files(DataPath(store, "a.csv"))
    data = PipelineParameter("data", default_value=files)
    where = PipelineParameter("where", default_value=DataPath(store, "a.csv"))
    n = PipelineParameter("n", default_value=3)
    clean = (
        OutputFileDatasetConfig(name="clean")
        .read_delimited_files()
        .register_on_complete("cleaned", description="rows", tags={"k": "v"})
    )
    piped = PipelineData("piped", datastore=store, pipeline_output_name="final")
    prep = PythonScriptStep(
        "prep.py",
        name="prep",
        source_directory=str(code),
        arguments=["--n", n, "--raw", files.as_named_input("raw").as_mount()],
        inputs=[
            table.as_named_input("tab"),
            DatasetConsumptionConfig("data", data),
            (DataPath(store, "a.csv"), DataPathComputeBinding(mode="mount")),
            (where, DataPathComputeBinding(mode="download")),
        ],
        outputs=[clean],
        params={"k": "v", "p": n},
        runconfig_pipeline_params={
            "MaxRunDurationSeconds": PipelineParameter("limit", default_value=60)
        },
    )
    report = CommandStep(
        ["python", "report.py", clean.as_input("cleaned_in"), piped, "parameter:k"],
        name="report",
        source_directory=str(code),
        outputs=[piped],
        params={"k": "w"},
    )
    shout = CommandStep(
        "echo hi",
        name="shout",
        source_directory=str(code),
        inputs=[piped.as_input("piped_in")],
        allow_reuse=False,
    )
    return Pipeline(ws, steps=[prep, report, shout])
