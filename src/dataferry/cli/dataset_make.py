"""``dataferry dataset register`` and ``dataset upload``: make a dataset without Python.

``register`` defines a file or tabular dataset over a path (or glob) on a datastore and
registers it; ``upload`` first uploads local files or a folder, then does the same.
Everything is checked (name, datastore, options, source files, a name already taken)
before anything is uploaded or registered. ``cli.main`` adds both to ``dataset``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dataferry.cli import render
from dataferry.cli.completion import complete_datastores
from dataferry.cli.context import current_workspace
from dataferry.cli.params import KEY_VALUE

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dataferry.data import AbstractDataset, Datastore, Workspace

    F = Callable[..., Any]

HEADERS = {
    "all": "ALL_FILES_HAVE_SAME_HEADERS",
    "first": "ONLY_FIRST_FILE_HAS_HEADERS",
    "none": "NO_HEADERS",
    "combine": "COMBINE_ALL_FILES_HEADERS",
}
FORMATS = ("delimited", "parquet", "json-lines")
_DELIMITED_ONLY = ("separator", "header", "encoding")


def _definition_options(command: F) -> F:
    """The options both commands share: datastore, kind and format, registration."""
    options = [
        click.option(
            "--datastore",
            metavar="NAME",
            shell_complete=complete_datastores,
            help="Datastore the data is on (default: the workspace's default).",
        ),
        click.option(
            "--tabular",
            is_flag=True,
            help="A tabular dataset (rows); default: a file dataset.",
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            help="With --tabular: how the files are read (default: delimited).",
        ),
        click.option(
            "--separator",
            metavar="CHAR",
            help="With --tabular delimited files: the column separator (default ',').",
        ),
        click.option(
            "--header",
            type=click.Choice(tuple(HEADERS)),
            help="With --tabular delimited files: which files have a header line "
            "(default: all).",
        ),
        click.option(
            "--encoding",
            metavar="NAME",
            help="With --tabular delimited files: the text encoding (default utf8).",
        ),
        click.option(
            "--description", metavar="TEXT", help="The version's description."
        ),
        click.option(
            "--tag",
            "tags",
            multiple=True,
            type=KEY_VALUE,
            metavar="KEY=VALUE",
            help="A tag of the version; repeatable.",
        ),
        click.option(
            "--new-version",
            is_flag=True,
            help="Register as the next version of a name already registered.",
        ),
        click.option(
            "--no-validate",
            is_flag=True,
            help="Do not check now that the path matches files and the first rows parse.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


class DatasetSpec:
    """What the shared options describe, checked as a whole before anything is done."""

    def __init__(self, **given: Any) -> None:
        self.tabular: bool = given["tabular"]
        self.fmt: str | None = given["fmt"]
        self.delimited = {k: given[k] for k in _DELIMITED_ONLY if given[k] is not None}
        self.description: str | None = given["description"]
        self.tags = _tags(given["tags"])
        self.new_version: bool = given["new_version"]
        self.validate = not given["no_validate"]
        self._check()

    def _check(self) -> None:
        """Options that would be ignored are refused (exit 2)."""
        if not self.tabular and (self.fmt or self.delimited):
            named = ["--format"] if self.fmt else []
            named += [f"--{k}" for k in self.delimited]
            raise click.UsageError(
                f"{', '.join(named)} only apply to a tabular dataset; add --tabular."
            )
        if self.fmt not in (None, "delimited") and self.delimited:
            listed = ", ".join(f"--{k}" for k in self.delimited)
            raise click.UsageError(
                f"{listed} only apply to --format delimited, not --format {self.fmt}."
            )
        if "separator" in self.delimited and len(self.delimited["separator"]) != 1:
            raise click.BadParameter(
                f"{self.delimited['separator']!r} is not one character "
                "(use $'\\t' for a tab).",
                param_hint="--separator",
            )

    def define(self, path: Any) -> AbstractDataset:
        """The dataset over ``path`` (a ``DataPath``), validated unless --no-validate.

        Raises:
            PathNotFoundError: with validation, the path matches no file.
            DatasetValidationError, DataFormatError: the first rows do not parse.
        """
        from dataferry.data import Dataset

        if not self.tabular:
            return Dataset.File.from_files(path, validate=self.validate)
        if self.fmt == "parquet":
            return Dataset.Tabular.from_parquet_files(path, validate=self.validate)
        if self.fmt == "json-lines":
            return Dataset.Tabular.from_json_lines_files(path, validate=self.validate)
        options = dict(self.delimited)
        if "header" in options:
            options["header"] = HEADERS[options["header"]]
        return Dataset.Tabular.from_delimited_files(
            path, validate=self.validate, **options
        )

    def register(self, ws: Workspace, name: str, dataset: AbstractDataset) -> None:
        """Register ``dataset`` as ``name`` and say which version it became."""
        registered = dataset.register(
            ws,
            name,
            description=self.description,
            tags=self.tags,
            create_new_version=self.new_version,
        )
        kind = "tabular" if self.tabular else "file"
        render.say(f"Registered {kind} dataset '{name}' version {registered.version}.")

    def check_name_free(self, ws: Workspace, name: str) -> None:
        """Before an upload: a taken name without --new-version is refused now.

        Raises:
            InvalidNameError: ``name`` cannot name a dataset.
            DatasetExistsError: ``name`` is registered and --new-version is not given.
        """
        from dataferry.data.abstract_dataset import check_dataset_name
        from dataferry.errors import DatasetExistsError

        check_dataset_name(name)
        versions = ws.catalog.list_versions(name)
        if versions and not self.new_version:
            latest = max(v.version for v in versions)
            raise DatasetExistsError(
                f"a dataset named '{name}' is already registered (latest version "
                f"{latest}); pass --new-version to register version {latest + 1}."
            )


def _tags(pairs: Sequence[tuple[str, str]]) -> dict[str, str] | None:
    tags: dict[str, str] = {}
    for key, value in pairs:
        if key in tags:
            raise click.BadParameter(f"tag '{key}' is given twice.", param_hint="--tag")
        tags[key] = value
    return tags or None


def _datastore(ws: Workspace, name: str | None) -> Datastore:
    """The datastore named, or the workspace's default (DatastoreNotFoundError)."""
    from dataferry.data import Datastore

    return ws.get_default_datastore() if name is None else Datastore.get(ws, name)


@click.command("register")
@click.argument("name")
@click.argument("path")
@_definition_options
def register(name: str, path: str, datastore: str | None, **given: Any) -> None:
    """Register dataset NAME over PATH on a datastore: a path, folder or glob
    (`sales/*.csv`, `images/**`). A file dataset unless --tabular.

    Exits 2 for a bad name, option or a name already registered (without
    --new-version), 3 for an unknown datastore or a PATH that matches no file.
    """
    from dataferry.data import DataPath
    from dataferry.data.abstract_dataset import check_dataset_name

    spec = DatasetSpec(**given)
    check_dataset_name(name)
    ws = current_workspace()
    dataset = spec.define(DataPath(_datastore(ws, datastore), path))
    spec.register(ws, name, dataset)


@click.command("upload")
@click.argument("name")
@click.argument(
    "sources",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    metavar="SRC...",
)
@click.option(
    "--target",
    metavar="PATH",
    help="Folder on the datastore to upload into (default: NAME).",
)
@click.option("--overwrite", is_flag=True, help="Replace files already at the target.")
@_definition_options
def upload(
    name: str,
    sources: Sequence[Path],
    target: str | None,
    overwrite: bool,
    datastore: str | None,
    **given: Any,
) -> None:
    """Upload SRC (one folder, or files) to a datastore, then register dataset NAME
    over the uploaded folder. Files already there are kept unless --overwrite.

    Nothing is uploaded when NAME, an option or the datastore is wrong, or when NAME
    is taken and --new-version is not given.
    """
    from dataferry.data import DataPath
    from dataferry.storage.paths import normalise_datastore_path

    spec = DatasetSpec(**given)
    ws = current_workspace()
    spec.check_name_free(ws, name)
    store = _datastore(ws, datastore)
    folder = normalise_datastore_path(
        name if target is None else target, datastore=store.name, role="--target"
    )
    _upload(store, list(sources), folder, overwrite=overwrite)
    spec.register(ws, name, spec.define(DataPath(store, folder)))


def _upload(
    store: Datastore, sources: list[Path], folder: str, *, overwrite: bool
) -> None:
    """One folder is uploaded with its tree; files keep their names under ``folder``."""
    if len(sources) == 1 and sources[0].is_dir():
        store.upload(str(sources[0]), target_path=folder, overwrite=overwrite)
        return
    folders = [str(s) for s in sources if s.is_dir()]
    if folders:
        raise click.BadParameter(
            f"{folders[0]} is a folder: give one folder, or files only.",
            param_hint="SRC",
        )
    store.upload_files(
        [str(s) for s in sources],
        relative_root=None,
        target_path=folder,
        overwrite=overwrite,
    )
