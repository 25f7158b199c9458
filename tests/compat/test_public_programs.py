"""Public Azure ML v1 sample programs, run unchanged through the compatibility package.

Each folder of ``programs/`` is one sample from Azure/MachineLearningNotebooks (MIT,
the licence beside them): its notebook's code cells as ``program.py`` and the files
its steps use. A program runs in a folder of its own with the ``config.json`` a user
downloads from the portal (subscription, resource group, workspace name), exactly as
the user runs it: ``python program.py``. It must end with exit status 0, print what
the sample prints, and every run it recorded must end successfully.

Environments that declare packages are built from the machine's pip index (its
configuration is honoured), so some of these build a virtual environment first. A
program that itself imports packages this interpreter lacks (a notebook kernel on Azure
has them) runs with an environment built the same way, with those packages.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from dataferry import Workspace
from dataferry.catalog.status import TERMINAL, RunStatus
from dataferry.execution.environments import resolve_environment
from dataferry.execution.plan_model import EnvironmentSpec
from dataferry.execution.views import list_runs, wait_for_status

PROGRAMS = Path(__file__).parent / "programs"
CONFIG = {
    "subscription_id": "00000000-0000-0000-0000-000000000000",
    "resource_group": "my-rg",
    "workspace_name": "my-ws",
}


@dataclass(frozen=True)
class Sample:
    """A vendored program: the modules its own script imports beyond dataferry's (with
    the distribution that provides each), lines it must print, how many runs it
    records, and the end of each run that the program itself cancels or fails (the
    others must finish)."""

    name: str
    needs: tuple[tuple[str, str], ...]
    prints: tuple[str, ...]
    runs: int
    stopped: tuple[str, ...] = ()


SAMPLES = [
    Sample(
        "data_dependency",
        (),
        (
            "Pipeline is submitted for execution",
            "\tname: processed_data3",
            "\tname: processed_data2",
            "\tname: processed_data1",
        ),
        1,
    ),
    Sample(
        "scriptrun_io",
        (),
        ("Hello Azure ML!", "Status: Completed"),
        1,
    ),
    Sample(
        "train_on_amlcompute",
        (),
        (
            "Found existing cluster, use it.",
            "AmlCompute wait for completion finished",
        ),
        2,
    ),
    Sample(
        "logging_api",
        (("tqdm", "tqdm"), ("matplotlib", "matplotlib")),
        (
            "Resource group: my-rg",
            "Downloading file logging-api/myfile.txt to files/myfile.txt...",
        ),
        1,
    ),
    Sample(
        "train_with_datasets",
        (("sklearn", "scikit-learn"),),
        ("When alpha is 0.40, we have min MSE 3295.71.",),
        2,
    ),
    Sample(
        "manage_runs",
        (),
        (
            "Is it still running? Running",
            "Has it completed? Completed",
            "{'quality': 'fantastic run', 'worth another look': None}",
            "Did the run cancel? CancelRequested",
            "Failed",
        ),
        # 2 start_logging, 2 script runs, 5 children of one (create_children in the
        # script), a parent with 5 child_run()s, and one canceled and one failed run
        17,
        ("Canceled", "Failed"),
    ),
]


def _run(
    folder: Path, python: str, pythonpath: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": pythonpath, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [python, "program.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def _interpreter(sample: Sample, cache: Path) -> str:
    """This interpreter if it has every module the program imports, else one of an
    environment with the missing distributions, built from the machine's index as a
    step's environment is (cached under ``cache``)."""
    missing = [d for m, d in sample.needs if importlib.util.find_spec(m) is None]
    if not missing:
        return sys.executable
    spec = EnvironmentSpec(sample.name, None, {}, {"pip": missing})
    return resolve_environment(spec, cache).interpreter


@pytest.mark.slow
@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_public_program_runs_unchanged(
    sample: Sample, tmp_path: Path, compat_path: str
) -> None:
    python = _interpreter(sample, tmp_path / "program-env")
    folder = tmp_path / sample.name
    shutil.copytree(PROGRAMS / sample.name, folder)
    (folder / "config.json").write_text(json.dumps(CONFIG))

    result = _run(folder, python, compat_path)

    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    for line in sample.prints:
        assert line in out, out
    workspace = Workspace.from_config(str(folder / "config.json"))
    runs = list_runs(workspace)
    assert len(runs) == sample.runs
    ends = [  # a program may leave its runs going (no wait_for_completion)
        (wait_for_status(workspace, run.id, TERMINAL, timeout_s=300), run)
        for run in runs
    ]
    stopped = sorted(status for status, _ in ends if status != RunStatus.FINISHED)
    assert stopped == sorted(sample.stopped), [(s, r.id, r.error) for s, r in ends]
