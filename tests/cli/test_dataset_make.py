"""``dataferry dataset register`` and ``dataset upload``: datasets made without Python,
checked as a whole before anything is uploaded or registered."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from click.testing import Result

from dataferry import Dataset

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

Invoke = Callable[..., Result]


@pytest.fixture
def semicolons(store_root: Path) -> Path:
    """Two headerless files of ``id;name`` rows on the default datastore."""
    folder = store_root / "people"
    folder.mkdir()
    (folder / "a.csv").write_text("1;ann\n2;bob\n")
    (folder / "b.csv").write_text("3;cy\n")
    return folder


@pytest.fixture
def local_files(tmp_path: Path) -> Path:
    """A local folder to upload: two CSV files, one in a subfolder."""
    folder = tmp_path / "to_upload"
    (folder / "sub").mkdir(parents=True)
    (folder / "x.csv").write_text("k,v\na,1\n")
    (folder / "sub" / "y.csv").write_text("k,v\nb,2\n")
    return folder


def _rows(
    workspace: Workspace, name: str, version: str = "latest"
) -> list[list[object]]:
    frame = Dataset.get_by_name(workspace, name, version=version).to_pandas_dataframe()
    return sorted(frame.to_numpy().tolist())


class TestRegister:
    def test_a_tabular_dataset_with_separator_and_no_header(
        self, run: Invoke, workspace: Workspace, semicolons: Path
    ) -> None:
        result = run(
            "dataset", "register", "people", "people/*.csv",
            "--datastore", "workspaceblobstore",
            "--tabular", "--separator", ";", "--header", "none",
            "--description", "from the CLI", "--tag", "team=ml",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert result.stdout == "Registered tabular dataset 'people' version 1.\n"
        assert _rows(workspace, "people") == [[1, "ann"], [2, "bob"], [3, "cy"]]
        shown = json.loads(run("dataset", "show", "people", "--json").stdout)
        assert (shown["kind"], shown["description"], shown["tags"]) == (
            "Tabular",
            "from the CLI",
            {"team": "ml"},
        )

    def test_header_first_reads_the_first_files_header(
        self, run: Invoke, workspace: Workspace, store_root: Path
    ) -> None:
        (store_root / "t").mkdir()
        (store_root / "t" / "1.tsv").write_text("k\tv\na\t1\n")
        (store_root / "t" / "2.tsv").write_text("b\t2\n")
        result = run(
            "dataset", "register", "t", "t/*.tsv",
            "--tabular", "--separator", "\t", "--header", "first",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        frame = Dataset.get_by_name(workspace, "t").to_pandas_dataframe()
        assert list(frame.columns) == ["k", "v"]
        assert _rows(workspace, "t") == [["a", 1], ["b", 2]]

    def test_a_file_dataset_on_the_default_datastore(
        self, run: Invoke, workspace: Workspace, semicolons: Path
    ) -> None:
        result = run("dataset", "register", "raw people", "people")
        assert result.exit_code == 0, result.output
        assert result.stdout == "Registered file dataset 'raw people' version 1.\n"
        files = Dataset.get_by_name(workspace, "raw people").to_path()
        assert sorted(files) == ["/a.csv", "/b.csv"]

    def test_a_taken_name_needs_new_version(
        self, run: Invoke, workspace: Workspace, semicolons: Path
    ) -> None:
        assert run("dataset", "register", "p", "people/a.csv").exit_code == 0
        again = run("dataset", "register", "p", "people/b.csv")
        assert again.exit_code == 2
        assert again.stderr == (
            "Error: a dataset named 'p' is already registered (latest version 1); "
            "pass --new-version to register version 2.\n"
        )
        newer = run("dataset", "register", "p", "people/b.csv", "--new-version")
        assert newer.stdout == "Registered file dataset 'p' version 2.\n"

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--separator", ";"], "--separator only apply to a tabular dataset"),
            (["--format", "parquet"], "--format only apply to a tabular dataset"),
            (
                ["--tabular", "--format", "parquet", "--header", "none"],
                "--header only apply to --format delimited, not --format parquet.",
            ),
            (["--tabular", "--separator", ";;"], "';;' is not one character"),
            (["--tag", "a=1", "--tag", "a=2"], "tag 'a' is given twice."),
        ],
    )
    def test_options_that_would_be_ignored_are_usage_errors(
        self,
        run: Invoke,
        workspace: Workspace,
        semicolons: Path,
        options: list[str],
        message: str,
    ) -> None:
        result = run("dataset", "register", "p", "people", *options)
        assert result.exit_code == 2
        assert message in result.stderr
        assert workspace.catalog.list_versions("p") == []

    def test_an_unknown_datastore_exits_3_listing_the_known_ones(
        self, run: Invoke, workspace: Workspace
    ) -> None:
        result = run("dataset", "register", "p", "x.csv", "--datastore", "nope")
        assert result.exit_code == 3
        assert "nope" in result.stderr and "workspaceblobstore" in result.stderr

    def test_a_path_matching_nothing_exits_3(
        self, run: Invoke, workspace: Workspace
    ) -> None:
        result = run("dataset", "register", "p", "missing/*.csv", "--tabular")
        assert result.exit_code == 3
        assert "missing/*.csv" in result.stderr
        assert workspace.catalog.list_versions("p") == []

    def test_a_bad_name_exits_2(self, run: Invoke, workspace: Workspace) -> None:
        result = run("dataset", "register", "no/slash", "people", "--no-validate")
        assert result.exit_code == 2
        assert "invalid dataset name 'no/slash'" in result.stderr


class TestUpload:
    def test_a_folder_is_uploaded_then_registered(
        self, run: Invoke, workspace: Workspace, local_files: Path, store_root: Path
    ) -> None:
        result = run(
            "dataset",
            "upload",
            "kv",
            str(local_files),
            "--tabular",
            "--target",
            "in/kv",
        )
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[-1] == (
            "Registered tabular dataset 'kv' version 1."
        )
        assert (store_root / "in" / "kv" / "sub" / "y.csv").read_text() == "k,v\nb,2\n"
        assert _rows(workspace, "kv") == [["a", 1], ["b", 2]]

    def test_files_go_under_the_name_by_default(
        self, run: Invoke, workspace: Workspace, local_files: Path, store_root: Path
    ) -> None:
        files = [str(local_files / "x.csv"), str(local_files / "sub" / "y.csv")]
        result = run("dataset", "upload", "two", *files)
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in (store_root / "two").rglob("*.csv")) == [
            "x.csv",
            "y.csv",
        ]
        assert len(Dataset.get_by_name(workspace, "two").to_path()) == 2

    def test_a_taken_name_uploads_nothing(
        self, run: Invoke, workspace: Workspace, local_files: Path, store_root: Path
    ) -> None:
        assert run("dataset", "upload", "kv", str(local_files)).exit_code == 0
        result = run("dataset", "upload", "kv", str(local_files), "--target", "other")
        assert result.exit_code == 2
        assert "pass --new-version to register version 2." in result.stderr
        assert not (store_root / "other").exists()

    def test_a_target_leaving_the_datastore_uploads_nothing(
        self, run: Invoke, workspace: Workspace, local_files: Path, tmp_path: Path
    ) -> None:
        result = run("dataset", "upload", "kv", str(local_files), "--target", "../../x")
        assert result.exit_code == 2
        assert "--target" in result.stderr
        assert workspace.catalog.list_versions("kv") == []

    def test_a_folder_among_files_is_refused(
        self, run: Invoke, workspace: Workspace, local_files: Path
    ) -> None:
        result = run(
            "dataset",
            "upload",
            "kv",
            str(local_files / "x.csv"),
            str(local_files / "sub"),
        )
        assert result.exit_code == 2
        assert "is a folder: give one folder, or files only." in result.stderr
        assert workspace.catalog.list_versions("kv") == []
