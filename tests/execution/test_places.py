"""Naming where a step reads and writes, and the StorageError that says so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dataferry.catalog.run_store import OutputRecord
from dataferry.errors import PathNotFoundError, StorageError
from dataferry.execution.places import failures_at, input_places, output_place
from dataferry.execution.plan_inputs import (
    DataPathInput,
    DatasetInput,
    UpstreamOutputInput,
)
from dataferry.execution.plan_model import OutputTarget
from dataferry.execution.plan_values import DatasetRef, ParamRef


class AuthenticationError(Exception):
    pass


class TestFailuresAt:
    def test_any_other_error_becomes_a_storage_error_naming_the_places(self) -> None:
        cause = AuthenticationError("token expired")
        with (
            pytest.raises(
                StorageError,
                match=r"^step 'b': reading failed \(datastore 'cloud', path 'x'; URL "
                r"'https://h/y'\): AuthenticationError: token expired\. Check that the "
                r"datastore's credentials are valid and the path can be reached, then "
                r"run the step again\.$",
            ) as caught,
            failures_at(
                "step 'b': reading failed",
                ["datastore 'cloud', path 'x'", "URL 'https://h/y'"],
            ),
        ):
            raise cause
        assert caught.value.__cause__ is cause
        assert isinstance(caught.value, OSError)

    def test_a_dataferry_error_passes_unchanged(self) -> None:
        with (
            pytest.raises(PathNotFoundError, match=r"^no file 'x'$"),
            failures_at("step 'b'", ["datastore 'cloud', path 'x'"]),
        ):
            raise PathNotFoundError("no file 'x'")

    def test_no_places(self) -> None:
        with (
            pytest.raises(StorageError, match=r"^step 'b': KeyError: 'k'\. Check"),
            failures_at("step 'b'", []),
        ):
            raise KeyError("k")


class TestPlaces:
    def test_dataset_sources(self) -> None:
        definition = {
            "sources": [
                {"datastore": "cloud", "path": "raw/*.csv"},
                {"url": "https://example.org/a.csv"},
                {"local": "/data/b.csv"},
            ]
        }
        spec = DatasetInput(
            name="d",
            mode="mount",
            style="dataset",
            source=DatasetRef("file", definition),
        )

        assert input_places(spec, {}, {}) == [
            "datastore 'cloud', path 'raw/*.csv'",
            "URL 'https://example.org/a.csv'",
            "local path '/data/b.csv'",
        ]

    def test_parameters(self) -> None:
        parameters = {
            "ds": {
                "dataset": {
                    "kind": "file",
                    "definition": {"sources": [{"url": "s3://b/k"}]},
                }
            },
            "dp": {"datapath": {"datastore": "cloud", "path": "p"}},
        }

        ds = DatasetInput(
            name="d", mode="mount", style="dataset", source=ParamRef("ds")
        )
        dp = DataPathInput(
            name="p", mode="mount", style="dataref", source=ParamRef("dp")
        )

        assert input_places(ds, parameters, {}) == ["URL 's3://b/k'"]
        assert input_places(dp, parameters, {}) == ["datastore 'cloud', path 'p'"]

    def test_upstream_output(self) -> None:
        spec = UpstreamOutputInput(
            name="i", mode="mount", style="dataset", producer="a", output="first"
        )
        record = OutputRecord(
            "a_1", "first", "store", "dataset/a_1/first", "mount", 1, 1,
            datetime.now(UTC), None,
        )  # fmt: skip

        assert input_places(spec, {}, {("a", "first"): record}) == [
            "datastore 'store', path 'dataset/a_1/first'"
        ]
        assert input_places(spec, {}, {}) == ["output 'first' of step 'a'"]

    def test_output(self) -> None:
        spec = OutputTarget(
            name="model",
            type="pipeline_data",
            mode="upload",
            datastore="cloud",
            path_template="m/{run-id}/{output-name}",
        )

        assert output_place(spec, "b_1") == "datastore 'cloud', path 'm/b_1/model'"
