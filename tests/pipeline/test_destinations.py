"""Output destinations are checked and normalised when the output is made.

Only ``{run-id}`` and ``{output-name}`` are placeholders; a destination never leaves its
datastore; and every spelling of one place becomes one path.
"""

from __future__ import annotations

import re

import pytest

from dataferry import Datastore, OutputFileDatasetConfig
from dataferry.errors import (
    DatastorePathError,
    StepDefinitionError,
    UnknownPlaceholderError,
)

VALID_ONES = (
    r"which is not a placeholder: only \{run-id\} and \{output-name\} are filled in, "
    r"and anything else in braces would be kept literally, so every run would write to "
    r"one folder\."
)


def output(store: Datastore | str, path: str) -> OutputFileDatasetConfig:
    return OutputFileDatasetConfig(name="o", destination=(store, path))


class TestPlaceholders:
    @pytest.mark.parametrize(
        ("path", "braced", "suggestion"),
        [
            ("exp/{run_id}/x", "{run_id}", "{run-id}"),
            ("{date}", "{date}", None),
            ("exp/{runid}", "{runid}", "{run-id}"),
            ("exp/{RUN-ID}", "{RUN-ID}", "{run-id}"),
            ("exp/{output_name}", "{output_name}", "{output-name}"),
            ("exp/{run-id}/{name}", "{name}", "{output-name}"),
            ("exp/{ run-id }", "{ run-id }", "{run-id}"),
            ("exp/{}", "{}", None),
            ("exp/{{run-id}}", "{}", None),
            ("exp/{experiment}/{run-id}", "{experiment}", None),
        ],
    )
    def test_an_unknown_placeholder_is_refused(
        self, blobstore: Datastore, path: str, braced: str, suggestion: str | None
    ) -> None:
        hint = f" Did you mean '{re.escape(suggestion)}'\\?" if suggestion else ""
        with pytest.raises(
            UnknownPlaceholderError,
            match=rf"^output 'o': destination '{re.escape(path)}' on datastore "
            rf"'workspaceblobstore' holds '{re.escape(braced)}', {VALID_ONES}{hint}$",
        ):
            output(blobstore, path)

    @pytest.mark.parametrize(
        ("path", "brace"), [("exp/{run-id/x", "{"), ("exp/run-id}/x", "}")]
    )
    def test_an_unmatched_brace_is_refused(
        self, blobstore: Datastore, path: str, brace: str
    ) -> None:
        with pytest.raises(
            UnknownPlaceholderError,
            match=rf"destination '{re.escape(path)}' on datastore 'workspaceblobstore' "
            rf"holds an unmatched '{re.escape(brace)}', {VALID_ONES}$",
        ):
            output(blobstore, path)

    def test_a_datastore_name_and_a_set_destination_are_checked_too(
        self, blobstore: Datastore
    ) -> None:
        with pytest.raises(
            UnknownPlaceholderError, match=r"on datastore 'elsewhere' holds '\{date\}'"
        ):
            output("elsewhere", "x/{date}")
        out = output(blobstore, "x/{run-id}")
        with pytest.raises(UnknownPlaceholderError, match=r"holds '\{date\}'"):
            out.destination = (blobstore, "x/{date}")
        assert out.destination == (blobstore, "x/{run-id}")

    def test_the_unknown_placeholder_is_an_error_of_the_step_family(self) -> None:
        assert issubclass(UnknownPlaceholderError, StepDefinitionError)
        assert issubclass(UnknownPlaceholderError, ValueError)
        assert UnknownPlaceholderError.exit_code == 2

    @pytest.mark.parametrize(
        "path",
        [
            "exp/{run-id}/{output-name}",
            "{run-id}",
            "exp/run_{run-id}_{output-name}.d",
            "{output-name}/{run-id}/{run-id}",
        ],
    )
    def test_the_two_placeholders_are_kept(
        self, blobstore: Datastore, path: str
    ) -> None:
        assert output(blobstore, path).destination == (blobstore, path)


class TestLeavingTheDatastore:
    @pytest.mark.parametrize(
        ("path", "inside"),
        [
            ("../x", "x"),
            ("a/../../x", "x"),
            ("{run-id}/../../x", "x"),
            ("..\\x", "x"),
            ("exp/../../../x/{run-id}", "x/{run-id}"),
        ],
    )
    def test_a_climb_above_the_root_is_refused(
        self, blobstore: Datastore, path: str, inside: str
    ) -> None:
        with pytest.raises(
            DatastorePathError,
            match=rf"^output 'o': destination '{re.escape(path)}' on datastore "
            r"'workspaceblobstore' leaves the datastore's root: its '\.\.' climbs above "
            rf"it\. Give a path inside the datastore, such as '{re.escape(inside)}'\.$",
        ):
            output(blobstore, path)

    @pytest.mark.parametrize(
        ("path", "relative"),
        [("/etc/x", "etc/x"), ("//etc/x", "etc/x"), ("\\etc\\x", "etc/x")],
    )
    def test_an_absolute_destination_is_refused(
        self, blobstore: Datastore, path: str, relative: str
    ) -> None:
        with pytest.raises(
            DatastorePathError,
            match=rf"^output 'o': destination '{re.escape(path)}' on datastore "
            r"'workspaceblobstore' is absolute, but it names a place inside the "
            rf"datastore: write it without the leading '/', as '{relative}'\.$",
        ):
            output(blobstore, path)

    @pytest.mark.parametrize(
        ("path", "problem"),
        [
            ("s3://bucket/x", "is a URL, not a path on the datastore"),
            ("C:\\out\\x", "is a path on this machine, not on the datastore"),
        ],
    )
    def test_what_is_not_a_datastore_path_is_refused(
        self, blobstore: Datastore, path: str, problem: str
    ) -> None:
        with pytest.raises(DatastorePathError, match=problem):
            output(blobstore, path)

    # "/" was "destination path must be a non-empty string"
    @pytest.mark.parametrize("path", ["./", "a/..", "./{run-id}/..", "/", "///", ".\\"])
    def test_the_datastore_root_is_refused(
        self, blobstore: Datastore, path: str
    ) -> None:
        with pytest.raises(
            StepDefinitionError,
            match=rf"^output 'o': destination '{re.escape(path)}' on datastore "
            r"'workspaceblobstore' is the datastore's root, which would hold every other "
            r"output too; give a folder, such as 'outputs/\{run-id\}/\{output-name\}'\.$",
        ):
            output(blobstore, path)


class TestOneSpelling:
    @pytest.mark.parametrize(
        "path",
        [
            "shared/x",
            "shared/./x",
            "shared//x",
            "shared/x/",
            "./shared/x",
            "shared/y/../x",
        ],
    )
    def test_every_spelling_is_one_destination(
        self, blobstore: Datastore, path: str
    ) -> None:
        assert output(blobstore, path).destination == (blobstore, "shared/x")

    def test_placeholders_survive_normalising(self, blobstore: Datastore) -> None:
        out = output("workspaceblobstore", "./exp//{run-id}/./{output-name}/")
        assert out.destination == ("workspaceblobstore", "exp/{run-id}/{output-name}")

    def test_views_keep_the_normalised_destination(self, blobstore: Datastore) -> None:
        out = output(blobstore, "shared/./x/")
        for view in (out.as_upload(), out.as_mount(), out.read_delimited_files()):
            assert view.destination == (blobstore, "shared/x")
