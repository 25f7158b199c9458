"""``kill -9`` in the middle of an object-store commit: the output reads as absent
(never a mix of old and new files), and a later commit or ``discard_step`` cleans the
staging prefix.

The store is a real folder behind a non-local fsspec filesystem (``DirFileSystem``),
so the killed process and the test see the same bytes; the helper process kills
itself with SIGKILL at its sixth server-side copy.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from fsspec.implementations.dirfs import DirFileSystem
from staging_backends import dirfs
from test_staging_contract import commit, listed

from dataferry.errors import PathNotFoundError
from dataferry.storage.location import StorageLocation

if TYPE_CHECKING:
    from pathlib import Path

HELPER = """
import itertools, os, signal, sys
from pathlib import Path
from fsspec.implementations.dirfs import DirFileSystem
from dataferry.storage.location import StorageLocation
from dataferry.storage.staging import StagedPlace

KILL_AT = 6
copies = itertools.count(1)


class DyingFileSystem(DirFileSystem):
    def copy(self, path1, path2, *args, **kwargs):
        if next(copies) >= KILL_AT:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().copy(path1, path2, *args, **kwargs)


root, scratch = sys.argv[1], Path(sys.argv[2])
fs = DyingFileSystem(root, target_protocol="file", target_options={"auto_mkdir": True})
loc = StorageLocation("s", fs, "")
folder = loc.staging.stage("data/out", "step_2", "out", scratch)
for i in range(40):
    (folder / f"part-{i:02d}.csv").write_text(f"new {i}")
loc.staging.commit(StagedPlace("data/out", folder, "step_2", "out"), merge=True)
print("committed")
"""


def crash_while_committing(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "helper.py"
    script.write_text(HELPER)
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path / "store"), str(tmp_path / "s2")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def killed_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed output (two old files) whose overwrite was killed mid-publish, made
    once per module: the spawned interpreter was most of this module's time."""
    folder = tmp_path_factory.mktemp("killed")
    location = dirfs(folder)
    commit(location, folder, {"part-00.csv": "old 0", "old.csv": "old"})
    done = crash_while_committing(folder)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout == ""
    return folder


@pytest.fixture
def killed(killed_once: Path, tmp_path: Path) -> Path:
    """A copy of ``killed_once`` of the test's own in ``tmp_path`` (a test changes it)."""
    shutil.copytree(killed_once, tmp_path, dirs_exist_ok=True, symlinks=True)
    return tmp_path


def reopened(tmp_path: Path) -> StorageLocation:
    """The store the helper wrote, as a new process sees it."""
    fs = DirFileSystem(
        str(tmp_path / "store"),
        target_protocol="file",
        target_options={"auto_mkdir": True},
    )
    return StorageLocation("s", fs, "")


def test_a_killed_overwrite_reads_as_absent(killed: Path) -> None:
    location = reopened(killed)
    names = {p.name for p in (killed / "store" / "data" / "out").iterdir()}
    assert ".dataferry-committing" in names
    assert ".dataferry-committed" not in names  # the old marker went first
    assert len([n for n in names if n.startswith("part-")]) < 40  # killed midway

    with pytest.raises(PathNotFoundError, match=r"path 'data/out' matches no file"):
        location.resolve("data/out")
    assert location.staging.tree_signatures("data/out") is None
    assert location.staging.staged_steps() == ["step_2"]

    location.staging.discard_step("step_2")

    assert location.staging.staged_steps() == []
    assert not (killed / "store" / ".dataferry-staging" / "step_2").exists()


def test_a_later_commit_after_the_crash_is_whole(killed: Path) -> None:
    location = reopened(killed)

    commit(location, killed, {"part-00.csv": "again"}, merge=True, step="step_2")

    seen = listed(location)
    assert seen["part-00.csv"] == "again"
    assert seen["old.csv"] == "old"
    marker = json.loads((killed / "store/data/out/.dataferry-committed").read_text())
    assert sorted(marker["files"]) == sorted(seen)
    assert not (killed / "store/data/out/.dataferry-committing").exists()
    assert location.staging.staged_steps() == []
