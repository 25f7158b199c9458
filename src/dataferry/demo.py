"""The README's main job: a workspace, a dataset from bundled files, a sample and a split.

Run with ``bash dev.sh demo`` (or ``python -m dataferry.demo [FOLDER]``). The workspace
is kept in FOLDER (default ``./.demo``), so ``dataferry -w .demo dataset list`` shows it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from rich.console import Console

from dataferry import DataPath, Dataset, Datastore, Workspace

SAMPLES = Path(__file__).parent / "samples"


def main(argv: list[str] | None = None) -> int:
    """Build the demo workspace and print what it did."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else ".demo").resolve()
    console = Console()

    ws = Workspace.create("demo", folder, exist_ok=True, show_output=False)
    console.print(f"[bold]workspace[/] {ws.name} in {ws.path}")

    store = Datastore.get(ws, "workspaceblobstore")
    raw = Path(store.location.root) / "flowers"
    raw.mkdir(parents=True, exist_ok=True)
    for f in sorted(SAMPLES.glob("flowers_*.csv")):
        shutil.copyfile(f, raw / f.name)

    flowers = Dataset.Tabular.from_delimited_files(DataPath(store, "flowers/*.csv"))
    flowers = flowers.register(ws, "flowers", description="bundled sample measurements", create_new_version=True)
    console.print(f"registered [cyan]{flowers.name}[/] version {flowers.version} (id {flowers.id})")

    smaller = flowers.take_sample(0.5, seed=42)
    train, test = smaller.random_split(percentage=0.8, seed=42)
    df_all = flowers.to_pandas_dataframe()
    df_train, df_test = train.to_pandas_dataframe(), test.to_pandas_dataframe()
    console.print(
        f"rows: all {len(df_all)}, sample {len(df_train) + len(df_test)}, "
        f"train {len(df_train)}, test {len(df_test)}"
    )
    train.register(ws, "flowers_train", description="80% of a 50% sample, seed 42", create_new_version=True)
    test.register(ws, "flowers_test", description="20% of a 50% sample, seed 42", create_new_version=True)
    console.print(df_train.groupby("species").size().rename("train rows per species").to_string())
    console.print(f"\nregistered datasets: {', '.join(sorted(ws.datasets))}")
    console.print(f"look around: dataferry -w {folder} dataset list")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
