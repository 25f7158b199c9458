"""Hostile input to the dataset views: odd versions, a profile cache that is corrupt
or half-written, data deleted after registration, an empty or all-null dataset, and
the same refusals over HTTP as typed 4xx answers in the SDK's error shape."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from dataferry.errors import (
    DatasetNotFoundError,
    InvalidVersionError,
)
from dataferry.execution import views

if TYPE_CHECKING:
    from dataferry import TabularDataset, Workspace

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
