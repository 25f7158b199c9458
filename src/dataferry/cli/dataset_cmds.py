"""``dataferry dataset``: list, show, preview and download registered datasets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from dataferry.cli import command_table, json_out, render
from dataferry.cli.completion import complete_datasets
from dataferry.cli.context import current_workspace
from dataferry.cli.lazy_group import LazyGroup

if TYPE_CHECKING:
    from dataferry.data import AbstractDataset

_version_option = click.option(
    "--version",
    "version",
    default="latest",
    show_default=True,
    metavar="V",
    help="Version number, or 'latest'.",
)


_name_argument = click.argument("name", shell_complete=complete_datasets)


@click.group("dataset", cls=LazyGroup, lazy=command_table.DATASET)
def dataset() -> None:
    """List, inspect, preview and download registered datasets."""


def _get(name: str, version: str) -> AbstractDataset:
    from dataferry.data import Dataset

    return Dataset.get_by_name(current_workspace(), name, version=version)


def kind_of(ds: AbstractDataset) -> str:
    """``'Tabular'`` or ``'File'``."""
    return type(ds).__name__.removesuffix("Dataset")


@dataset.command("list")
@json_out.json_option
def list_datasets(as_json: bool) -> None:
    """List registered datasets with their latest version."""
    from dataferry.data import Dataset

    ws = current_workspace()
    rows = [
        (name, ds.version, kind_of(ds), ds.description)
        for name, ds in Dataset.get_all(ws).items()
    ]
    if as_json:
        keys = ("name", "latest_version", "kind", "description")
        json_out.emit([dict(zip(keys, row, strict=True)) for row in rows])
        return
    if not rows:
        render.say(f"No datasets are registered in workspace '{ws.name}'.")
        return
    render.print_table(
        ["name", "latest version", "kind", "description"],
        rows,
        title=f"Datasets of workspace '{ws.name}'",
    )


@dataset.command("show")
@_name_argument
@_version_option
@json_out.json_option
def show(name: str, version: str, as_json: bool) -> None:
    """Show a dataset version's registration, tags and definition."""
    ds = _get(name, version)
    assert ds.name is not None and ds.version is not None  # got by name: registered
    reg = current_workspace().catalog.get_version(ds.name, ds.version)
    fields = {
        "name": reg.name,
        "version": reg.version,
        "kind": kind_of(ds),
        "id": reg.dataset_id,
        "description": reg.description,
        "registered": reg.created_at,
        "produced_by_step_run": reg.producer_step_run_id,
    }
    if as_json:
        json_out.emit({**fields, "tags": dict(reg.tags), "definition": ds.definition})
        return
    shown = {k.replace("_", " "): v for k, v in fields.items()}
    render.print_key_values(shown, title=f"Dataset '{reg.name}' version {reg.version}")
    if reg.tags:
        render.print_table(["tag", "value"], sorted(reg.tags.items()), title="Tags")
    else:
        render.say("Tags: none")
    _print_schema(ds)
    render.print_json(ds.definition, title="Definition")


def _print_schema(ds: AbstractDataset) -> None:
    """A tabular dataset's columns (name, type) and row count, read from its data."""
    from dataferry.cli.frame_view import schema_and_rows
    from dataferry.data import TabularDataset

    if not isinstance(ds, TabularDataset):
        return
    schema, rows = schema_and_rows(ds)
    render.say(f"Schema: {len(schema)} column(s), {rows} row(s)")
    render.print_table(
        ["column", "type"], [(field.name, str(field.type)) for field in schema]
    )


@dataset.command("versions")
@_name_argument
@json_out.json_option
def versions(name: str, as_json: bool) -> None:
    """List every version of a dataset, oldest first."""
    catalog = current_workspace().catalog
    records = catalog.list_versions(name)
    if not records:
        catalog.get_version(name)  # raises DatasetNotFoundError, with a suggestion
    if as_json:
        json_out.emit(
            [
                {
                    "version": r.version,
                    "registered": r.created_at,
                    "description": r.description,
                    "tags": dict(r.tags),
                    "id": r.dataset_id,
                    "produced_by_step_run": r.producer_step_run_id,
                }
                for r in records
            ]
        )
        return
    render.print_table(
        ["version", "registered", "description", "tags", "id"],
        [
            (r.version, r.created_at, r.description, dict(r.tags), r.dataset_id)
            for r in records
        ],
        title=f"Versions of dataset '{name}'",
    )


@dataset.command("head")
@_name_argument
@_version_option
@click.option(
    "-n",
    "--rows",
    "count",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many records (files) to show.",
)
@click.option(
    "--columns",
    metavar="A,B",
    help="Only these columns of a tabular dataset, in this order.",
)
def head(name: str, version: str, count: int, columns: str | None) -> None:
    """Show the first records of a tabular dataset, or a file dataset's first paths.

    Columns that do not fit the terminal are elided in the middle (a … column stands
    for them); --columns picks the ones to see.
    """
    from dataferry.cli.frame_view import pick_columns, print_records
    from dataferry.data import FileDataset, TabularDataset

    ds = _get(name, version)
    title = f"{ds.name} (version {ds.version})"
    if isinstance(ds, TabularDataset):
        frame = ds.take(count).to_pandas_dataframe()
        if columns is not None:
            present = [str(c) for c in frame.columns]
            frame = frame[pick_columns(columns, present, f"dataset '{title}'")]
        print_records(frame, title=title, width=render.stdout().width)
    elif columns is not None:
        raise click.BadParameter(
            f"dataset '{title}' is a file dataset: it has no columns.",
            param_hint="--columns",
        )
    elif isinstance(ds, FileDataset):
        for path in ds.take(count).to_path():
            click.echo(path)


@dataset.command("download")
@_name_argument
@click.argument("target", type=click.Path())
@_version_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    help="Tabular datasets: file format (default: from TARGET's suffix, else parquet).",
)
@click.option("--overwrite", is_flag=True, help="Replace files that are already there.")
def download(
    name: str, target: str, version: str, fmt: str | None, overwrite: bool
) -> None:
    """Download a dataset: a file dataset's files into the folder TARGET, or a tabular
    dataset's records into the file TARGET (a folder gets NAME.parquet or NAME.csv).
    """
    from dataferry.cli.tabular_export import write_records
    from dataferry.data import FileDataset, TabularDataset

    ds = _get(name, version)
    if isinstance(ds, FileDataset):
        if fmt is not None:
            raise click.UsageError("--format applies to tabular datasets only.")
        paths = ds.download(target, overwrite=overwrite)
        render.say(
            f"Downloaded {len(paths)} file(s) of '{name}' to {target}", style="green"
        )
    elif isinstance(ds, TabularDataset):
        written, rows = write_records(ds, target, fmt=fmt, overwrite=overwrite)
        render.say(f"Wrote {rows} record(s) of '{name}' to {written}", style="green")


@dataset.command("lineage")
@_name_argument
@_version_option
@json_out.json_option
def lineage(name: str, version: str, as_json: bool) -> None:
    """Show which run and step made a dataset version, and which runs read it (the
    same as Dataset.get_lineage() and the page of dataferry serve)."""
    import dataclasses

    from dataferry.execution import views

    found = views.dataset_lineage(current_workspace(), name, version)
    if as_json:
        json_out.emit(dataclasses.asdict(found))
        return
    made = found.produced_by
    render.say(
        f"Dataset '{found.name}' version {found.version}: "
        + (
            f"made by run {made.run_id}, step '{made.step_name}' "
            f"(output '{made.output}')"
            if made
            else "registered outside a run"
        )
    )
    if not found.read_by:
        render.say("Read by: no run")
        return
    render.print_table(
        ["run", "step", "input", "reused from", "when"],
        [
            (r.run_id, r.step_name, r.input_name, r.reused_from or "", r.created_at)
            for r in found.read_by
        ],
        title="Read by",
    )
