"""``PipelineRun.register_model``: a pipeline run's files are its step runs' files.

A path names the files of the one step run that has them: ``outputs/model.pkl`` (the
step that wrote it) or ``<step name>/outputs/model.pkl`` (that step's). A path that
several step runs have is refused with the candidates named; the model records the
step run it came from (B.14).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.errors import ModelPathAmbiguousError, ModelPathNotFoundError
from dataferry.execution.run_file_index import RunFileIndex, normalise
from dataferry.execution.run_models import ModelSource

if TYPE_CHECKING:
    from dataferry.execution.pipeline_run import PipelineRun, StepRun


def _files(step: StepRun) -> dict[str, Path]:
    """The step run's files (those of the run it reused, if reused): ``./outputs``
    once it has ended, and what it uploaded."""
    from dataferry.catalog.run_store import RunStore
    from dataferry.execution.run_file_index import step_run_files

    workspace = step.experiment.workspace
    return step_run_files(workspace, RunStore(workspace.catalog), step.id).files()


def _matches(files: dict[str, Path], path: str) -> bool:
    return bool(RunFileIndex(Path(), has_outputs=False, uploads=files).match(path))


def _candidate(step: StepRun, files: dict[str, Path], path: str) -> dict[str, Path]:
    """The step's files as ``path`` names them (bare, or after ``<step name>/``);
    empty when it names none of them."""
    if _matches(files, path):
        return files
    prefixed = {f"{step.name}/{name}": p for name, p in files.items()}
    return prefixed if _matches(prefixed, path) else {}


def pipeline_model_source(run: PipelineRun, model_path: str) -> ModelSource:
    """The files of the one step run of ``run`` that ``model_path`` names.

    Raises:
        ModelPathNotFoundError: no step run has a file at or under ``model_path`` (the
            message lists each step's files).
        ModelPathAmbiguousError: several step runs have (the message names them).
    """
    steps = [(s, _files(s)) for s in run.get_steps()]
    found = [(s, c) for s, files in steps if (c := _candidate(s, files, model_path))]
    if not found:
        listing = {s.name: list(files) for s, files in steps}
        raise ModelPathNotFoundError(
            f"Could not locate the provided model_path {model_path} in the files of "
            f"pipeline run {run.id}'s steps: {listing}. Write the model to ./outputs in "
            "a step (kept as its files once it ends) and pass outputs/<file> or "
            "<step name>/outputs/<file>."
        )
    if len(found) > 1:
        names = [f"'{s.name}' ({s.id})" for s, _ in found]
        first = found[0][0].name
        raise ModelPathAmbiguousError(
            f"model_path {model_path} names files of {len(found)} steps of pipeline run "
            f"{run.id}: {', '.join(names)}; pass '{first}/{normalise(model_path)}' or "
            f"register from the step run (run.find_step_run('{first}')[0]"
            ".register_model(...))."
        )
    step, files = found[0]
    return ModelSource(
        step.experiment.workspace,
        step.id,
        step.experiment.name,
        live=False,
        files=files,
    )


def all_step_files(run: PipelineRun) -> dict[str, Path]:
    """Every step run's files, each under ``<step name>/``."""
    return {
        f"{step.name}/{name}": path
        for step in run.get_steps()
        for name, path in _files(step).items()
    }
