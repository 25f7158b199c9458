"""``dataferry gc`` settles an object-store commit killed between start and marker.

A separate process commits an output to a blob datastore on Azurite and SIGKILLs
itself at a chosen point of the publish, leaving ``.dataferry-committing`` (the output
reads as absent) and its staged files. The step run is one the catalog does not know,
so nothing would ever rerun it: ``gc`` must finish or undo the commit.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
from execution.blob_kit import blobs, register_blob
from servers.azurite import ACCOUNT, KEY

from dataferry.errors import PathNotFoundError
from dataferry.execution.lifecycle import gc
from dataferry.storage.commit_marker import INTENT, MARKER, PENDING, STAGING_DIR
from dataferry.storage.staging import StagedPlace

if TYPE_CHECKING:
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Datastore, Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]

# commits {a.csv: new-a, b.csv: new-b, c.csv: new-c} to data/out as step run
# "gone_1", killing itself at KILL_AT ("remove_marker": PENDING written, the old
# marker still there; "second_copy": one file published, the old marker gone)
COMMITTER = """
import os, signal, sys
from pathlib import Path
from dataferry.storage.azure import azure_blob_filesystem
from dataferry.storage.location import StorageLocation
from dataferry.storage.staging import StagedPlace
from dataferry.storage import staging_object

container, port, account, key, scratch, kill_at = sys.argv[1:7]
options = {"account_name": account, "container_name": container,
           "protocol": "http", "endpoint": f"127.0.0.1:{port}"}
fs, root = azure_blob_filesystem(options, {"account_key": key})
loc = StorageLocation("blob", fs, root)
staging_object.TRANSFER_THREADS = 1
cls = staging_object.ObjectStoreStaging
if kill_at == "remove_marker":
    cls._remove_marker = lambda self, final: os.kill(os.getpid(), signal.SIGKILL)
else:
    real_copy, copies = fs.copy, []
    def copy(src, dst, **kw):
        if copies:
            os.kill(os.getpid(), signal.SIGKILL)
        copies.append(dst)
        return real_copy(src, dst, **kw)
    fs.copy = copy
folder = loc.staging.stage("data/out", "gone_1", "out", Path(scratch))
for name in ("a", "b", "c"):
    (folder / f"{name}.csv").write_text(f"new-{name}")
loc.staging.commit(StagedPlace("data/out", folder, "gone_1", "out"), merge=True)
"""


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``)."""
    return catalog_workspace


@pytest.fixture
def blob(workspace: Workspace, azurite: Azurite, blob_container: str) -> Datastore:
    return register_blob(workspace, azurite, blob_container)


def kill_a_commit(blob: Datastore, azurite: Azurite, tmp_path: Path, at: str) -> None:
    script = tmp_path / "committer.py"
    script.write_text(textwrap.dedent(COMMITTER))
    args = [blob.container_name, str(azurite.port), ACCOUNT, KEY, str(tmp_path / "s")]
    done = subprocess.run([sys.executable, str(script), *args, at], timeout=120)
    assert done.returncode == -signal.SIGKILL


def commit_old(blob: Datastore, tmp_path: Path) -> None:
    loc = blob.location
    folder = loc.staging.stage("data/out", "old_1", "out", tmp_path / "old")
    for name in ("a", "b"):
        (folder / f"{name}.csv").write_text(f"old-{name}")
    loc.staging.commit(StagedPlace("data/out", folder, "old_1", "out"), merge=False)


def read(blob: Datastore) -> dict[str, str]:
    loc = blob.location
    loc.fs.invalidate_cache()
    found = {}
    for full in loc.resolve("data/out"):
        with loc.open(full) as fh:
            found[full.rsplit("/", 1)[-1]] = fh.read().decode()
    return found


def test_a_commit_killed_before_publishing_is_rolled_back_by_gc(
    workspace: Workspace, blob: Datastore, azurite: Azurite, tmp_path: Path
) -> None:
    commit_old(blob, tmp_path)
    kill_a_commit(blob, azurite, tmp_path, "remove_marker")
    assert PENDING in blobs(blob, "data/out")
    assert f"gone_1/out/{INTENT}" in blobs(blob, STAGING_DIR)
    with pytest.raises(PathNotFoundError, match="matches no file"):
        read(blob)

    report = gc(workspace)

    assert report.staging == [blob.location.full_path(f"{STAGING_DIR}/gone_1")]
    assert read(blob) == {"a.csv": "old-a", "b.csv": "old-b"}
    assert sorted(blobs(blob, "data/out")) == [MARKER, "a.csv", "b.csv"]
    assert blobs(blob, STAGING_DIR) == {}


def test_an_overwrite_killed_while_publishing_is_rolled_forward_by_gc(
    workspace: Workspace, blob: Datastore, azurite: Azurite, tmp_path: Path
) -> None:
    commit_old(blob, tmp_path)
    kill_a_commit(blob, azurite, tmp_path, "second_copy")
    left = blobs(blob, "data/out")
    assert (MARKER in left, left.get("a.csv")) == (False, "new-a")  # half published

    gc(workspace)

    assert read(blob) == {"a.csv": "new-a", "b.csv": "new-b", "c.csv": "new-c"}
    assert PENDING not in blobs(blob, "data/out")
    assert blobs(blob, STAGING_DIR) == {}
    # a dry run afterwards finds nothing left
    assert gc(workspace, dry_run=True).staging == []


def test_a_new_output_killed_while_publishing_is_removed_by_gc(
    workspace: Workspace, blob: Datastore, azurite: Azurite, tmp_path: Path
) -> None:
    kill_a_commit(blob, azurite, tmp_path, "second_copy")
    assert sorted(blobs(blob, "data/out")) == [PENDING, "a.csv"]

    gc(workspace)

    assert blobs(blob, "data/out") == {}
    assert blobs(blob, STAGING_DIR) == {}
