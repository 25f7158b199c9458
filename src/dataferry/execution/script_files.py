"""What a script run keeps of its own, beside what it uploads (``run_files``): listed by
``get_file_names`` and copied by ``download_file(s)`` (``run_api.RunFilesApi``).

They are read in place from the step's folder (the working folder is kept after the
run, whether it succeeded or not): ``outputs/...`` and ``logs/...`` from the working
folder, and the process's streams as ``user_logs/std_log.txt`` (stdout) and
``user_logs/std_err.txt`` (stderr).
"""

from __future__ import annotations

import os
from pathlib import Path

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
