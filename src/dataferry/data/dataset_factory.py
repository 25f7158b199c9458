"""``Dataset.Tabular`` and ``Dataset.File``: building dataset definitions from paths."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dataferry.data.abstract_dataset import AbstractDataset
from dataferry.data.column_types import header_mode, normalise
from dataferry.data.delimited_text import python_encoding
from dataferry.data.file_dataset import FileDataset
from dataferry.data.partitions import PartitionFormat
from dataferry.data.sources import parse_sources
from dataferry.data.tabular_dataset import TabularDataset
from dataferry.errors import DatasetValidationError

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger(__name__)


def _validated(dataset: Any, validate: bool) -> Any:
    if validate:
        dataset._validate()
    return dataset


def _tabular(path: Any, fmt: dict[str, Any], validate: bool) -> TabularDataset:
    sources, workspace = parse_sources(path)
    if fmt.get("partition_format"):
        PartitionFormat(fmt["partition_format"])  # fail now on a malformed format
    definition = {"sources": sources, "format": fmt, "transforms": []}
    return _validated(TabularDataset(definition, workspace), validate)  # type: ignore[no-any-return]


class TabularDatasetFactory:
    """``Dataset.Tabular``: datasets of records."""

    @staticmethod
    def from_delimited_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        infer_column_types: bool = True,
        set_column_types: Mapping[str, Any] | None = None,
        separator: str = ",",
        header: bool | str = True,
        partition_format: str | None = None,
        support_multi_line: bool = False,
        empty_as_string: bool = False,
        encoding: str = "utf8",
    ) -> TabularDataset:
        """Records from CSV/TSV files. Lazy: nothing is read until the data is asked for.

        ``validate=True`` checks now that the paths resolve and the first rows parse.
        ``header=True`` (``ALL_FILES_HAVE_SAME_HEADERS``) takes the column names from
        the first file and drops the first line of every other file, as Azure ML does;
        duplicate names are made unique as pandas does (``a``, ``a.1``). Types are
        inferred from the first rows of the dataset; a file without rows adds none.

        Raises:
            PathNotFoundError: a path or glob matches no file.
            DatasetValidationError: bad options, a wrong separator, unparsable first rows,
                ``include_path``/``partition_format`` adding a column the data has.
            DataFormatError: a malformed file (the message names the file and row): no
                file with a line, a quote that never closes; ``DataEncodingError`` for
                bytes that ``encoding`` cannot decode.
        """
        if not isinstance(separator, str) or len(separator) != 1:
            raise DatasetValidationError(
                f"separator must be a single character, not {separator!r}"
            )
        python_encoding(encoding)
        fmt = {
            "type": "delimited",
            "separator": separator,
            "header": header_mode(header),
            "encoding": encoding,
            "infer_column_types": bool(infer_column_types),
            "set_column_types": normalise(set_column_types),
            "include_path": bool(include_path),
            "partition_format": partition_format,
            "support_multi_line": bool(support_multi_line),
            "empty_as_string": bool(empty_as_string),
        }
        return _tabular(path, fmt, validate)

    @staticmethod
    def from_parquet_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        set_column_types: Mapping[str, Any] | None = None,
        partition_format: str | None = None,
    ) -> TabularDataset:
        """Records from Parquet files; column types come from the files' schema.

        Raises:
            PathNotFoundError: a path or glob matches no file.
            DataFormatError: a file is not Parquet.
        """
        fmt = {
            "type": "parquet",
            "include_path": bool(include_path),
            "set_column_types": normalise(set_column_types),
            "partition_format": partition_format,
        }
        return _tabular(path, fmt, validate)

    @staticmethod
    def from_json_lines_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        set_column_types: Mapping[str, Any] | None = None,
        partition_format: str | None = None,
        invalid_lines: str = "error",
        encoding: str = "utf8",
    ) -> TabularDataset:
        """Records from JSON-lines files (one JSON object per line).

        Raises:
            PathNotFoundError: a path or glob matches no file.
            DataFormatError: a line is not a JSON object.
        """
        if invalid_lines != "error":
            raise DatasetValidationError(
                "invalid_lines must be 'error': bad lines are never dropped silently"
            )
        if python_encoding(encoding) not in ("utf8", "utf-8-sig"):
            raise DatasetValidationError(
                "JSON lines are read as UTF-8; re-encode the files first"
            )
        fmt = {
            "type": "json_lines",
            "include_path": bool(include_path),
            "set_column_types": normalise(set_column_types),
            "partition_format": partition_format,
        }
        return _tabular(path, fmt, validate)


class FileDatasetFactory:
    """``Dataset.File``: datasets of files."""

    @staticmethod
    def from_files(
        path: Any,
        validate: bool = True,
        partition_format: str | None = None,
        is_file: bool = False,
    ) -> FileDataset:
        """Files named by paths, folders, globs (``dir/**/*.jpg``) or URLs.

        Raises:
            PathNotFoundError: with ``validate``, a path matches no file.
        """
        if partition_format is not None:
            raise DatasetValidationError(
                "partition_format on a file dataset gives no columns to read; use it with "
                "Dataset.Tabular.from_*_files"
            )
        sources, workspace = parse_sources(path)
        dataset = FileDataset(
            {"sources": sources, "format": None, "transforms": []}, workspace
        )
        if is_file and validate:
            log.warning(
                "is_file=True: skipping validation of %s",
                [s.get("path") or s.get("url") or s.get("local") for s in sources],
            )
            return dataset
        return _validated(dataset, validate)  # type: ignore[no-any-return]

    @staticmethod
    def upload_directory(
        src_dir: str,
        target: Any,
        pattern: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> FileDataset:
        """Upload a local folder to ``target`` (DataPath, Datastore or (Datastore, path)).

        Returns a FileDataset of the uploaded folder. Existing files are kept unless
        ``overwrite``.

        Raises:
            TypeError: ``target`` is of another type.
            PathNotFoundError: ``src_dir`` is not a folder.
            DatastorePathError: the target path leaves the datastore's root.
        """
        import fnmatch
        from pathlib import Path

        from dataferry.data.datapath import DataPath, datastore_path
        from dataferry.data.datastore import Datastore
        from dataferry.errors import PathNotFoundError

        if isinstance(target, DataPath):
            store, prefix = target.datastore, target.path_on_datastore
        elif isinstance(target, Datastore):
            store, prefix = target, ""
        elif (
            isinstance(target, tuple)
            and len(target) == 2
            and isinstance(target[0], Datastore)
        ):
            store = target[0]
            prefix = datastore_path(target[1] or "/", store.name, "target")
        else:
            raise TypeError(
                "target must be a DataPath, a Datastore or a (Datastore, path) tuple"
            )
        src = Path(src_dir)
        if not src.is_dir():
            raise PathNotFoundError(f"cannot upload {src}: it is not a folder")
        files = sorted(
            p
            for p in src.rglob("*")
            if p.is_file() and (pattern is None or fnmatch.fnmatch(p.name, pattern))
        )
        prefix = prefix.strip("/")
        pairs = [
            (str(p), f"{prefix}/{p.relative_to(src).as_posix()}".lstrip("/"))
            for p in files
        ]
        store.location.put_files(
            pairs, overwrite=overwrite, show_progress=show_progress
        )
        return FileDatasetFactory.from_files(DataPath(store, "/" + prefix))


class Dataset(AbstractDataset):
    """Entry point: ``Dataset.Tabular.from_*``, ``Dataset.File.from_files``, ``Dataset.get_by_name``."""

    Tabular = TabularDatasetFactory
    File = FileDatasetFactory
