"""Tabular files cut into pieces a worker reads alone: the pieces, read back, are the
rows and types of a whole read; datasets that cannot be cut exactly are not cut."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataferry import Dataset, DataType
from dataferry.data.file_ranges import pieces, read_piece

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Datastore


def _pieced(dataset: object, size: int) -> pa.Table:
    found = pieces(dataset, size)  # type: ignore[arg-type]
    assert found is not None
    reader = dataset._reader()  # type: ignore[attr-defined]
    tables = [read_piece(dataset, p, reader) for p in found]  # type: ignore[arg-type]
    return pa.concat_tables(tables)


def _same_as_whole(dataset: object, size: int) -> pa.Table:
    whole = dataset.to_arrow()  # type: ignore[attr-defined]
    pieced = _pieced(dataset, size)
    assert pieced.schema == whole.schema
    assert pieced.to_pylist() == whole.to_pylist()
    return pieced


CSV = "id,value,label\n" + "".join(f"{i},{i * 0.5},item {i}\n" for i in range(40))


@pytest.mark.parametrize("size", [1, 30, 100, 10_000])
def test_delimited_pieces_cut_at_line_ends_and_read_as_a_whole_read(
    blobstore: Datastore, store_root: Path, size: int
) -> None:
    (store_root / "t").mkdir()
    (store_root / "t/a.csv").write_text(CSV)
    (store_root / "t/b.csv").write_text("id,value,label\n7,1.5,x\n8,,y")  # no last \n
    table = Dataset.Tabular.from_delimited_files((blobstore, "t/*.csv"))

    pieced = _same_as_whole(table, size)

    found = pieces(table, size)
    assert found is not None
    assert {p.name for p in found} == {"/a.csv", "/b.csv"}
    assert sum(p.rows for p in found) == pieced.num_rows == 42
    assert pieced.schema.field("id").type == pa.int64()
    assert all(p.stop > p.start for p in found)


def test_quoted_separators_types_and_bad_values_match_the_whole_read(
    blobstore: Datastore, store_root: Path
) -> None:
    lines = [f'"a, b",1,2020-01-0{i % 9 + 1}' for i in range(30)]
    lines[17] = '"c ""q""",oops,2020-02-01'
    (store_root / "q.csv").write_text("name,n,day\n" + "\n".join(lines) + "\n")
    table = Dataset.Tabular.from_delimited_files(
        (blobstore, "q.csv"),
        set_column_types={"n": DataType.to_long(), "day": DataType.to_datetime()},
    )

    pieced = _same_as_whole(table, 64)

    assert pieced.column("n").null_count == 1
    assert pieced.column("name")[17].as_py() == 'c "q"'


def test_files_without_headers_and_a_path_column_match_the_whole_read(
    blobstore: Datastore, store_root: Path
) -> None:
    (store_root / "h").mkdir()
    for name in ("x.csv", "y.csv"):
        (store_root / "h" / name).write_text("".join(f"{i},{i}\n" for i in range(9)))
    table = Dataset.Tabular.from_delimited_files(
        (blobstore, "h/*.csv"), header=False, include_path=True
    )

    pieced = _same_as_whole(table, 8)

    assert pieced.num_rows == 18


def test_parquet_pieces_are_runs_of_row_groups(
    blobstore: Datastore, store_root: Path
) -> None:
    data = pa.table({"k": list(range(100)), "s": [f"v{i}" for i in range(100)]})
    pq.write_table(data, store_root / "d.parquet", row_group_size=10)
    table = Dataset.Tabular.from_parquet_files((blobstore, "d.parquet"))

    _same_as_whole(table, 1)
    found = pieces(table, 1)

    assert found is not None
    assert [(p.start, p.stop, p.rows) for p in found] == [
        (g, g + 1, 10) for g in range(10)
    ]


def test_multi_line_values_and_transforms_are_not_cut(
    blobstore: Datastore, store_root: Path
) -> None:
    (store_root / "m.csv").write_text('id,text\n1,"two\nlines"\n2,one\n')
    multi = Dataset.Tabular.from_delimited_files(
        (blobstore, "m.csv"), support_multi_line=True
    )
    plain = Dataset.Tabular.from_delimited_files((blobstore, "m.csv"))

    assert pieces(multi, 1) is None
    assert pieces(plain.take(1), 1) is None


@pytest.mark.slow
def test_cutting_a_large_csv_holds_far_less_than_the_file(
    blobstore: Datastore, store_root: Path
) -> None:
    import threading

    import psutil

    row = "".join(f"{i},{i * 0.25},some text for row {i}\n" for i in range(1000))
    with (store_root / "big.csv").open("w") as f:
        f.write("id,value,label\n")
        for _ in range(1000):  # about 36 MB
            f.write(row)
    size = (store_root / "big.csv").stat().st_size
    table = Dataset.Tabular.from_delimited_files((blobstore, "big.csv"))
    me = psutil.Process()
    base, peak, found = me.memory_info().rss, 0, []
    worker = threading.Thread(target=lambda: found.append(pieces(table, 1 << 20)))
    worker.start()
    while worker.is_alive():
        peak = max(peak, me.memory_info().rss - base)
        worker.join(0.005)

    assert found[0] is not None
    assert sum(p.rows for p in found[0]) == 1_000_000
    assert peak < size / 4, (peak, size)


def _line_cuts(data: bytes, size: int, header: bool) -> list[tuple[int, int, int]]:
    """What the cut must be, line by line: a range ends at the first line end at
    least ``size`` bytes after its start; a last line without ``\\n`` counts when it
    is not blank; the header line is no row."""
    out: list[tuple[int, int, int]] = []
    start = lines = 0
    for end, byte in enumerate(data):
        if byte == ord("\n"):
            lines += 1
            if end + 1 - start >= size:
                out.append((start, end + 1, lines))
                start, lines = end + 1, 0
    if data[data.rfind(b"\n") + 1 :].strip():
        lines += 1
    if len(data) > start and lines:
        out.append((start, len(data), lines))
    return [(a, b, n - 1 if header and a == 0 else n) for a, b, n in out]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("plain", CSV),
        ("no_last_newline", CSV + "40,20.0,item 40"),
        ("blank_lines_at_the_end", CSV + "\n\n"),
        ("crlf", CSV.replace("\n", "\r\n")),
        ("header_only", "id,value,label\n"),
        # a line longer than the 1 MiB scan block, so cuts fall across blocks
        ("long_line", "id,value,label\n1,2," + "x" * (3 << 19) + "\n" + CSV[15:]),
    ],
)
@pytest.mark.parametrize("size", [1, 7, 1000, 1 << 20, 1 << 30])
def test_delimited_cuts_are_the_first_line_end_past_the_size(
    blobstore: Datastore, store_root: Path, name: str, text: str, size: int
) -> None:
    (store_root / "v").mkdir(exist_ok=True)
    (store_root / f"v/{name}.csv").write_bytes(text.encode())
    table = Dataset.Tabular.from_delimited_files((blobstore, f"v/{name}.csv"))

    found = pieces(table, size)

    assert found is not None
    assert [(p.start, p.stop, p.rows) for p in found] == _line_cuts(
        text.encode(), size, header=True
    )
