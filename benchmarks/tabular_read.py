"""Benchmark: reading a large CSV into pandas, and streaming a random split of it.

Part 1 writes a ~1 GiB CSV into a temporary workspace's default datastore and reads it
into pandas with each reader below, best of ``--repeat`` rounds, after a warm-up read
so that every run finds the file in the page cache:

* dataferry: ``Dataset.Tabular.from_delimited_files(...).to_pandas_dataframe()``
* pyarrow: ``pyarrow.csv.read_csv(path).to_pandas()``
* pandas (C): ``pandas.read_csv(path, engine="c", parse_dates=["ts"])``; the
  ``parse_dates`` makes its frame equal to the other two, which parse timestamps
* pandas, ts as text: the same without ``parse_dates`` (for information only)

Targets: dataferry within 1.3x of pyarrow's time, and at least 3x faster than pandas.

Part 2 writes a ``--rows-split``-row CSV and streams both halves of
``random_split(0.8, seed=1)`` through ``to_record_batches()``, each in a fresh
interpreter, so that the peak RSS is the read's own and not left over from part 1.
Targets: streaming raises the peak RSS by at most 256 MiB (a fixed bound, whatever the
file size), and the halves' rows add up to the file's.

Usage::

    .venv/bin/python benchmarks/tabular_read.py [--size-mib 1024]
        [--rows-split 10000000] [--repeat 3] [--keep]

The data goes to a temporary folder that is removed at the end. With ``--keep`` it
goes to ``benchmarks/_data/tabular_read`` (gitignored), stays, and the next ``--keep``
run reuses it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

if TYPE_CHECKING:
    from collections.abc import Callable

MIB = 1 << 20
MAX_RATIO_TO_PYARROW = 1.3
MIN_SPEEDUP_OVER_PANDAS = 3.0
# bounded memory: streaming raises the peak RSS by at most this, whatever the file size
MAX_STREAM_GROWTH_MIB = 256
SPLIT_PERCENTAGE, SPLIT_SEED = 0.8, 1
KEPT_DATA = Path(__file__).resolve().parent / "_data" / "tabular_read"  # gitignored
_CHUNK_ROWS = 1_000_000
_ALPHABET = np.frombuffer(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789", dtype="S1")
_CATEGORIES = np.array(["books", "garden", "toys", "music", "sports", "food", "baby"])
_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("user_id", pa.int32()),
        ("quantity", pa.int16()),
        ("price", pa.float64()),
        ("score", pa.float32()),  # 5% empty
        ("temperature", pa.float64()),
        ("category", pa.string()),
        ("code", pa.string()),
        ("ts", pa.timestamp("s")),
        ("is_member", pa.bool_()),
    ]
)


# -- data -----------------------------------------------------------------------------


def _chunk(rng: np.random.Generator, start: int, n: int) -> pa.Table:
    """``n`` rows of mixed columns, made with numpy (no per-row Python)."""
    letters = _ALPHABET[rng.integers(0, len(_ALPHABET), (n, 6))]
    seconds = rng.integers(0, 3 * 365 * 86400, n).astype("timedelta64[s]")
    columns = [
        np.arange(start, start + n, dtype=np.int64),
        rng.integers(0, 2_000_000, n, dtype=np.int32),
        rng.integers(1, 500, n, dtype=np.int16),
        np.round(rng.random(n) * 1000, 2),
        pa.array(rng.random(n, dtype=np.float32), mask=rng.random(n) < 0.05),
        np.round(rng.normal(15, 8, n), 3),
        _CATEGORIES[rng.integers(0, len(_CATEGORIES), n)],
        pa.array(letters.view("S6").ravel()).cast(pa.string()),
        np.datetime64("2021-01-01T00:00:00", "s") + seconds,
        rng.random(n) < 0.3,
    ]
    return pa.Table.from_arrays([pa.array(c) for c in columns], schema=_SCHEMA)


def write_csv(path: Path, *, rows: int = 0, size_bytes: int = 0) -> int:
    """Write ``rows`` rows, or rows until the file has ``size_bytes``; return rows."""
    rng = np.random.default_rng(0)
    options = pacsv.WriteOptions(quoting_style="needed")
    written = 0
    with (
        open(path, "wb") as sink,
        pacsv.CSVWriter(sink, _SCHEMA, write_options=options) as writer,
    ):
        while True:
            if rows:
                n = min(_CHUNK_ROWS, rows - written)
            else:  # aim the last chunk at the size, from the bytes per row so far
                per_row = sink.tell() / written if written else 100.0
                n = min(_CHUNK_ROWS, int((size_bytes - sink.tell()) / per_row) + 1)
            if n <= 0:
                return written
            writer.write_table(_chunk(rng, written, n))
            written += n


def ensure_csv(path: Path, *, rows: int = 0, size_bytes: int = 0) -> None:
    """Write the file unless a kept one is already there."""
    if path.exists():
        print(f"reusing {path} ({path.stat().st_size / MIB:.0f} MiB)")
        return
    start = time.perf_counter()
    staged = path.with_suffix(".tmp")
    written = write_csv(staged, rows=rows, size_bytes=size_bytes)
    staged.rename(path)
    seconds = time.perf_counter() - start
    mib = path.stat().st_size / MIB
    print(f"wrote {path.name}: {written:,} rows, {mib:.0f} MiB in {seconds:.1f} s")


def open_workspace(folder: Path) -> Any:
    from dataferry import Workspace

    return Workspace.create("bench", str(folder), show_output=False, exist_ok=True)


def tabular(ws: Any, name: str) -> Any:
    from dataferry import Dataset

    return Dataset.Tabular.from_delimited_files((ws.get_default_datastore(), name))


def _table(widths: list[int], cells: list[Any]) -> str:
    """One table line: the first cell left-aligned, the others right-aligned."""
    first, *rest = (str(c) for c in cells)
    return (
        "  "
        + first.ljust(widths[0])
        + "".join(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))
    )


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# -- part 1: whole-file reads ---------------------------------------------------------


def time_read(read: Callable[[], Any]) -> tuple[float, float, int]:
    """One run: wall seconds, CPU seconds (all threads) and the rows returned."""
    gc.collect()
    cpu, start = os.times(), time.perf_counter()
    frame = read()
    wall, cpu_end = time.perf_counter() - start, os.times()
    rows = len(frame)
    del frame
    return wall, (cpu_end.user - cpu.user) + (cpu_end.system - cpu.system), rows


def bench_reads(ws: Any, path: Path, repeat: int) -> bool:
    """Part 1: time the readers, print the table and ratios; True if targets are met."""
    import pandas as pd

    readers: dict[str, Callable[[], Any]] = {
        "dataferry": lambda: tabular(ws, path.name).to_pandas_dataframe(),
        "pyarrow": lambda: pacsv.read_csv(path).to_pandas(),
        "pandas (C)": lambda: pd.read_csv(path, engine="c", parse_dates=["ts"]),
        "pandas, ts as text": lambda: pd.read_csv(path, engine="c"),
    }
    pacsv.read_csv(path)  # warm-up: the page cache now holds the whole file
    # each round runs every reader, so a burst of load elsewhere hits them all alike
    runs: dict[str, list[tuple[float, float, int]]] = {label: [] for label in readers}
    for _ in range(repeat):
        for label, read in readers.items():
            runs[label].append(time_read(read))
    best = {label: min(r) for label, r in runs.items()}
    size = path.stat().st_size / MIB
    print(f"\nPart 1: {path.name}, {size:.0f} MiB, best of {repeat} (warm page cache)")
    widths = [19, 9, 8, 13, 7, 3]
    print(_table(widths, ["reader", "seconds", "cpu s", "rows", "MiB/s", ""]) + "runs")
    for label, (wall, cpu, rows) in best.items():
        every = " ".join(f"{r[0]:.2f}" for r in runs[label])
        cells = [f"{wall:.2f}", f"{cpu:.2f}", f"{rows:,}", f"{size / wall:.0f}", ""]
        print(_table(widths, [label, *cells]) + every)
    ours, arrow, pandas, text = (best[k][0] for k in readers)
    ok_arrow = ours / arrow <= MAX_RATIO_TO_PYARROW
    ok_pandas = pandas / ours >= MIN_SPEEDUP_OVER_PANDAS
    same_rows = len({rows for _, _, rows in best.values()}) == 1
    target = f"(target <= {MAX_RATIO_TO_PYARROW})"
    print(
        f"  dataferry / pyarrow    = {ours / arrow:.2f}  {target}  {_verdict(ok_arrow)}"
    )
    target = f"(target >= {MIN_SPEEDUP_OVER_PANDAS})"
    speedup = pandas / ours
    print(f"  pandas (C) / dataferry = {speedup:.2f}  {target}  {_verdict(ok_pandas)}")
    print(f"  pandas, ts as text / dataferry = {text / ours:.2f}  (information)")
    print(f"  all readers return the same rows: {_verdict(same_rows)}")
    return ok_arrow and ok_pandas and same_rows


# -- part 2: random_split, one fresh process per measurement --------------------------

_SPLIT_MEASUREMENTS = {
    "a": "a.to_record_batches()",
    "b": "b.to_record_batches()",
    "a-pandas": "a.to_pandas_dataframe()",
}


def measure(folder: str, name: str, what: str) -> dict[str, Any]:
    """In a child process: read one half of the split; rows, seconds and peak RSS."""
    import pandas  # noqa: F401  (the reads import it; count it in the baseline)

    ws = open_workspace(Path(folder))
    baseline = _peak_rss()  # interpreter, imports, workspace
    start = time.perf_counter()
    a, b = tabular(ws, name).random_split(SPLIT_PERCENTAGE, seed=SPLIT_SEED)
    if what == "a-pandas":
        rows = len(a.to_pandas_dataframe())
    else:
        rows = sum(
            batch.num_rows for batch in (a if what == "a" else b).to_record_batches()
        )
    seconds = time.perf_counter() - start
    return {"rows": rows, "seconds": seconds, "peak": _peak_rss(), "baseline": baseline}


def _peak_rss() -> int:
    """This process's peak resident set size, in bytes.

    ``VmHWM`` belongs to the address space, which ``exec`` replaces, so a child starts
    from zero; ``ru_maxrss`` would carry the parent's peak over through ``exec``.
    """
    try:
        with open("/proc/self/status") as status:
            line = next(x for x in status if x.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration):  # not Linux: ru_maxrss (KiB here, bytes on macOS)
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _in_child(folder: Path, name: str, what: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", what, str(folder), name]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def bench_split(folder: Path, path: Path, total: int) -> bool:
    """Part 2: peak RSS of streaming each half; True if bounded and the rows add up."""
    size = path.stat().st_size
    split = f"random_split({SPLIT_PERCENTAGE}, seed={SPLIT_SEED})"
    print(f"\nPart 2: {split} of {path.name}, {total:,} rows, {size / MIB:.0f} MiB")
    print("  each line is a fresh process; growth = peak RSS - RSS after the imports")
    widths = [24, 9, 12, 15, 12, 13]
    header = [
        "measurement",
        "seconds",
        "rows",
        "peak RSS MiB",
        "growth MiB",
        "growth/file",
    ]
    print(_table(widths, header))
    bounded, rows = True, {}
    for what, label in _SPLIT_MEASUREMENTS.items():
        r = _in_child(folder, path.name, what)
        growth = r["peak"] - r["baseline"]
        rows[what] = r["rows"]
        mib = [f"{r['peak'] / MIB:.0f}", f"{growth / MIB:.0f}"]
        cells = [f"{r['seconds']:.2f}", f"{r['rows']:,}", *mib, f"{growth / size:.2f}"]
        print(_table(widths, [label, *cells]))
        if what != "a-pandas":
            bounded &= growth <= MAX_STREAM_GROWTH_MIB * MIB
    limit = f"streaming growth <= {MAX_STREAM_GROWTH_MIB} MiB"
    print(f"  {limit}: {_verdict(bounded)}")
    adds_up = rows["a"] + rows["b"] == total and rows["a-pandas"] == rows["a"]
    summed = f"{rows['a']:,} + {rows['b']:,} = {rows['a'] + rows['b']:,}"
    print(f"  a + b = {summed} (total {total:,}): {_verdict(adds_up)}")
    return bounded and adds_up


# -- main -----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="CSV size, part 1")
    parser.add_argument(
        "--rows-split", type=int, default=10_000_000, help="CSV rows, part 2"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed rounds (best is shown)"
    )
    parser.add_argument(
        "--keep", action="store_true", help=f"keep the data in {KEPT_DATA}"
    )
    parser.add_argument(
        "--measure", nargs=3, help=argparse.SUPPRESS
    )  # WHAT FOLDER FILE
    args = parser.parse_args()
    if args.measure:  # a child process of part 2
        what, folder, name = args.measure
        print(json.dumps(measure(folder, name, what)))
        return 0
    os.environ["DATAFERRY_HOME"] = home = tempfile.mkdtemp(prefix="dataferry-home-")
    folder = (
        KEPT_DATA if args.keep else Path(tempfile.mkdtemp(prefix="dataferry-bench-"))
    )
    folder.mkdir(parents=True, exist_ok=True)
    try:
        ok = run(folder, args)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if args.keep:
            print(f"\nkept the data in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\noverall: {_verdict(ok)}")
    return 0 if ok else 1


def run(folder: Path, args: argparse.Namespace) -> bool:
    """Both parts, in the workspace in ``folder``; True if every target is met."""
    start = time.perf_counter()
    ws = open_workspace(folder)
    root = Path(ws.get_default_datastore().location.root)
    root.mkdir(parents=True, exist_ok=True)
    wide = root / f"read_{args.size_mib}mib.csv"
    split = root / f"split_{args.rows_split}rows.csv"
    ensure_csv(wide, size_bytes=args.size_mib * MIB)
    ensure_csv(split, rows=args.rows_split)
    ok = bench_reads(ws, wide, args.repeat)
    ok &= bench_split(folder, split, args.rows_split)
    ws.close()
    print(f"\nbenchmark took {time.perf_counter() - start:.0f} s")
    return ok


if __name__ == "__main__":
    sys.exit(main())
