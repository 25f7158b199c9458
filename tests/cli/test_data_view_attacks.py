"""Hostile input to the dataset views: odd versions, a profile cache that is corrupt
or half-written, data deleted after registration, an empty or all-null dataset, and
the same refusals over HTTP as typed 4xx answers in the SDK's error shape."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import requests

from dataferry import DataPath, Dataset
from dataferry.errors import (
    DatasetNotFoundError,
    InvalidVersionError,
    PathNotFoundError,
)
from dataferry.execution import views

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Datastore, TabularDataset, Workspace

BAD_VERSIONS = [
    "0",
    "-1",
    "1.0",
    "+1",
    "1_0",  # int() reads it as 10
    "\u0661",  # ARABIC-INDIC DIGIT ONE: int() reads it as 1
    "\u00b2",  # SUPERSCRIPT TWO: isdigit() but int() fails
    "1" * 5000,  # int() refuses that many digits
    "9" * 19,  # beyond the catalog's integer
    "latest ",
    "LATEST",
    "x" * 5000,
    "1/2",
    "%2F",
    "",
]


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_a_version_that_is_no_positive_number_nor_latest_is_refused(
    workspace: Workspace, sales: TabularDataset, version: str
) -> None:
    with pytest.raises(InvalidVersionError, match="for version"):
        views.dataset_schema(workspace, "sales", version)


@pytest.mark.parametrize("version", [0, -1, 2**63, 10**30])
def test_a_numeric_version_out_of_range_is_refused(
    workspace: Workspace, sales: TabularDataset, version: int
) -> None:
    with pytest.raises(InvalidVersionError, match="versions start at 1"):
        views.dataset_profile(workspace, "sales", version)


@pytest.mark.parametrize("version", [" 2", "2 ", 2, "0002"])
def test_a_version_with_blanks_or_leading_zeros_is_that_version(
    workspace: Workspace, sales: TabularDataset, version: object
) -> None:
    assert views.dataset_profile(workspace, "sales", version)["version"] == 2  # type: ignore[arg-type]


def test_a_long_bad_version_is_cut_short_in_the_message(
    workspace: Workspace, sales: TabularDataset
) -> None:
    with pytest.raises(InvalidVersionError) as caught:
        views.dataset_schema(workspace, "sales", "x" * 5000)
    assert "(5002 characters)" in str(caught.value)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("name", ["sälës", "sales/../x", "a" * 5000, " sales", "%2F"])
def test_a_hostile_name_is_not_found(
    workspace: Workspace, sales: TabularDataset, name: str
) -> None:
    with pytest.raises(DatasetNotFoundError, match="name"):
        views.dataset_profile(workspace, name)


@pytest.mark.parametrize(
    "content", [b"", b"{", b'{"name": "sales", "rows"', b"[]", b"null", b"\xff\xfe"]
)
def test_a_corrupt_or_half_written_profile_cache_is_computed_again(
    workspace: Workspace, sales: TabularDataset, content: bytes
) -> None:
    first = views.dataset_profile(workspace, "sales")
    # the profile's own module is not imported here: that would shadow the function
    (path,) = (workspace.path / "cache" / "profiles").glob("*.json")
    path.write_bytes(content)

    again = views.dataset_profile(workspace, "sales")

    assert {**again, "cached": False} == {**first, "cached": False}
    assert again["cached"] is False
    assert json.loads(path.read_text(encoding="utf-8"))["rows"] == 8
    assert views.dataset_profile(workspace, "sales")["cached"] is True


def test_data_deleted_after_registration_is_a_typed_refusal(
    workspace: Workspace, sales: TabularDataset, store_root: Path
) -> None:
    for part in (store_root / "sales").glob("*.csv"):
        part.unlink()
    with pytest.raises(PathNotFoundError, match="sales"):
        views.dataset_profile(workspace, "sales")
    with pytest.raises(PathNotFoundError, match="sales"):
        views.dataset_schema(workspace, "sales")
    assert not (workspace.path / "cache" / "profiles").exists()


def test_an_all_null_and_an_empty_dataset_are_profiled(
    workspace: Workspace, blobstore: Datastore, store_root: Path
) -> None:
    folder = store_root / "odd"
    folder.mkdir()
    (folder / "nulls.csv").write_text("a,b\n,\n,\n")
    (folder / "empty.csv").write_text("a,b\n")
    for name in ("nulls", "empty"):
        Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, f"odd/{name}.csv")
        ).register(workspace, name)

    nulls = views.dataset_profile(workspace, "nulls")
    empty = views.dataset_profile(workspace, "empty")

    assert nulls["rows"] == 2
    assert [
        (c["name"], c["count"], c["nulls"], c["min"]) for c in nulls["columns"]
    ] == [
        ("a", 0, 2, None),
        ("b", 0, 2, None),
    ]
    assert empty["rows"] == 0
    assert [(c["name"], c["count"], c["nulls"]) for c in empty["columns"]] == [
        ("a", 0, 0),
        ("b", 0, 0),
    ]


@pytest.mark.server
@pytest.mark.slow
def test_hostile_urls_get_typed_4xx_answers(
    workspace: Workspace, sales: TabularDataset
) -> None:
    from cli.test_serve import start_server
    from cli.test_serve_refusals import refused

    for url in start_server(workspace, "127.0.0.1"):
        get = lambda path, url=url: requests.get(f"{url}{path}", timeout=60)  # noqa: E731
        profile = "/api/datasets/sales/profile?version="
        for version in ("%C2%B2", "%D9%A1", "1" * 5000, "9" * 19, "-1", "0", "%20"):
            refused(get(profile + version), 400, "UserError", "for version")
        for name in ("s%C3%A4l%C3%ABs", "x" * 3000, "%20sales"):
            refused(get(f"/api/datasets/{name}/schema"), 404, "NotFound", "name")
        # %2F is a slash to the router: no route, still a 404 in the SDK's shape
        refused(get("/api/datasets/a%2Fb/schema"), 404, "NotFound", "Not Found")
        assert get(profile + "%202").json()["version"] == 2
        (path,) = (workspace.path / "cache" / "profiles").glob("*.json")
        path.write_text('{"name": "sa')  # a file cut short
        assert get(profile + "2").json()["rows"] == 8
