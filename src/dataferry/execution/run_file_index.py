"""A step run's files, by artifact name, as the SDK lists a run's files.

One lookup serves every reader (``run.register_model`` inside the step and on a
finished ``StepRun``): the files the step wrote to ``./outputs``, named
``outputs/<path>``, and the files uploaded to the run (``run.upload_file``), as the
catalog lists them (``run_files.RunFiles``: an upload is listed once whole). The driver
keeps both:
a step's working folder (``<step folder>/wd``), and so its ``./outputs``, stays in the
run's folder after the step ends, finished or failed; only a new attempt at the same
step run replaces it. A reused step run has the files of the run it reuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataferry.catalog.status import TERMINAL
from dataferry.execution.run_layout import step_dir, work_dir

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from dataferry.catalog.run_store import RunStore
    from dataferry.data.workspace import Workspace

OUTPUTS = "outputs"


@dataclass(frozen=True)
class RunFileIndex:
    """The files of one step run: ``names()`` lists them, ``match`` finds a prefix.

    ``has_outputs``: whether ``./outputs`` counts (it does once the step ends);
    ``uploads``: the files uploaded to the run, ``{artifact name: path}``.
    """

    step_folder: Path
    has_outputs: bool = True
    uploads: Mapping[str, Path] = field(default_factory=dict)

    def files(self) -> dict[str, Path]:
        """Every file, by artifact name (``/``-separated), sorted by name."""
        found: dict[str, Path] = {}
        outputs = work_dir(self.step_folder) / OUTPUTS
        if self.has_outputs and outputs.is_dir():
            for path in outputs.rglob("*"):
                if path.is_file():
                    found[f"{OUTPUTS}/{path.relative_to(outputs).as_posix()}"] = path
        found.update(self.uploads)
        return dict(sorted(found.items()))

    def names(self) -> list[str]:
        """Every artifact name, sorted."""
        return list(self.files())

    def match(self, artifact_path: str) -> list[tuple[str, Path]]:
        """The files ``artifact_path`` names: the file of that name, or every file
        under it as a folder. Each comes with its path from the last segment of
        ``artifact_path`` on (``outputs/model.pkl`` -> ``model.pkl``; the folder
        ``outputs`` -> ``outputs/...``). ``\\`` and ``/``, a leading ``./`` and a
        trailing ``/`` are all accepted; nothing matching gives an empty list."""
        wanted = normalise(artifact_path)
        if not wanted:
            return []
        cut = wanted.rfind("/") + 1  # what goes before the last segment
        return [
            (name[cut:], path)
            for name, path in self.files().items()
            if name == wanted or name.startswith(wanted + "/")
        ]


def normalise(artifact_path: str) -> str:
    """An artifact path in ``/`` form, without a leading ``./`` or outer ``/``."""
    wanted = artifact_path.replace("\\", "/").strip("/")
    while wanted.startswith("./"):
        wanted = wanted[2:].lstrip("/")
    return wanted


def step_run_files(
    workspace: Workspace, store: RunStore, step_run_id: str, *, live: bool = False
) -> RunFileIndex:
    """The files of step run ``step_run_id`` (of the run it reuses, if reused).

    ``live``: asked from inside the running step, whose ``./outputs`` counts at once.
    Asked from elsewhere, ``./outputs`` counts once the step has ended (as in Azure ML,
    where it is uploaded when the step's process exits); until then only uploads do.

    Raises:
        RunNotFoundError: no step run has that id.
    """
    from dataferry.execution import run_files

    record = store.get_step_run(step_run_id)
    while record.reused_from:
        record = store.get_step_run(record.reused_from)
    has_outputs = live or record.status in TERMINAL
    uploads = run_files.step_run_files(workspace, record.id).paths()
    return RunFileIndex(
        step_dir(workspace, record.run_id, record.id), has_outputs, uploads
    )
