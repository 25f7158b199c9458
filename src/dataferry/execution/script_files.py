"""A script run's files: what ``get_file_names`` lists and ``download_file(s)`` copies.

They are read in place from the step's folder (the working folder is kept after the
run, whether it succeeded or not): ``outputs/...`` and ``logs/...`` from the working
folder, and the process's streams as ``user_logs/std_log.txt`` (stdout) and
``user_logs/std_err.txt`` (stderr).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dataferry.errors import RunFileNotFoundError
from dataferry.execution import run_layout

KEPT_FOLDERS = ("outputs", "logs")
STREAM_NAMES = {
    "user_logs/std_log.txt": run_layout.STDOUT,
    "user_logs/std_err.txt": run_layout.STDERR,
}


def run_files(step_folder: Path | None) -> dict[str, Path]:
    """``{artifact name: local path}`` of the files the run keeps, sorted by name."""
    if step_folder is None:
        return {}
    found: dict[str, Path] = {}
    work = run_layout.work_dir(step_folder)
    for top in KEPT_FOLDERS:
        for dirpath, _dirs, files in os.walk(work / top):
            for name in files:
                path = Path(dirpath, name)
                found[path.relative_to(work).as_posix()] = path
    for name, stream in STREAM_NAMES.items():
        if (step_folder / stream).is_file():
            found[name] = step_folder / stream
    return dict(sorted(found.items()))


def download_one(
    files: dict[str, Path], run_id: str, name: str, output_file_path: str | None
) -> None:
    """Copy the file ``name`` to ``output_file_path`` (default: its base name in the
    current folder; an existing folder gets ``<folder>/<base name>``).

    Raises:
        RunFileNotFoundError: the run has no file of that name.
    """
    source = files.get(name.replace("\\", "/").lstrip("/"))
    if source is None:
        raise RunFileNotFoundError(
            f"Cannot find the artifact '{name}' in run {run_id}; its files are: "
            f"{sorted(files) or 'none'}"
        )
    target = Path(output_file_path or Path(name).name)
    if target.is_dir():
        target = target / Path(name).name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def download_many(
    files: dict[str, Path],
    prefix: str | None,
    output_directory: str | None,
    append_prefix: bool,
) -> list[str]:
    """Copy every file under ``prefix`` into ``output_directory`` (default: the current
    folder), by its name (without ``prefix`` when ``append_prefix`` is False); returns
    the local paths written."""
    root = Path(output_directory or ".")
    written = []
    start = (prefix or "").strip("/")
    for name, source in files.items():
        if start and not (name == start or name.startswith(start + "/")):
            continue
        rel = name if append_prefix or not start else name[len(start) :].lstrip("/")
        target = root / (rel or Path(name).name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(str(target))
    return written
