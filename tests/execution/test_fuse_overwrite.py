"""A mount-mode input on Azurite whose output another process overwrites while the
step reads it: reads after the overwrite fail with EIO and the step's log names the
output; a reader done before it saw the old files whole. Real FUSE, real Azurite, a
real commit (``staging_object``) in a process of its own."""

from __future__ import annotations

import errno
import os
import pickle
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from execution.blob_kit import register_blob
from execution.test_fuse_inputs import bind, mounted_lines, saved

from dataferry.execution.materialise import release_inputs
from dataferry.execution.run_layout import stderr_path
from dataferry.storage.fuse_mount import fuse_unavailable
from dataferry.storage.staging import StagedPlace

if TYPE_CHECKING:
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Workspace
    from dataferry.storage.location import StorageLocation

NO_FUSE = fuse_unavailable()
pytestmark = [
    pytest.mark.skipif(NO_FUSE is not None, reason=f"no FUSE: {NO_FUSE}"),
    pytest.mark.server,
    pytest.mark.slow,
]

OLD = {"a.csv": "id\n1\n", "b.csv": "id\n2\n", "c.csv": "id\n3\n"}
NEW = {"a.csv": "id\n10\n", "b.csv": "id\n20\n", "c.csv": "id\n30\n"}

# commits {name: text} (its stdin, with the location) to data/out, overwriting it
OVERWRITER = """
import pickle, sys
from pathlib import Path
from dataferry.storage.staging import StagedPlace
loc, files, folder = pickle.loads(sys.stdin.buffer.read())
step = "overwriter"
staged = loc.staging.stage("data/out", step, "out", Path(folder))
for rel, text in files.items():
    (staged / rel).write_text(text)
loc.staging.commit(StagedPlace("data/out", staged, step, "out"), merge=True)
"""


def commit(loc: StorageLocation, tmp_path: Path, files: dict[str, str]) -> None:
    step = f"s{uuid.uuid4().hex[:6]}"
    folder = loc.staging.stage("data/out", step, "out", tmp_path / step)
    for rel, text in files.items():
        (folder / rel).write_text(text)
    loc.staging.commit(StagedPlace("data/out", folder, step, "out"), merge=True)


def overwrite_elsewhere(loc: StorageLocation, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", OVERWRITER],
        input=pickle.dumps((loc, NEW, str(tmp_path / "overwriter"))),
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()


@pytest.fixture
def mounted(workspace: Workspace, azurite: Azurite, tmp_path: Path) -> Any:
    store = register_blob(workspace, azurite, f"c{uuid.uuid4().hex[:12]}")
    commit(store.location, tmp_path, OLD)
    bound, notes = bind(workspace, tmp_path, saved(workspace, store, "data/out"))
    place = tmp_path / "step" / "inputs" / "data"
    log = stderr_path(tmp_path / "step")
    try:
        assert notes == [] and os.path.ismount(place)
        yield store, place, log
    finally:
        release_inputs([bound])
    assert mounted_lines(str(tmp_path)) == [] and not place.exists()


def test_reads_after_another_process_overwrites_fail_with_eio(
    mounted: Any, tmp_path: Path
) -> None:
    store, place, log = mounted
    assert (place / "a.csv").read_text() == "id\n1\n"
    overwrite_elsewhere(store.location, tmp_path)
    for name in ("b.csv", "c.csv", "a.csv"):
        with pytest.raises(OSError, match="Input/output error") as caught:
            (place / name).read_text()
        assert caught.value.errno == errno.EIO
    assert log.read_text() == (
        f"dataferry: input mounted at {place}: output blob:/data/out was "
        "overwritten while this step read it, so its files could mix the old and "
        "new version; every further read of the mount fails with EIO (Input/output "
        "error). Run the step again to read the new version.\n"
    )


def test_a_reader_done_before_the_overwrite_saw_the_old_files_whole(
    mounted: Any, tmp_path: Path
) -> None:
    store, place, log = mounted
    seen = {name: (place / name).read_text() for name in sorted(os.listdir(place))}
    overwrite_elsewhere(store.location, tmp_path)
    assert seen == OLD
    assert not log.exists()
