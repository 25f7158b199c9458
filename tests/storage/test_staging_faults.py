"""The commit protocol against hostile input and a machine that dies.

Markers of every wrong shape are typed errors (never a partial output served as
whole); destinations that are globs or live in dataferry's bookkeeping are refused
before anything is written; a marker taken away by an overwrite between a reader's
listing and its reading reads as absent; and ``kill -9`` at every stage of an
object-store commit leaves the old output or an absent one, never a mix, with the
staging prefix cleaned by ``discard_step`` and a later commit whole.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from fsspec.implementations.dirfs import DirFileSystem
from staging_backends import OBJECT_STORES, dirfs
from test_staging_contract import _open, _params, commit, listed

from dataferry.errors import DamagedDataError, DatastorePathError, PathNotFoundError
from dataferry.pipeline.outputs import OutputFileDatasetConfig
from dataferry.storage.commit_marker import MARKER, PENDING
from dataferry.storage.location import StorageLocation
from dataferry.storage.paths import check_written_path
from dataferry.storage.places import physical_place

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from dataferry import Workspace


@pytest.fixture(params=_params(OBJECT_STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageLocation]:
    loc = _open(request, tmp_path)  # Azurite among them, with the server marker
    yield loc
    if request.param == "memory" and loc.fs.exists(loc.root):
        loc.fs.rm(loc.root, recursive=True)


def put_marker(loc: StorageLocation, body: bytes) -> None:
    loc.fs.pipe_file(loc.full_path(f"data/out/{MARKER}"), body)


class TestDamagedMarkers:
    @pytest.mark.parametrize(
        ("body", "why"),
        [
            (b'{"format": 1, "files": {"a.cs', r"is unreadable \(Unterminated string"),
            (b"", r"is unreadable \(Expecting value"),
            (b"\xff\xfe\x00", r"is unreadable \("),
            (b"[]", r"is unreadable \(it is not a format-1 marker\)"),
            (b"null", r"is unreadable \(it is not a format-1 marker\)"),
            (b'{"format": 2, "files": {}}', r"is unreadable \(it is not a format-1"),
            (b'{"format": 1, "files": []}', r"is unreadable \(its 'files' is not an"),
            (b'{"format": 1}', r"is unreadable \(its 'files' is not an object\)"),
            (
                b'{"format": 1, "files": {"a.csv": 1}}',
                r"is unreadable \(the entry 'a\.csv' has no",
            ),
            (
                b'{"format": 1, "files": {"a.csv": {"size": -1}}}',
                r"is unreadable \(the entry 'a\.csv' has no size\)",
            ),
            (
                b'{"format": 1, "files": {"a.csv": {"size": true}}}',
                r"is unreadable \(the entry 'a\.csv' has no size\)",
            ),
            (
                b'{"format": 1, "files": {"../../etc/x": {"size": 1}}}',
                r"is unreadable \(the entry '\.\./\.\./etc/x' is not a path inside the output\)",
            ),
            (
                b'{"format": 1, "files": {"/a.csv": {"size": 1}}}',
                r"is unreadable \(the entry '/a\.csv' is not a path inside the output\)",
            ),
        ],
    )
    def test_a_damaged_marker_is_a_typed_error_for_readers_and_the_catalog(
        self, store: StorageLocation, tmp_path: Path, body: bytes, why: str
    ) -> None:
        commit(store, tmp_path, {"a.csv": "1"})
        put_marker(store, body)
        message = (
            r"^datastore 's': the commit marker 'data/out/\.dataferry-committed' " + why
        )

        with pytest.raises(DamagedDataError, match=message):
            store.resolve("data/out")
        with pytest.raises(DamagedDataError, match=message):
            store.staging.tree_signatures("data/out")
        with pytest.raises(
            DamagedDataError, match="delete the output and run the step"
        ):
            store.resolve("data/out")

    def test_a_marker_listing_a_missing_file_is_damage_to_readers_a_change_to_the_catalog(
        self, store: StorageLocation, tmp_path: Path
    ) -> None:
        """Readers must not be served part of an output as the whole; the catalog sees
        the file deleted, so reuse reruns the step (as for a changed local output)."""
        commit(store, tmp_path, {"a.csv": "1"})
        put_marker(
            store,
            b'{"format": 1, "files": {"a.csv": {"size": 1}, "gone.csv": {"size": 3}}}',
        )

        with pytest.raises(
            DamagedDataError,
            match=r"^datastore 's': the commit marker 'data/out/\.dataferry-committed' "
            r"lists 1 file\(s\) that are not there, such as 'gone\.csv', so the "
            r"output is incomplete",
        ):
            store.resolve("data/out")
        signatures = store.staging.tree_signatures("data/out")
        assert signatures is not None and sorted(signatures) == ["a.csv"]

    def test_a_glob_over_part_of_a_whole_output_is_not_damage(
        self, store: StorageLocation, tmp_path: Path
    ) -> None:
        commit(store, tmp_path, {"a.csv": "1", "b.txt": "2", "sub/c.csv": "3"})

        assert listed(store, "data/out/*.csv") == {"a.csv": "1"}
        assert listed(store, "data/out/sub") == {"sub/c.csv": "3"}

    def test_a_marker_listing_a_missing_file_in_a_subfolder_listing(
        self, store: StorageLocation, tmp_path: Path
    ) -> None:
        commit(store, tmp_path, {"a.csv": "1", "sub/c.csv": "3", "sub/d.csv": "4"})
        store.fs.rm_file(store.full_path("data/out/sub/d.csv"))

        with pytest.raises(DamagedDataError, match=r"such as 'sub/d\.csv'"):
            store.resolve("data/out")
        signatures = store.staging.tree_signatures("data/out")  # the catalog's view
        assert signatures is not None and sorted(signatures) == ["a.csv", "sub/c.csv"]

    def test_an_overwrite_heals_a_marker_listing_a_missing_file(
        self, store: StorageLocation, tmp_path: Path
    ) -> None:
        commit(store, tmp_path, {"a.csv": "1", "b.csv": "2"})
        store.fs.rm_file(store.full_path("data/out/b.csv"))

        commit(store, tmp_path, {"c.csv": "3"}, merge=True, step="step_2")

        assert listed(store) == {"a.csv": "1", "c.csv": "3"}


class VanishingMarkerFileSystem(DirFileSystem):
    """A reader's view while an overwrite publishes: the marker it listed is removed
    (as the commit does after writing its pending file) just before it is read."""

    def cat_file(self, path: str, *args: Any, **kwargs: Any) -> Any:
        if path.endswith(MARKER):
            self.pipe_file(path.replace(MARKER, PENDING), b"")
            self.rm_file(path)
        return super().cat_file(path, *args, **kwargs)


def test_a_marker_removed_between_listing_and_reading_reads_as_absent(
    tmp_path: Path,
) -> None:
    commit(dirfs(tmp_path), tmp_path, {"a.csv": "old", "b.csv": "old"})
    fs = VanishingMarkerFileSystem(
        str(tmp_path / "store"), target_protocol="file",
        target_options={"auto_mkdir": True},
    )  # fmt: skip
    reader = StorageLocation("s", fs, "")

    with pytest.raises(PathNotFoundError, match=r"path 'data/out' matches no file"):
        reader.resolve("data/out")
    assert reader.staging.tree_signatures("data/out") is None


class TestWrittenPaths:
    @pytest.mark.parametrize(
        ("path", "why"),
        [
            (".dataferry-staging/x", r"has the part '\.dataferry-staging': names"),
            ("out/.dataferry-staging", r"has the part '\.dataferry-staging'"),
            ("a/.dataferry-committed", r"has the part '\.dataferry-committed'"),
            ("a/.dataferry-committing/b", r"has the part '\.dataferry-committing'"),
            ("a/.dataferry-anything", r"has the part '\.dataferry-anything'"),
            ("out/*/x", r"has the glob character\(s\) '\*' in '\*'"),
            ("out/[ab]", r"has the glob character\(s\) '\[\]' in '\[ab\]'"),
            ("a?b/{run-id}", r"has the glob character\(s\) '\?' in 'a\?b'"),
            ("  /x", r"has a part that is only spaces"),
            ("a\nb", r"holds a control character"),
            ("a\tb", r"holds a control character"),
            ("x" * 300, r"has a part of 300 bytes; file names allow 255"),
            ("é" * 130, r"has a part of 260 bytes; file names allow 255"),
            (
                "/".join(["d" * 200] * 6),
                r"has 1205 characters; object stores allow 1024",
            ),
        ],
    )
    def test_a_destination_that_cannot_be_written_is_refused_at_definition(
        self, path: str, why: str
    ) -> None:
        with pytest.raises(
            DatastorePathError,
            match=rf"(?s)^output 'o': destination '.*' on datastore 'ds' {why}",
        ):
            OutputFileDatasetConfig(name="o", destination=("ds", path))

    @pytest.mark.parametrize("path", ["é/ü/{run-id}", "a b/c", "out/{output-name}"])
    def test_unicode_and_spaces_inside_a_name_are_fine(self, path: str) -> None:
        out = OutputFileDatasetConfig(name="o", destination=("ds", path))

        assert out.destination == ("ds", path)

    def test_a_resolved_destination_is_checked_again(self) -> None:
        with pytest.raises(
            DatastorePathError,
            match=r"^output 'o': destination '\.dataferry-staging/step_1/o' on "
            r"datastore 's' has the part '\.dataferry-staging'",
        ):
            check_written_path(
                ".dataferry-staging/step_1/o",
                where="output 'o': destination '.dataferry-staging/step_1/o' on "
                "datastore 's'",
            )

    @pytest.mark.parametrize(
        "target", [".dataferry-staging/step_9", "x/*", "a/.dataferry-committed"]
    )
    def test_an_upload_into_bookkeeping_or_a_glob_is_refused_before_writing(
        self, workspace: Workspace, tmp_path: Path, target: str
    ) -> None:
        store = workspace.get_default_datastore()
        (tmp_path / "up").mkdir()
        (tmp_path / "up" / "f.csv").write_text("a\n1\n")

        with pytest.raises(
            DatastorePathError,
            match=rf"^target_path '{re.escape(target)}' on datastore "
            "'workspaceblobstore' has ",
        ):
            store.upload(str(tmp_path / "up"), target_path=target, show_progress=False)
        with pytest.raises(DatastorePathError, match=r"^target_path"):
            store.upload_files([str(tmp_path / "up" / "f.csv")], target_path=target)
        assert not store.location.exists(target.split("/")[0] + "/f.csv")
        assert not store.location.exists(target)


# kill -9 at each stage of an object-store commit; the helper dies at the named call
HELPER = """
import os, signal, sys
from pathlib import Path
from fsspec.implementations.dirfs import DirFileSystem
from dataferry.storage.location import StorageLocation
from dataferry.storage.staging import StagedPlace

STAGE = sys.argv[3]
seen = {"copy": 0}


def die():
    os.kill(os.getpid(), signal.SIGKILL)


class DyingFileSystem(DirFileSystem):
    def pipe_file(self, path, value, *args, **kwargs):
        if STAGE == "after-upload" and path.endswith(".dataferry-committing"):
            die()
        if STAGE == "before-marker" and path.endswith(".dataferry-committed"):
            die()
        super().pipe_file(path, value, *args, **kwargs)
        if STAGE == "after-marker" and path.endswith(".dataferry-committed"):
            die()

    def copy(self, path1, path2, *args, **kwargs):
        seen["copy"] += 1
        if STAGE == "mid-publish" and seen["copy"] == 3:
            die()
        return super().copy(path1, path2, *args, **kwargs)


root, scratch = sys.argv[1], Path(sys.argv[2])
fs = DyingFileSystem(root, target_protocol="file", target_options={"auto_mkdir": True})
loc = StorageLocation("s", fs, "")
folder = loc.staging.stage("data/out", "step_2", "out", scratch)
for i in range(8):
    (folder / f"part-{i:02d}.csv").write_text(f"new {i}")
loc.staging.commit(StagedPlace("data/out", folder, "step_2", "out"), merge=True)
if STAGE == "before-catalog":
    die()  # the bytes are whole; the catalog row was never written
print("committed")
"""
OLD = {"part-00.csv": "old 0", "old.csv": "old"}
NEW = {f"part-{i:02d}.csv": f"new {i}" for i in range(8)}
STAGES = ["after-upload", "mid-publish", "before-marker", "after-marker",
          "before-catalog"]  # fmt: skip


def _killed_tree(folder: Path, stage: str) -> None:
    """``folder/store``: OLD committed, then a helper killed at ``stage`` overwriting it."""
    commit(dirfs(folder), folder, OLD)
    script = folder / "helper.py"
    script.write_text(HELPER)
    done = subprocess.run(
        [sys.executable, str(script), str(folder / "store"), str(folder / "s2"), stage],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr


@pytest.fixture(scope="module")
def killed_trees(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``killed_trees(stage)``: a folder left by a helper killed at ``stage``, made once
    per stage and module: both tests of a stage read a copy of the same kill (a spawned
    interpreter each cost most of the quick selection's time in this module)."""
    made: dict[str, Path] = {}

    def killed(stage: str) -> Path:
        if stage not in made:
            made[stage] = tmp_path_factory.mktemp(f"killed-{stage}")
            _killed_tree(made[stage], stage)
        return made[stage]

    return killed


@pytest.fixture
def kill_during_commit(
    killed_trees: Callable[[str], Path], tmp_path: Path
) -> Callable[[str], StorageLocation]:
    """``kill_during_commit(stage)``: the store of a commit killed at ``stage``, a
    copy of its own in ``tmp_path/store`` (a test changes it)."""

    def copied(stage: str) -> StorageLocation:
        shutil.copytree(
            killed_trees(stage), tmp_path, dirs_exist_ok=True, symlinks=True
        )
        return StorageLocation(
            "s",
            DirFileSystem(
                str(tmp_path / "store"),
                target_protocol="file",
                target_options={"auto_mkdir": True},
            ),
            "",
        )

    return copied


def seen_or_absent(location: StorageLocation) -> dict[str, str] | None:
    try:
        return listed(location)
    except PathNotFoundError:
        return None


@pytest.mark.parametrize("stage", STAGES)
def test_kill_9_at_every_commit_stage_leaves_old_absent_or_whole(
    kill_during_commit: Callable[[str], StorageLocation], stage: str
) -> None:
    location = kill_during_commit(stage)
    seen = seen_or_absent(location)
    merged = {**OLD, **NEW}

    expected = {
        "after-upload": OLD,  # nothing published: the old output, whole
        "mid-publish": None,
        "before-marker": None,
        "after-marker": None,  # whole, but its pending file is left: absent
        "before-catalog": merged,
    }[stage]
    assert seen == expected
    assert (location.staging.tree_signatures("data/out") is None) is (expected is None)


@pytest.mark.parametrize("stage", STAGES)
def test_after_a_kill_9_resume_cleans_staging_and_commits_whole(
    kill_during_commit: Callable[[str], StorageLocation], tmp_path: Path, stage: str
) -> None:
    location = kill_during_commit(stage)

    location.staging.discard_step("step_2")  # what resume and gc do
    assert location.staging.staged_steps() == []
    assert not (tmp_path / "store" / ".dataferry-staging" / "step_2").exists()
    commit(location, tmp_path, NEW, merge=True, step="step_2")  # the step run again

    assert listed(location) == {**OLD, **NEW}
    marker = json.loads((tmp_path / "store/data/out" / MARKER).read_text())
    assert sorted(marker["files"]) == sorted({**OLD, **NEW})
    assert not (tmp_path / "store/data/out" / PENDING).exists()
    assert location.staging.staged_steps() == []


class TestPhysicalPlaces:
    """Leases key outputs by the place itself, not by the datastore's name."""

    def test_two_datastores_over_one_folder_share_a_place(self, tmp_path: Path) -> None:
        outer = dirfs(tmp_path)
        inner = StorageLocation(
            "inner",
            DirFileSystem(str(tmp_path / "store" / "data"), target_protocol="file"),
            "",
        )

        assert physical_place(outer, "data/out") == physical_place(inner, "./out/")
        assert physical_place(outer, "data/out")[
            1
        ] == f"{tmp_path}/store/data/out".strip("/")

    def test_an_azure_place_names_the_endpoint_and_never_a_secret(self) -> None:
        from adlfs import AzureBlobFileSystem

        signed = AzureBlobFileSystem(
            account_name="acct",
            sas_token="sv=1&sig=SECRETSIG",
            skip_instance_cache=True,
        )
        emulated = AzureBlobFileSystem(
            connection_string="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
            "SharedAccessSignature=sv=1&sig=SECRETSIG;",
            skip_instance_cache=True,
        )

        assert physical_place(StorageLocation("a", signed, "cont"), "data/out") == (
            "abfs://acct.blob.core.windows.net",
            "cont/data/out",
        )
        assert physical_place(
            StorageLocation("b", emulated, "cont"), "/data/./out/"
        ) == (
            "abfs://127.0.0.1:10000/devstoreaccount1",
            "cont/data/out",
        )

    def test_a_place_above_the_root_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(DatastorePathError, match=r"leaves the datastore's root"):
            physical_place(dirfs(tmp_path), "../other")
