"""A step run's files, by artifact name, as the SDK lists a run's files.

One lookup serves every reader (``run.register_model`` inside the step and on a
finished ``StepRun``): the files the step wrote to ``./outputs``, named
``outputs/<path>``, and the files uploaded to the run (``run.upload_file``), which live
in the step folder's ``files/`` under the name they were given (an upload in progress,
``.<name>.<hex>.part``, is not listed). The driver keeps both:
a step's working folder (``<step folder>/wd``), and so its ``./outputs``, stays in the
run's folder after the step ends, finished or failed; only a new attempt at the same
step run replaces it. A reused step run has the files of the run it reuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.catalog.status import TERMINAL
from dataferry.execution.run_layout import step_dir, work_dir

if TYPE_CHECKING:
    import os

    from dataferry.catalog.run_store import RunStore
    from dataferry.data.workspace import Workspace

OUTPUTS = "outputs"
UPLOADS_DIR = "files"


def uploads_dir(step_folder: str | os.PathLike[str]) -> Path:
    """Where files uploaded to a step run are kept, each under its artifact name."""
    return Path(step_folder, UPLOADS_DIR)


@dataclass(frozen=True)
class RunFileIndex:
    """The files of one step run: ``names()`` lists them, ``match`` finds a prefix."""

    step_folder: Path
    has_outputs: bool = True  # whether ./outputs counts (it does once the step ends)

    def roots(self) -> list[tuple[str, Path]]:
        """(artifact name prefix, folder) pairs: ``./outputs``, then the uploads."""
        outputs = [(OUTPUTS, work_dir(self.step_folder) / OUTPUTS)]
        return [
            *(outputs if self.has_outputs else []),
            ("", uploads_dir(self.step_folder)),
        ]

    def files(self) -> dict[str, Path]:
        """Every file, by artifact name (``/``-separated), sorted by name."""
        found: dict[str, Path] = {}
        for prefix, root in self.roots():
            if not root.is_dir():
                continue
            for path in root.rglob("*"):
                if path.is_file() and not _is_partial(prefix, path):
                    relative = path.relative_to(root).as_posix()
                    found[f"{prefix}/{relative}" if prefix else relative] = path
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


def _is_partial(prefix: str, path: Path) -> bool:
    """An upload being written (renamed into place when whole)."""
    return not prefix and path.name.startswith(".") and path.name.endswith(".part")


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
    record = store.get_step_run(step_run_id)
    while record.reused_from:
        record = store.get_step_run(record.reused_from)
    has_outputs = live or record.status in TERMINAL
    return RunFileIndex(step_dir(workspace, record.run_id, record.id), has_outputs)
