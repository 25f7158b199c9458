"""A source folder with no ignore file is matched without pathspec, exactly as git's
rules (pathspec's ``GitIgnoreSpec``) match the patterns always left out."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pathspec
import pytest

from dataferry.execution.snapshot import _ALWAYS_IGNORED, ignore_spec, source_files

if TYPE_CHECKING:
    from pathlib import Path

PATHS = [
    "train.py",
    "pkg/",
    "pkg/model.py",
    "pkg/model.pyc",
    "model.pyc",
    "data.pyc/",
    "data.pyc/inner.txt",
    ".git/",
    ".git",  # a git worktree's .git is a file: ".git/" matches folders only
    "sub/.git/",
    "sub/.git/config",
    "__pycache__/",
    "a/b/__pycache__/",
    "a/b/__pycache__/x.cpython-311.pyc",
    ".venv/",
    ".venv/lib/site.py",
    ".venv",
    ".dataferry/",
    ".azureml/config.json",
    "venv/",
    "git/",
    "notes.pycx",
    "x/.venvy/",
]


@pytest.mark.parametrize("path", PATHS)
def test_the_rules_without_an_ignore_file_are_gits(path: str, tmp_path: Path) -> None:
    git = pathspec.GitIgnoreSpec.from_lines(list(_ALWAYS_IGNORED))

    assert ignore_spec(tmp_path).match_file(path) == git.match_file(path)


def test_an_ignore_file_adds_its_rules(tmp_path: Path) -> None:
    (tmp_path / "keep.py").write_text("")
    (tmp_path / "big.csv").write_text("")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "keep.cpython-311.pyc").write_text("")
    assert source_files(tmp_path) == ["big.csv", "keep.py"]

    (tmp_path / ".amlignore").write_text("*.csv\n")

    assert source_files(tmp_path) == [".amlignore", "keep.py"]
