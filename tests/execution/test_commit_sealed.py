"""Committing over, and deleting, outputs that are sealed read-only, as their owner.

Run as a user that is not root when the tests run as root: root ignores the
permissions, so only the owner shows that a sealed tree is made writable first.
"""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING

import fsspec
import pytest
from pipeline.kit import as_nobody, needs_root, nobody_folder

from dataferry.execution.commit import STAGING_DIR, StagedOutput, commit_output
from dataferry.execution.plan_model import OutputTarget
from dataferry.storage import StorageLocation
from dataferry.storage.integrity import remove_tree

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def root() -> Iterator[Path]:
    folder = nobody_folder()
    yield folder
    remove_tree(str(folder))


def target(mode: str) -> OutputTarget:
    """Output 'out' of datastore 's' at ``data/out``."""
    return OutputTarget(
        name="out",
        type="dataset_output",
        mode=mode,
        datastore="s",
        path_template="data/out",
    )


def commit(root: Path, files: dict[str, str], *, mode: str = "mount") -> None:
    """Stage ``files`` and commit them as output 'out' at ``data/out``."""
    location = StorageLocation("s", fsspec.filesystem("file"), str(root))
    staged = root / STAGING_DIR / "step_run" / "out"
    staged.mkdir(parents=True)
    for name, text in files.items():
        (staged / name).parent.mkdir(parents=True, exist_ok=True)
        (staged / name).write_text(text)
    spec = target(mode)
    commit_output(StagedOutput(spec, location, "data/out", staged))


def contents(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        p.relative_to(folder).as_posix(): (
            p.read_text() if p.is_file() else "",
            stat.S_IMODE(p.stat().st_mode) & 0o222,
        )
        for p in sorted(folder.rglob("*"))
    }


@needs_root
class TestAsTheOwner:
    def test_commit_over_a_sealed_output_merges_and_seals_again(
        self, root: Path
    ) -> None:
        def twice() -> None:
            commit(root, {"a.csv": "old", "sub/c.csv": "kept"})
            commit(root, {"a.csv": "new", "b.csv": "b"})

        assert as_nobody(twice) == "done"
        assert contents(root / "data" / "out") == {
            "a.csv": ("new", 0),
            "b.csv": ("b", 0),
            "sub": ("", 0),
            "sub/c.csv": ("kept", 0),
        }
        assert not (root / STAGING_DIR / "step_run").exists()

    def test_a_sealed_output_is_deleted(self, root: Path) -> None:
        def commit_then_delete() -> None:
            commit(root, {"a.csv": "x", "sub/c.csv": "y"})
            remove_tree(str(root / "data" / "out"))

        assert as_nobody(commit_then_delete) == "done"
        assert not (root / "data" / "out").exists()


def test_commit_records_signatures_of_every_file(tmp_path: Path) -> None:
    location = StorageLocation("s", fsspec.filesystem("file"), str(tmp_path))
    staged = tmp_path / STAGING_DIR / "step_run" / "out"
    (staged / "sub").mkdir(parents=True)
    (staged / "a.csv").write_text("abc")
    (staged / "sub" / "c.csv").write_text("de")
    spec = target("upload")

    row = commit_output(StagedOutput(spec, location, "data/out", staged))

    final = tmp_path / "data" / "out"
    assert row["signatures"] == {
        "a.csv": [
            3,
            (final / "a.csv").stat().st_mtime_ns,
            (final / "a.csv").stat().st_ino,
            "",
        ],
        "sub/c.csv": [
            2,
            (final / "sub" / "c.csv").stat().st_mtime_ns,
            (final / "sub" / "c.csv").stat().st_ino,
            "",
        ],
    }
    assert contents(final) == {
        "a.csv": ("abc", 0),
        "sub": ("", 0),
        "sub/c.csv": ("de", 0),
    }
