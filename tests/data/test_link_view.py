"""A link view puts each file at its display path under the folder, never outside."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import fsspec
import pytest

from dataferry.data.file_dataset import local_target
from dataferry.data.mount import make_link_view
from dataferry.data.sources import ResolvedFile
from dataferry.errors import DatasetError
from dataferry.storage import StorageLocation

if TYPE_CHECKING:
    from pathlib import Path


def _file(root: Path, display: str) -> ResolvedFile:
    location = StorageLocation("s", fsspec.filesystem("file"), str(root))
    return ResolvedFile(location, str(root) + display, display)


@pytest.mark.parametrize(
    ("folder", "display", "expected"),
    [
        ("/v", "/a.txt", "/v/a.txt"),
        ("/v/", "/a/b.txt", "/v/a/b.txt"),
        ("/v/./w", "/a/../b.txt", "/v/w/b.txt"),
        ("/", "/a.txt", "/a.txt"),
        ("rel", "/a.txt", "rel/a.txt"),
    ],
)
def test_local_target_is_the_display_path_under_the_folder(
    tmp_path: Path, folder: str, display: str, expected: str
) -> None:
    assert local_target(folder, _file(tmp_path, display)) == expected


@pytest.mark.parametrize(
    ("folder", "display"),
    [("/v", "/../x.txt"), ("/v", "/a/../../x.txt"), ("/v/w", "/../wx/y.txt")],
)
def test_a_display_path_climbing_out_is_refused(
    tmp_path: Path, folder: str, display: str
) -> None:
    with pytest.raises(DatasetError, match=r"would be placed outside .*\(as '"):
        local_target(folder, _file(tmp_path, display))


def test_make_link_view_links_every_file_in_its_folders(tmp_path: Path) -> None:
    data = tmp_path / "data"
    displays = ["/a.txt", "/sub/b.txt", "/sub/c.txt", "/sub/deeper/d.txt"]
    for d in displays:
        (data / d.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (data / d.lstrip("/")).write_text(d)
    view = tmp_path / "view"
    make_link_view([_file(data, d) for d in displays], str(view))
    found = sorted(
        os.path.relpath(os.path.join(root, n), view)
        for root, _dirs, names in os.walk(view)
        for n in names
    )
    assert found == ["a.txt", "sub/b.txt", "sub/c.txt", "sub/deeper/d.txt"]
    assert all((view / d.lstrip("/")).read_text() == d for d in displays)
    assert os.readlink(view / "sub" / "c.txt") == str(data / "sub" / "c.txt")
    with pytest.raises(FileExistsError):
        make_link_view([_file(data, "/a.txt")], str(view))
