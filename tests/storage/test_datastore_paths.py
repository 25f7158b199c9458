"""One normal form for a datastore path; nothing leaves the datastore's root."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import fsspec
import pytest

from dataferry.errors import DatastorePathError
from dataferry.storage import DatastoreSpec, StorageLocation
from dataferry.storage.paths import normalise_datastore_path
from dataferry.storage.spec import is_case_insensitive

if TYPE_CHECKING:
    from pathlib import Path


def norm(path: str, **options: bool) -> str:
    return normalise_datastore_path(path, datastore="store", **options)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("shared/x", "shared/x"),
        ("shared/./x", "shared/x"),
        ("shared//x", "shared/x"),
        ("shared/x/", "shared/x"),
        ("./shared/x", "shared/x"),
        (".//shared///x//", "shared/x"),
        ("shared/y/../x", "shared/x"),
        ("shared\\x", "shared/x"),
        ("shared\\.\\x\\", "shared/x"),
        ("/shared/x", "shared/x"),
        ("a/b/../../shared/x", "shared/x"),
        ("", ""),
        ("/", ""),
        (".", ""),
        ("./", ""),
        ("a/..", ""),
        ("dir/**/*.csv", "dir/**/*.csv"),
        ("./dir//[ab]?.csv/", "dir/[ab]?.csv"),
        ("out/{run-id}/{output-name}", "out/{run-id}/{output-name}"),
        ("Shared/X", "Shared/X"),
        ("...", "..."),
        ("a/..b/c", "a/..b/c"),
    ],
)
def test_every_spelling_of_a_place_has_one_form(given: str, expected: str) -> None:
    assert norm(given) == expected


def test_the_normal_form_is_a_fixed_point() -> None:
    for given in ("shared/./x//", "/a/b/../c", "dir/**/*.csv", ""):
        once = norm(given)
        assert norm(once) == once


@pytest.mark.parametrize(
    ("given", "inside"),
    [
        ("..", ""),
        ("../x", "x"),
        ("a/../../x", "x"),
        ("./../x/y", "x/y"),
        ("/../x", "x"),
    ],
)
def test_climbing_above_the_root_is_refused(given: str, inside: str) -> None:
    hint = f", such as '{inside}'" if inside else ""
    with pytest.raises(
        DatastorePathError,
        match=rf"^path '{re.escape(given)}' on datastore 'store' leaves the datastore's root: "
        rf"its '\.\.' climbs above it\. Give a path inside the datastore{hint}\.$",
    ):
        norm(given)


def test_backslash_climbs_are_refused_too() -> None:
    with pytest.raises(DatastorePathError, match=re.escape("'..\\x' on datastore")):
        norm("..\\x")


def test_an_absolute_path_is_refused_where_it_is_not_allowed() -> None:
    assert norm("/etc/x") == "etc/x"  # dataset paths: '/' is the datastore's root
    with pytest.raises(
        DatastorePathError,
        match=r"^output 'o': destination '/etc/x' on datastore 'store' is absolute, but "
        r"it names a place inside the datastore: write it without the leading '/', as "
        r"'etc/x'\.$",
    ):
        normalise_datastore_path(
            "/etc/x",
            datastore="store",
            role="output 'o': destination",
            allow_absolute=False,
        )


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("s3://bucket/x", "is a URL, not a path on the datastore"),
        ("https://host/x.csv", "is a URL, not a path on the datastore"),
        ("C:/data/x", "is a path on this machine, not on the datastore"),
        ("c:\\data\\x", "is a path on this machine, not on the datastore"),
        ("a\x00b", "holds a NUL character"),
    ],
)
def test_what_is_not_a_datastore_path_is_refused(given: str, problem: str) -> None:
    with pytest.raises(DatastorePathError, match=problem):
        norm(given)


def test_folding_case_is_for_comparing_only() -> None:
    assert norm("Shared/./X/", fold_case=True) == "shared/x"
    assert norm("Shared/./X/") == "Shared/X"


class TestCaseInsensitiveKinds:
    @pytest.mark.parametrize(
        ("kind", "options", "platform", "expected"),
        [
            ("azure_file", {}, "linux", True),
            ("azure_blob", {}, "linux", False),
            ("azure_data_lake_gen2", {}, "linux", False),
            ("local", {"path": "/d"}, "linux", False),
            ("local", {"path": "/d"}, "darwin", True),
            ("local", {"path": "/d"}, "win32", True),
            ("fsspec", {"url": "smb://host/share"}, "linux", True),
            ("fsspec", {"url": "s3://bucket/x"}, "linux", False),
            ("fsspec", {"url": "memory://x"}, "linux", False),
        ],
    )
    def test_a_kind_declares_whether_its_paths_ignore_case(
        self, kind: str, options: dict[str, str], platform: str, expected: bool
    ) -> None:
        spec = DatastoreSpec("s", kind, options)
        assert is_case_insensitive(spec, platform=platform) is expected


class TestLocationPaths:
    @pytest.fixture
    def location(self, tmp_path: Path) -> StorageLocation:
        return StorageLocation("box", fsspec.filesystem("file"), str(tmp_path))

    def test_full_path_normalises(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        for given in ("shared/x", "shared/./x", "shared//x/", "/shared/y/../x"):
            assert location.full_path(given) == f"{tmp_path}/shared/x"

    @pytest.mark.parametrize("given", ["../x", "a/../../x", "..", "..\\x"])
    def test_full_path_never_leaves_the_root(
        self, location: StorageLocation, given: str
    ) -> None:
        with pytest.raises(
            DatastorePathError, match=r"on datastore 'box' leaves the datastore's root"
        ):
            location.full_path(given)

    def test_comparison_key_folds_case_only_where_the_store_ignores_it(
        self, tmp_path: Path
    ) -> None:
        fs = fsspec.filesystem("file")
        exact = StorageLocation("box", fs, str(tmp_path))
        folding = StorageLocation("box", fs, str(tmp_path), is_case_insensitive=True)

        assert exact.comparison_key("Shared/./X/") == "Shared/X"
        assert folding.comparison_key("Shared/./X/") == "shared/x"
        # the path written is never the folded one
        assert folding.full_path("Shared/X") == f"{tmp_path}/Shared/X"
