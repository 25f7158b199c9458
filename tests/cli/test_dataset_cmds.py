"""``dataferry dataset list | show | versions | head | download``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from click.testing import Result

from dataferry import DataPath, Dataset

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Datastore, FileDataset, TabularDataset, Workspace

Invoke = Callable[..., Result]


def _row(output: str, name: str) -> str:
    """The table line whose first cell is ``name``."""
    return next(line for line in output.splitlines() if line.startswith(f"│ {name} "))


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip("│").split("│")]


class TestList:
    def test_latest_version_kind_and_description(
        self, run: Invoke, sales: TabularDataset, images: FileDataset
    ) -> None:
        result = run("dataset", "list")
        assert result.exit_code == 0, result.output
        assert _cells(_row(result.stdout, "sales")) == [
            "sales",
            "2",
            "Tabular",
            "daily sales",
        ]
        assert _cells(_row(result.stdout, "images")) == ["images", "1", "File", ""]

    def test_no_datasets(self, run: Invoke) -> None:
        result = run("dataset", "list")
        assert result.exit_code == 0
        assert "No datasets are registered in workspace 'test-ws'." in result.stdout

    def test_markup_in_a_description_is_shown_as_typed(
        self, run: Invoke, sales: TabularDataset, workspace: Workspace
    ) -> None:
        sales.register(workspace, "marked", description="[bold]loud[/bold]")
        assert "[bold]loud[/bold]" in run("dataset", "list").stdout


class TestShow:
    def test_registration_tags_and_definition(
        self, run: Invoke, sales: TabularDataset
    ) -> None:
        result = run("dataset", "show", "sales")
        assert result.exit_code == 0, result.output
        out = result.stdout
        assert "Dataset 'sales' version 2" in out
        assert f"id                    {sales.id}" in out
        assert "description           daily sales" in out
        assert _cells(_row(out, "team")) == ["team", "ml"]
        assert '"path": "sales/*.csv"' in out
        assert '"type": "delimited"' in out

    def test_an_older_version(self, run: Invoke, sales: TabularDataset) -> None:
        result = run("dataset", "show", "sales", "--version", "1")
        assert result.exit_code == 0, result.output
        assert "Dataset 'sales' version 1" in result.stdout
        assert '"path": "sales/part1.csv"' in result.stdout
        assert "Tags: none" in result.stdout

    def test_unknown_dataset_exits_3(self, run: Invoke, sales: TabularDataset) -> None:
        result = run("dataset", "show", "sale")
        assert result.exit_code == 3
        assert result.stderr.startswith(
            'Error: Cannot find dataset registered with name "sale" (version: latest)'
        )
        assert "Did you mean 'sales'?" in result.stderr

    def test_unknown_version_exits_3(self, run: Invoke, sales: TabularDataset) -> None:
        result = run("dataset", "show", "sales", "--version", "7")
        assert result.exit_code == 3
        assert "The latest version is 2; pass --version 2 or --version latest." in (
            result.stderr
        )

    def test_bad_version_exits_2(self, run: Invoke, sales: TabularDataset) -> None:
        result = run("dataset", "show", "sales", "--version", "newest")
        assert result.exit_code == 2
        assert result.stderr.startswith("Error: Invalid value 'newest' for version.")


class TestVersions:
    def test_every_version_oldest_first(
        self, run: Invoke, sales: TabularDataset
    ) -> None:
        result = run("dataset", "versions", "sales")
        assert result.exit_code == 0, result.output
        first, second = (
            _cells(_row(result.stdout, "1")),
            _cells(_row(result.stdout, "2")),
        )
        assert first[2:4] == ["first day", "{}"]
        assert second[2:] == ["daily sales", '{"team": "ml"}', sales.id]
        assert result.stdout.index("│ 1 ") < result.stdout.index("│ 2 ")

    def test_unknown_dataset_exits_3(self, run: Invoke) -> None:
        result = run("dataset", "versions", "nope")
        assert result.exit_code == 3
        assert 'Cannot find dataset registered with name "nope"' in result.stderr


class TestHead:
    def test_first_records_of_a_tabular_dataset(
        self, run: Invoke, sales: TabularDataset
    ) -> None:
        result = run("dataset", "head", "sales", "-n", "3")
        assert result.exit_code == 0, result.output
        assert "┃ id ┃ value ┃ label ┃" in result.stdout
        assert _cells(_row(result.stdout, "2")) == ["2", "1.0", "item2"]
        assert "│ 3 " not in result.stdout
        assert "3 row(s) x 3 column(s)" in result.stdout

    def test_default_is_ten_records(self, run: Invoke, sales: TabularDataset) -> None:
        result = run("dataset", "head", "sales", "--version", "1")
        assert "5 row(s) x 3 column(s)" in result.stdout

    def test_first_paths_of_a_file_dataset(
        self, run: Invoke, images: FileDataset
    ) -> None:
        result = run("dataset", "head", "images", "-n", "2")
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == ["/a.png", "/b.png"]

    def test_negative_count_is_a_usage_error(
        self, run: Invoke, sales: TabularDataset
    ) -> None:
        result = run("dataset", "head", "sales", "-n", "-1")
        assert result.exit_code == 2
        assert "-1 is not in the range x>=0" in result.stderr

    @pytest.mark.parametrize(
        ("data", "encoding", "message"),
        [
            (
                "city\nKöln\n".encode("latin-1"),
                "utf8",
                r"Error: /a\.csv: row 2, column 'city': bytes b'\\xf6' are not "
                r"valid utf8; pass the file's encoding, e\.g\. encoding='latin1' or "
                r"encoding='windows1252'",
            ),
            (
                "city\nKöln\n".encode("utf-16-le"),
                "utf16",
                r"Error: /a\.csv: does not start with a byte-order mark, which "
                r"encoding='utf16' needs",
            ),
        ],
        ids=["latin1-as-utf8", "utf16-without-mark"],
    )
    def test_a_file_the_encoding_cannot_read_is_one_line(
        self,
        run: Invoke,
        workspace: Workspace,
        blobstore: Datastore,
        store_root: Path,
        data: bytes,
        encoding: str,
        message: str,
    ) -> None:
        (store_root / "bad").mkdir()
        (store_root / "bad" / "a.csv").write_bytes(data)
        Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "bad/a.csv"), encoding=encoding, validate=False
        ).register(workspace, "bad")

        result = run("dataset", "head", "bad")

        assert result.exit_code == 2
        assert re.fullmatch(message + ".*\n", result.stderr)
        assert "Traceback" not in result.output


class TestDownloadTabular:
    def test_parquet_by_default(
        self, run: Invoke, sales: TabularDataset, tmp_path: Path
    ) -> None:
        target = tmp_path / "out" / "sales.data"
        result = run("dataset", "download", "sales", str(target))
        assert result.exit_code == 0, result.output
        assert f"Wrote 8 record(s) of 'sales' to {target}" in result.stdout
        frame = pd.read_parquet(target)
        assert list(frame["id"]) == list(range(8))
        assert [p.name for p in target.parent.iterdir()] == [
            "sales.data"
        ]  # no .part left

    def test_csv_by_suffix_or_option(
        self, run: Invoke, sales: TabularDataset, tmp_path: Path
    ) -> None:
        run("dataset", "download", "sales", str(tmp_path / "a.csv"), "--version", "1")
        run("dataset", "download", "sales", str(tmp_path / "b.txt"), "--format", "csv")
        assert pd.read_csv(tmp_path / "a.csv")["id"].tolist() == [0, 1, 2, 3, 4]
        assert len(pd.read_csv(tmp_path / "b.txt")) == 8

    def test_into_a_folder(
        self, run: Invoke, sales: TabularDataset, tmp_path: Path
    ) -> None:
        result = run(
            "dataset", "download", "sales", f"{tmp_path / 'new'}/", "--format", "csv"
        )
        assert result.exit_code == 0, result.output
        assert len(pd.read_csv(tmp_path / "new" / "sales.csv")) == 8

    def test_existing_file_needs_overwrite(
        self, run: Invoke, sales: TabularDataset, tmp_path: Path
    ) -> None:
        target = tmp_path / "sales.parquet"
        target.write_text("old")
        result = run("dataset", "download", "sales", str(target))
        assert result.exit_code == 2
        assert (
            f'Error: File "{target}" already exists. Pass --overwrite' in result.stderr
        )
        assert target.read_text() == "old"
        assert (
            run("dataset", "download", "sales", str(target), "--overwrite").exit_code
            == 0
        )
        assert len(pd.read_parquet(target)) == 8

    def test_no_records_still_writes_the_columns(
        self, run: Invoke, sales: TabularDataset, workspace: Workspace, tmp_path: Path
    ) -> None:
        sales.take(0).register(workspace, "nothing")
        result = run("dataset", "download", "nothing", str(tmp_path / "empty.parquet"))
        assert result.exit_code == 0, result.output
        frame = pd.read_parquet(tmp_path / "empty.parquet")
        assert (len(frame), list(frame.columns)) == (0, ["id", "value", "label"])

    def test_unwritable_target_is_a_storage_error(
        self, run: Invoke, sales: TabularDataset, tmp_path: Path
    ) -> None:
        (tmp_path / "afile").write_text("")
        result = run(
            "dataset", "download", "sales", str(tmp_path / "afile" / "x.parquet")
        )
        assert result.exit_code == 1
        assert result.stderr.startswith(
            f"Error: cannot write {tmp_path / 'afile' / 'x.parquet'}"
        )


class TestDownloadFiles:
    def test_copies_the_files(
        self, run: Invoke, images: FileDataset, tmp_path: Path
    ) -> None:
        result = run("dataset", "download", "images", str(tmp_path / "dl"))
        assert result.exit_code == 0, result.output
        assert "Downloaded 3 file(s) of 'images'" in result.stdout
        assert (tmp_path / "dl" / "sub" / "c.png").read_bytes() == b"sub/c.png"

    def test_existing_files_need_overwrite(
        self, run: Invoke, images: FileDataset, tmp_path: Path
    ) -> None:
        run("dataset", "download", "images", str(tmp_path))
        again = run("dataset", "download", "images", str(tmp_path))
        assert again.exit_code == 2
        assert "already exists" in again.stderr
        assert (
            run("dataset", "download", "images", str(tmp_path), "--overwrite").exit_code
            == 0
        )

    def test_format_is_for_tabular_only(
        self, run: Invoke, images: FileDataset, tmp_path: Path
    ) -> None:
        result = run("dataset", "download", "images", str(tmp_path), "--format", "csv")
        assert result.exit_code == 2
        assert "--format applies to tabular datasets only" in result.stderr

    def test_unknown_dataset_exits_3(self, run: Invoke, tmp_path: Path) -> None:
        result = run("dataset", "download", "nope", str(tmp_path))
        assert result.exit_code == 3
        assert 'Cannot find dataset registered with name "nope"' in result.stderr


@pytest.mark.parametrize("command", ["show", "head", "versions"])
def test_missing_name_is_a_usage_error(run: Invoke, command: str) -> None:
    result = run("dataset", command)
    assert result.exit_code == 2
    assert "Missing argument 'NAME'" in result.stderr
