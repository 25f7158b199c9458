"""The README's main job: a three-step pipeline on bundled data, on the embedded defaults.

prepare (tabular input, direct mode) -> split (random_split, two upload-mode outputs)
-> train (both as inputs; the model file is registered with register_on_complete).

Run with ``bash dev.sh demo`` (or ``python -m dataferry.demo [FOLDER]``). The workspace
is kept in FOLDER (default ``./.demo``): ``dataferry -w .demo runs list`` shows the run.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from dataferry import (
    DataPath,
    Dataset,
    Datastore,
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
    Workspace,
)
from dataferry.execution.views import RunStatus

SAMPLES = Path(__file__).parent / "samples"


def build(ws: Workspace) -> Pipeline:
    """The demo pipeline over the bundled flower measurements."""
    store = Datastore.get(ws, "workspaceblobstore")
    raw = Path(store.location.root) / "flowers"
    raw.mkdir(parents=True, exist_ok=True)
    for f in sorted(SAMPLES.glob("flowers_*.csv")):
        shutil.copyfile(f, raw / f.name)
    flowers = Dataset.Tabular.from_delimited_files(DataPath(store, "flowers/*.csv"))
    flowers = flowers.register(
        ws,
        "flowers",
        description="bundled sample measurements",
        create_new_version=True,
    )

    steps_dir = str(SAMPLES / "demo_steps")
    prepared = OutputFileDatasetConfig(name="prepared")
    prepare = PythonScriptStep(
        name="prepare",
        script_name="prepare.py",
        source_directory=steps_dir,
        inputs=[flowers.as_named_input("flowers")],
        arguments=["--out", prepared],
    )
    train_rows = OutputFileDatasetConfig(
        name="train_rows", destination=(store, "demo/{run-id}/train")
    ).as_upload()
    test_rows = OutputFileDatasetConfig(
        name="test_rows", destination=(store, "demo/{run-id}/test")
    ).as_upload()
    split = PythonScriptStep(
        name="split",
        script_name="split.py",
        source_directory=steps_dir,
        inputs=[prepared.read_delimited_files().as_input("prepared")],
        arguments=["--train", train_rows, "--test", test_rows],
    )
    model = (
        OutputFileDatasetConfig(name="model")
        .as_upload()
        .register_on_complete(
            "flowers_model", description="nearest-centroid flower classifier"
        )
    )
    train = PythonScriptStep(
        name="train",
        script_name="train.py",
        source_directory=steps_dir,
        arguments=[
            "--train",
            train_rows.as_input("train"),
            "--test",
            test_rows.as_input("test"),
            "--model",
            model,
        ],
    )
    return Pipeline(
        workspace=ws, steps=[prepare, split, train], description="dataferry demo"
    )


def cli_command() -> str:
    """How to call the ``dataferry`` command from a shell, as this interpreter has it.

    ``dataferry`` when the one on ``PATH`` is this interpreter's (an activated venv, a
    ``pip install``); else the console script beside this interpreter (``bash dev.sh
    demo`` runs ``.venv/bin/python``, whose ``bin`` is not on ``PATH``); else ``python -m
    dataferry.cli`` with this interpreter.
    """
    here = Path(sys.executable).parent / "dataferry"
    on_path = shutil.which("dataferry")
    if on_path is not None and here.exists() and Path(on_path).samefile(here):
        return "dataferry"
    if here.exists():
        return shlex.quote(str(here))
    return f"{shlex.quote(sys.executable)} -m dataferry.cli"


def main(argv: list[str] | None = None) -> int:
    """Run the demo pipeline and print where each output went."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else ".demo").resolve()
    ws = Workspace.create("demo", folder, exist_ok=True, show_output=False)
    print(f"workspace '{ws.name}' in {ws.path}")
    pipeline = build(ws)
    run = Experiment(ws, "demo").submit(pipeline)
    status = run.wait_for_completion(show_output=True, raise_on_error=False)
    print("\nwhere the outputs went:")
    for step in run.get_steps():
        for name, out in step.get_outputs().items():
            ref = out.get_port_data_reference()
            print(
                f"  {step.name:8} {name:11} -> {ref.datastore_name}:/{ref.path_on_datastore}"
            )
    if status == RunStatus.FINISHED:
        model = Dataset.get_by_name(ws, "flowers_model")
        accuracy = run.find_step_run("train")[0].get_metrics().get("test_accuracy")
        print(
            f"\nregistered dataset 'flowers_model' version {model.version}; test accuracy {accuracy:.3f}"
        )
        print(
            f"look around: {cli_command()} -w {shlex.quote(str(folder))} runs show {run.id}"
        )
    return 0 if status == RunStatus.FINISHED else 1


if __name__ == "__main__":
    raise SystemExit(main())
