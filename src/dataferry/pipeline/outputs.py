"""Places a step writes to: ``OutputFileDatasetConfig`` and ``PipelineData`` (and their views).

Copies made by ``as_upload()``, ``read_delimited_files()``, ``as_input()``... share one
``_Origin``: that is how the graph knows which step produces the data a later step reads.
"""

from __future__ import annotations

import copy
import os
import re
from typing import TYPE_CHECKING, Any

from dataferry._lazy import LazyPattern
from dataferry._record import field, record
from dataferry.data.column_types import header_mode, normalise
from dataferry.data.compute_path import check_path_on_compute
from dataferry.data.consumption import DatasetConsumptionConfig, validate_port_name
from dataferry.data.seeds import new_seed
from dataferry.errors import (
    InvalidNameError,
    StepDefinitionError,
    UnknownPlaceholderError,
    did_you_mean,
)
from dataferry.pipeline.checks import is_datastore, type_error
from dataferry.storage.paths import check_written_path, normalise_datastore_path

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dataferry.data.datastore import Datastore

_WORD = LazyPattern(r"^\w+$")


class _Origin:
    """Shared by every copy of one output; the graph keys producers and consumers on it."""

    __slots__ = ("producers",)

    def __init__(self) -> None:
        self.producers: list[Any] = []  # the steps that list the output (one, if valid)


@record
class Registration:
    """``register_on_complete``: a new dataset version once the output is committed."""

    name: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


PLACEHOLDERS = ("{run-id}", "{output-name}")
_VALID_PLACEHOLDER = LazyPattern(r"\{(?:run-id|output-name)\}")
_BRACED = LazyPattern(r"\{[^{}]*\}|[{}]")


def _destination(destination: Any, output: str) -> tuple[Any, str] | None:
    """Check a ``(datastore, path)`` destination; return it with the path normalised.

    Raises:
        StepDefinitionError: it is not a (Datastore or name, non-empty string) tuple, or
            its path is the datastore's root.
        UnknownPlaceholderError: the path holds a ``{...}`` other than the placeholders.
        DatastorePathError: the path is absolute, leaves the datastore's root, or
            cannot be written to (glob characters, a ``.dataferry-*`` part, control
            characters, too long: ``check_written_path``).
    """
    if destination is None:
        return None
    if not (isinstance(destination, tuple) and len(destination) == 2):
        raise StepDefinitionError(
            "destination must be a (datastore, 'path/{run-id}/{output-name}') tuple, "
            f"not {type(destination).__name__}"
        )
    store, path = destination
    if not (isinstance(store, str) or is_datastore(store)):
        raise StepDefinitionError(
            f"destination[0] must be a Datastore or its name, not {type(store).__name__}"
        )
    if not isinstance(path, str) or not path:
        raise StepDefinitionError(
            f"destination path must be a non-empty string, not {path!r}"
        )
    role = f"output '{output}': destination"
    store_name = store if isinstance(store, str) else store.name
    _check_placeholders(path, f"{role} '{path}' on datastore '{store_name}'")
    # '/' alone is the root, not an absolute path to write without its '/'
    normal = path.strip("/") and normalise_datastore_path(
        path, datastore=store_name, role=role, allow_absolute=False
    )
    check_written_path(normal, where=f"{role} '{path}' on datastore '{store_name}'")
    if not normal:
        raise StepDefinitionError(
            f"{role} '{path}' on datastore '{store_name}' is the datastore's root, "
            "which would hold every other output too; give a folder, such as "
            "'outputs/{run-id}/{output-name}'."
        )
    return store, normal


def _check_placeholders(path: str, where: str) -> None:
    """Only ``{run-id}`` and ``{output-name}`` are filled in; any other brace is a typo.

    Raises:
        UnknownPlaceholderError: the first ``{...}`` (or stray brace) that is not one.
    """
    rest = _VALID_PLACEHOLDER.sub("", path)
    found = _BRACED.search(rest)
    if found is None:
        return
    braced = found.group()
    what = f"an unmatched '{braced}'" if braced in ("{", "}") else f"'{braced}'"
    raise UnknownPlaceholderError(
        f"{where} holds {what}, which is not a placeholder: only {{run-id}} and "
        f"{{output-name}} are filled in, and anything else in braces would be kept "
        f"literally, so every run would write to one folder.{did_you_mean(braced.lower(), PLACEHOLDERS)}"
    )


class OutputDatasetConfig:
    """What ``OutputFileDatasetConfig`` and ``OutputTabularDatasetConfig`` share."""

    _is_tabular = False

    def __init__(
        self,
        name: str | None = None,
        destination: Any = None,
        source: str | None = None,
        partition_format: str | None = None,
    ) -> None:
        """An output named ``name``, written to ``destination`` (default: the default
        datastore at ``dataset/{run-id}/{output-name}``).

        Raises:
            InvalidNameError: ``name`` is not a valid port name.
            StepDefinitionError: ``destination`` is not a (datastore, path) tuple.
            UnknownPlaceholderError: its path holds a ``{...}`` other than ``{run-id}``
                and ``{output-name}`` (the message names those two).
            DatastorePathError: its path is absolute or leaves the datastore's root.
        """
        # a generated name says nothing about the step: it stays out of its fingerprint
        self._auto_name = not name
        self._name = validate_port_name(
            name or f"output_{os.urandom(4).hex()}", "output"
        )
        self.destination = destination
        self.source = source
        self.partition_format = partition_format
        self.mode = "mount"
        self.overwrite = False
        self.source_globs: list[str] | None = None
        self.disable_metadata_cache = False
        self.registration: Registration | None = None
        self._origin = _Origin()
        self._tabular: dict[str, Any] | None = None  # read options of a tabular view
        # a tuple: never changed in place (a view gets a new one), and unlike a list
        # it is not one more object per output for the garbage collector to walk
        self._transforms: tuple[dict[str, Any], ...] = ()

    @property
    def destination(self) -> tuple[Any, str] | None:
        """``(datastore, path template)``, the path normalised; None for the default."""
        return self._destination

    @destination.setter
    def destination(self, value: Any) -> None:
        self._destination = _destination(value, self._name)

    @property
    def name(self) -> str:
        """The output's name: an environment variable in the producing step."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = validate_port_name(value, "output")
        self._auto_name = False

    @property
    def is_auto_named(self) -> bool:
        """True if the name was generated (none was given), False if the user chose it.

        The views ``random_split`` makes (``<name>_1``, ``<name>_2``) share their base's flag.
        """
        return self._auto_name

    @property
    def arg_val(self) -> str:
        """The placeholder that stands for this output in a step's arguments."""
        return f"DatasetOutputConfig:{self._name}"

    def _copy(self) -> Any:
        clone = copy.copy(self)  # shallow on purpose: the _Origin stays shared
        clone.registration = copy.deepcopy(self.registration)
        clone.source_globs = list(self.source_globs) if self.source_globs else None
        clone._transforms = self._transforms
        return clone

    def as_mount(self, disable_metadata_cache: bool = False) -> Any:
        """The same output in mount mode (the default): written in place while the step runs."""
        clone = self._copy()
        clone.mode, clone.overwrite, clone.source_globs = "mount", False, None
        clone.disable_metadata_cache = disable_metadata_cache
        return clone

    def as_upload(
        self, overwrite: bool = False, source_globs: str | Sequence[str] | None = None
    ) -> Any:
        """The same output in upload mode: committed when the step succeeds, never before."""
        clone = self._copy()
        clone.mode, clone.overwrite = "upload", bool(overwrite)
        clone.source_globs = (
            [source_globs]
            if isinstance(source_globs, str)
            else (list(source_globs) if source_globs else None)
        )
        return clone

    def register_on_complete(
        self,
        name: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Any:
        """Register the committed output as a new version of dataset ``name``."""
        if not name:
            raise ValueError("register_on_complete needs a dataset name")
        clone = self._copy()
        clone.registration = Registration(name, description, dict(tags or {}))
        return clone

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name='{self._name}', mode='{self.mode}')"


class OutputFileDatasetConfig(OutputDatasetConfig):
    """A folder a step writes, on a datastore; a later step may read it with ``as_input()``."""

    def as_input(self, name: str | None = None) -> DatasetConsumptionConfig:
        """Read this output in a later step, mounted (``.as_download()`` on the result copies)."""
        if name:
            return DatasetConsumptionConfig(name, self, "mount")
        return DatasetConsumptionConfig.auto_named("input_", self, "mount")

    def read_delimited_files(
        self,
        include_path: bool = False,
        separator: str = ",",
        header: bool | str = "ALL_FILES_HAVE_SAME_HEADERS",
        partition_format: str | None = None,
        path_glob: str | None = None,
        set_column_types: Mapping[str, Any] | None = None,
    ) -> OutputTabularDatasetConfig:
        """View the output as records from delimited files (every column text unless typed)."""
        fmt = {
            "type": "delimited",
            "separator": separator,
            "header": header_mode(header),
            "encoding": "utf8",
            # as in the original SDK: without set_column_types every column stays a string
            "infer_column_types": False,
            "set_column_types": normalise(set_column_types),
            "include_path": bool(include_path),
            "partition_format": partition_format or self.partition_format,
            "support_multi_line": False,
            "empty_as_string": False,
        }
        return OutputTabularDatasetConfig._view(self, fmt, path_glob)

    def read_parquet_files(
        self,
        include_path: bool = False,
        partition_format: str | None = None,
        path_glob: str | None = None,
        set_column_types: Mapping[str, Any] | None = None,
    ) -> OutputTabularDatasetConfig:
        """View the output as records from Parquet files."""
        fmt = {
            "type": "parquet",
            "include_path": bool(include_path),
            "set_column_types": normalise(set_column_types),
            "partition_format": partition_format or self.partition_format,
        }
        return OutputTabularDatasetConfig._view(self, fmt, path_glob)


def _check_path_glob(path_glob: str | None) -> None:
    """``path_glob`` is a regular expression, as in Azure ML (despite its name).

    Raises:
        StepDefinitionError: it is not a valid regular expression.
    """
    if path_glob is None:
        return
    try:
        re.compile(path_glob)
    except re.error as exc:
        raise StepDefinitionError(
            f"path_glob {path_glob!r} is not a valid regular expression ({exc}). As in "
            "Azure ML it is matched as a regex against each file's path, not as a glob: "
            "for CSV files use r'\\.csv$'."
        ) from exc


class OutputTabularDatasetConfig(OutputDatasetConfig):
    """An output viewed as records; made by ``read_delimited_files``/``read_parquet_files``."""

    _is_tabular = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise StepDefinitionError(
            "OutputTabularDatasetConfig is made by OutputFileDatasetConfig.read_delimited_files() "
            "or read_parquet_files(), not directly"
        )

    @staticmethod
    def _view(
        base: OutputDatasetConfig, fmt: dict[str, Any], path_glob: str | None
    ) -> OutputTabularDatasetConfig:
        _check_path_glob(path_glob)
        view = object.__new__(OutputTabularDatasetConfig)
        view.__dict__.update(base._copy().__dict__)
        view._tabular = {"format": fmt, "path_glob": path_glob}
        return view

    def as_input(self, name: str | None = None) -> DatasetConsumptionConfig:
        """Read the records in a later step: ``run.input_datasets[name]`` is a TabularDataset."""
        if name:
            return DatasetConsumptionConfig(name, self, "direct")
        return DatasetConsumptionConfig.auto_named("input_", self, "direct")

    def _with(
        self, transform: dict[str, Any], name: str | None = None
    ) -> OutputTabularDatasetConfig:
        clone = self._copy()
        clone._transforms = (*self._transforms, transform)
        if name:
            clone._name = name
        return clone  # type: ignore[no-any-return]

    def keep_columns(self, columns: str | Sequence[str]) -> OutputTabularDatasetConfig:
        """Only the named columns."""
        return self._with(
            {
                "op": "keep_columns",
                "columns": [columns] if isinstance(columns, str) else list(columns),
            }
        )

    def drop_columns(self, columns: str | Sequence[str]) -> OutputTabularDatasetConfig:
        """All but the named columns."""
        return self._with(
            {
                "op": "drop_columns",
                "columns": [columns] if isinstance(columns, str) else list(columns),
            }
        )

    def random_split(
        self, percentage: float, seed: int | None = None
    ) -> tuple[OutputTabularDatasetConfig, OutputTabularDatasetConfig]:
        """Two disjoint views (named ``<name>_1`` and ``<name>_2``)."""
        if not 0.0 <= percentage <= 1.0:
            raise ValueError(f"percentage must be between 0 and 1, not {percentage!r}")
        seed = new_seed() if seed is None else seed
        base = {"op": "split", "percentage": float(percentage), "seed": seed}
        return (
            self._with({**base, "part": 0}, f"{self._name}_1"),
            self._with({**base, "part": 1}, f"{self._name}_2"),
        )


class PipelineData:
    """Intermediate data between steps, at ``{datastore}/azureml/{step-run-id}/{output_name}``."""

    def __init__(
        self,
        name: str,
        datastore: Datastore | None = None,
        output_name: str | None = None,
        output_mode: str = "mount",
        output_path_on_compute: str | None = None,
        output_overwrite: bool | None = None,
        data_type: str | None = None,
        is_directory: bool | None = None,
        pipeline_output_name: str | None = None,
        training_output: Any = None,
    ) -> None:
        for label, value in (("name", name), ("output_name", output_name or name)):
            if not isinstance(value, str) or not _WORD.match(value):
                raise InvalidNameError(
                    f"PipelineData {label} {value!r} must match \\w+ (letters, digits, '_')"
                )
        if output_mode not in ("mount", "upload"):
            raise ValueError(
                f"output_mode must be 'mount' or 'upload', not {output_mode!r}"
            )
        if datastore is not None and not is_datastore(datastore):
            raise type_error(
                f"PipelineData '{name}': datastore",
                "a Datastore (Datastore.get(ws, name)) or None for the pipeline's default",
                datastore,
            )
        if training_output is not None:
            raise StepDefinitionError(
                "training_output selects an AutoML step's metrics or model; dataferry has "
                "no AutoML step, so a PipelineData cannot carry one"
            )
        if pipeline_output_name is not None and not _WORD.match(
            str(pipeline_output_name)
        ):
            raise InvalidNameError(
                f"pipeline_output_name {pipeline_output_name!r} must match \\w+"
            )
        self._name = name
        self._datastore = datastore
        self._output_name = output_name or name
        self._output_mode = output_mode
        self._output_path_on_compute = check_path_on_compute(output_path_on_compute)
        self._output_overwrite = output_overwrite
        self._data_type = data_type or "AnyDirectory"
        self._is_directory = is_directory
        self._pipeline_output_name = pipeline_output_name
        self._origin = _Origin()
        self._as_dataset = False

    name = property(lambda self: self._name, doc="The data's name.")
    datastore = property(
        lambda self: self._datastore,
        doc="The datastore (None: the pipeline's default).",
    )
    data_type = property(lambda self: self._data_type, doc="The declared data type.")
    output_name = property(
        lambda self: self._output_name, doc="The producing step's output port name."
    )
    output_mode = property(lambda self: self._output_mode, doc="'mount' or 'upload'.")

    def get_env_variable_name(self) -> str:
        """``$AZUREML_DATAREFERENCE_<name>``: what a step's argument holds before resolution."""
        return f"$AZUREML_DATAREFERENCE_{self._name}"

    def __str__(self) -> str:
        return self.get_env_variable_name()

    def __repr__(self) -> str:
        return f"PipelineData(name='{self._name}', mode='{self._output_mode}')"

    def create_input_binding(
        self,
        input_name: str | None = None,
        mode: str | None = None,
        path_on_compute: str | None = None,
        overwrite: bool | None = None,
    ) -> InputPortBinding:
        """Bind this data as a later step's input (mount by default, or download)."""
        return InputPortBinding(
            input_name or self._name, self, mode or "mount", path_on_compute, overwrite
        )

    def as_input(self, input_name: str) -> InputPortBinding:
        """An input binding under ``input_name``, mounted."""
        return self.create_input_binding(input_name)

    def as_mount(self, input_name: str | None = None) -> InputPortBinding:
        """An input binding, mounted."""
        return self.create_input_binding(input_name, "mount")

    def as_download(
        self,
        input_name: str | None = None,
        path_on_compute: str | None = None,
        overwrite: bool | None = None,
    ) -> InputPortBinding:
        """An input binding, downloaded."""
        return self.create_input_binding(
            input_name, "download", path_on_compute, overwrite
        )

    def as_dataset(self) -> PipelineOutputFileDataset:
        """Promote the output to a file dataset (for ``run.input_datasets`` and registration)."""
        self._as_dataset = True
        return PipelineOutputFileDataset(self)


class InputPortBinding:
    """How a step reads a ``PipelineData``: a name and a mode."""

    def __init__(
        self,
        name: str,
        bind_object: Any = None,
        bind_mode: str = "mount",
        path_on_compute: str | None = None,
        overwrite: bool | None = None,
        is_resource: bool = False,
        additional_transformations: Any = None,
    ) -> None:
        if not isinstance(name, str) or not _WORD.match(name):
            raise InvalidNameError(f"input name {name!r} must match \\w+")
        if bind_mode not in ("mount", "download"):
            raise ValueError(
                f"bind_mode must be 'mount' or 'download', not {bind_mode!r}"
            )
        self.name = name
        self.bind_object = bind_object
        self.bind_mode = bind_mode
        self.path_on_compute = check_path_on_compute(path_on_compute, port=name)
        self.overwrite = overwrite

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.name}"


class PipelineOutputFileDataset:
    """A ``PipelineData`` promoted to a file dataset with ``as_dataset()``."""

    _is_tabular = False

    def __init__(
        self,
        pipeline_data: PipelineData,
        *,
        mode: str = "mount",
        input_name: str | None = None,
        path_on_compute: str | None = None,
        registration: Registration | None = None,
    ) -> None:
        self._pipeline_data = pipeline_data
        self._origin = pipeline_data._origin
        self.mode = mode
        self._input_name = input_name
        self.path_on_compute = check_path_on_compute(path_on_compute, port=input_name)
        self.registration = registration
        self._tabular: dict[str, Any] | None = None
        self._transforms: tuple[dict[str, Any], ...] = ()

    @property
    def name(self) -> str:
        """The input name: ``as_named_input`` sets it, else the output name."""
        return self._input_name or self._pipeline_data.output_name

    @property
    def pipeline_data(self) -> PipelineData:
        """The PipelineData this promotes."""
        return self._pipeline_data

    def _clone(self, **changes: Any) -> Any:
        clone = copy.copy(self)
        clone.__dict__.update(changes)
        return clone

    def as_named_input(self, name: str) -> Any:
        """The same dataset under input name ``name``."""
        return self._clone(_input_name=validate_port_name(name))

    def as_mount(self, path_on_compute: str | None = None) -> Any:
        """Read it mounted.

        Raises:
            PathOnComputeError: ``path_on_compute`` leaves the working folder.
        """
        checked = check_path_on_compute(path_on_compute, port=self.name)
        return self._clone(mode="mount", path_on_compute=checked)

    def as_download(self, path_on_compute: str | None = None) -> Any:
        """Read it downloaded.

        Raises:
            PathOnComputeError: ``path_on_compute`` leaves the working folder.
        """
        checked = check_path_on_compute(path_on_compute, port=self.name)
        return self._clone(mode="download", path_on_compute=checked)

    def as_direct(self) -> Any:
        """Read it as the dataset object (``run.input_datasets[name]``)."""
        return self._clone(mode="direct")

    def register(self, name: str, create_new_version: bool = True) -> Any:
        """Register the output as dataset ``name`` when it is committed."""
        if not create_new_version:
            raise StepDefinitionError(
                "a pipeline output always registers a new version; pass create_new_version=True"
            )
        return self._clone(registration=Registration(name))

    def parse_delimited_files(
        self,
        include_path: bool = False,
        separator: str = ",",
        header: bool | str = "ALL_FILES_HAVE_SAME_HEADERS",
        partition_format: str | None = None,
        file_extension: str = "",
        set_column_types: Mapping[str, Any] | None = None,
        quoted_line_breaks: bool = False,
    ) -> PipelineOutputTabularDataset:
        """Read the output as records from delimited files (direct mode)."""
        fmt = {
            "type": "delimited",
            "separator": separator,
            "header": header_mode(header),
            "encoding": "utf8",
            "infer_column_types": True,
            "set_column_types": normalise(set_column_types),
            "include_path": bool(include_path),
            "partition_format": partition_format,
            "support_multi_line": bool(quoted_line_breaks),
            "empty_as_string": False,
        }
        return PipelineOutputTabularDataset._of(self, fmt, file_extension)

    def parse_parquet_files(
        self,
        include_path: bool = False,
        partition_format: str | None = None,
        file_extension: str = ".parquet",
        set_column_types: Mapping[str, Any] | None = None,
    ) -> PipelineOutputTabularDataset:
        """Read the output as records from Parquet files (direct mode)."""
        fmt = {
            "type": "parquet",
            "include_path": bool(include_path),
            "set_column_types": normalise(set_column_types),
            "partition_format": partition_format,
        }
        return PipelineOutputTabularDataset._of(self, fmt, file_extension)


class PipelineOutputTabularDataset(PipelineOutputFileDataset):
    """Records parsed from a promoted ``PipelineData``; always read directly."""

    _is_tabular = True

    @staticmethod
    def _of(
        base: PipelineOutputFileDataset, fmt: dict[str, Any], file_extension: str
    ) -> PipelineOutputTabularDataset:
        view = object.__new__(PipelineOutputTabularDataset)
        view.__dict__.update(base.__dict__)
        view.mode = "direct"
        glob = f"*{file_extension}" if file_extension else None
        view._tabular = {"format": fmt, "file_glob": glob}
        view._transforms = base._transforms
        return view

    def _with(self, transform: dict[str, Any]) -> PipelineOutputTabularDataset:
        clone: PipelineOutputTabularDataset = self._clone()
        clone._transforms = (*self._transforms, transform)
        return clone

    def keep_columns(
        self, columns: str | Sequence[str]
    ) -> PipelineOutputTabularDataset:
        """Only the named columns."""
        return self._with(
            {
                "op": "keep_columns",
                "columns": [columns] if isinstance(columns, str) else list(columns),
            }
        )

    def drop_columns(
        self, columns: str | Sequence[str]
    ) -> PipelineOutputTabularDataset:
        """All but the named columns."""
        return self._with(
            {
                "op": "drop_columns",
                "columns": [columns] if isinstance(columns, str) else list(columns),
            }
        )

    def random_split(
        self, percentage: float, seed: int | None = None
    ) -> tuple[PipelineOutputTabularDataset, PipelineOutputTabularDataset]:
        """Two disjoint views of the records."""
        if not 0.0 <= percentage <= 1.0:
            raise ValueError(f"percentage must be between 0 and 1, not {percentage!r}")
        seed = new_seed() if seed is None else seed
        base = {"op": "split", "percentage": float(percentage), "seed": seed}
        return self._with({**base, "part": 0}), self._with({**base, "part": 1})

    def as_mount(self, path_on_compute: str | None = None) -> Any:
        """Not possible: parsed records are only read directly."""
        raise StepDefinitionError(
            "a parsed (tabular) pipeline output can only be read directly, not mounted"
        )

    def as_download(self, path_on_compute: str | None = None) -> Any:
        """Not possible: parsed records are only read directly."""
        raise StepDefinitionError(
            "a parsed (tabular) pipeline output can only be read directly, not downloaded"
        )
