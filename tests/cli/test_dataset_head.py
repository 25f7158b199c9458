"""``dataset head`` fits the terminal (columns elided as pandas does, ``--columns``),
and ``dataset show`` gives a tabular dataset's schema and row count."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from dataferry import DataPath, Dataset, Datastore, TabularDataset, Workspace
from dataferry.cli import app
from dataferry.cli.frame_view import fit_columns

if TYPE_CHECKING:
    from pathlib import Path

WIDE = 30


@pytest.fixture
def wide(
    workspace: Workspace, blobstore: Datastore, store_root: Path
) -> TabularDataset:
    """'wide': 30 columns c00..c29 (c00 an int, the others text), 4 rows."""
    header = ",".join(f"c{i:02d}" for i in range(WIDE))
    rows = [
        ",".join([str(r)] + [f"r{r}v{i}" for i in range(1, WIDE)]) for r in range(4)
    ]
    path = store_root / "wide.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "wide.csv"))
    return ds.register(workspace, "wide")


def _run(project: Path, columns: int, *args: str) -> tuple[int, str, str]:
    runner = CliRunner(env={"COLUMNS": str(columns)})
    result = runner.invoke(app, ["-w", str(project), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


class TestHeadFits:
    def test_thirty_columns_at_80_keep_the_first_and_last_and_elide_the_middle(
        self, wide: TabularDataset, project: Path
    ) -> None:
        code, out, _ = _run(project, 80, "dataset", "head", "wide")
        assert code == 0
        lines = out.splitlines()
        assert all(len(line) <= 80 for line in lines)
        header = next(line for line in lines if "c00" in line)
        cells = [c.strip() for c in header.strip("┃").split("┃")]
        assert cells[0] == "c00" and cells[-1] == "c29"
        assert "…" in cells
        gap = cells.index("…")
        # left then right, alternately, as pandas does: as many on each side or one more left
        assert cells[:gap] == [f"c{i:02d}" for i in range(gap)]
        right = cells[gap + 1 :]
        assert right == [f"c{i:02d}" for i in range(WIDE - len(right), WIDE)]
        assert len(right) in (gap, gap - 1)
        row = next(line for line in lines if line.startswith("│ 2 "))
        assert "r2v29" in row and "…" in row
        hidden = WIDE - gap - len(right)
        assert f"4 row(s) x 30 column(s); {hidden} not shown: pick columns" in out

    def test_a_wide_terminal_shows_every_column(
        self, wide: TabularDataset, project: Path
    ) -> None:
        code, out, _ = _run(project, 400, "dataset", "head", "wide", "-n", "1")
        assert code == 0
        assert "…" not in out
        assert "c15" in out
        assert "1 row(s) x 30 column(s)\n" in out

    def test_columns_picks_and_orders(
        self, wide: TabularDataset, project: Path
    ) -> None:
        code, out, _ = _run(
            project, 80, "dataset", "head", "wide", "--columns", "c17,c03"
        )
        assert code == 0
        assert "┃ c17   ┃ c03  ┃" in out
        assert "│ r1v17 │ r1v3 │" in out
        assert "4 row(s) x 2 column(s)" in out

    def test_an_unknown_column_is_a_usage_error_with_a_suggestion(
        self, wide: TabularDataset, project: Path
    ) -> None:
        code, _, err = _run(project, 80, "dataset", "head", "wide", "--columns", "c033")
        assert code == 2
        assert (
            "Invalid value for --columns: dataset 'wide (version 1)' has no column"
            in err
        )
        assert "'c033'; its columns are c00, c01," in err
        assert "Did you mean 'c03'?" in err

    def test_columns_of_a_file_dataset_is_a_usage_error(
        self,
        project: Path,
        workspace: Workspace,
        blobstore: Datastore,
        store_root: Path,
    ) -> None:
        (store_root / "f.txt").write_text("x")
        Dataset.File.from_files(DataPath(blobstore, "f.txt")).register(
            workspace, "files"
        )
        code, _, err = _run(project, 80, "dataset", "head", "files", "--columns", "a")
        assert code == 2
        assert (
            "dataset 'files (version 1)' is a file dataset: it has no columns." in err
        )


class TestShowSchema:
    def test_schema_and_row_count(self, wide: TabularDataset, project: Path) -> None:
        code, out, _ = _run(project, 120, "dataset", "show", "wide")
        assert code == 0
        assert "Schema: 30 column(s), 4 row(s)" in out
        assert "│ c00    │ int64  │" in out
        assert "│ c29    │ string │" in out

    def test_a_file_dataset_has_no_schema(
        self,
        project: Path,
        workspace: Workspace,
        blobstore: Datastore,
        store_root: Path,
    ) -> None:
        (store_root / "f.txt").write_text("x")
        Dataset.File.from_files(DataPath(blobstore, "f.txt")).register(
            workspace, "files"
        )
        code, out, _ = _run(project, 120, "dataset", "show", "files")
        assert code == 0
        assert "Schema" not in out


@pytest.mark.parametrize(
    ("widths", "available", "expected"),
    [
        ([3, 3, 3], 80, ([0, 1, 2], None)),  # all fit: nothing elided
        ([10] * 10, 60, ([0, 1, 8, 9], 2)),  # 1 + 4 + 4 * 13 <= 60 < 1 + 4 + 5 * 13
        ([70, 3, 3], 40, ([0], 1)),  # even the first does not fit: it stays
    ],
)
def test_fit_columns(
    widths: list[int], available: int, expected: tuple[list[int], int | None]
) -> None:
    assert fit_columns(widths, available) == expected
