"""Registering a model: checking what is given, then keeping its files and its row.

Everything is checked before anything is written: the name, the types of tags,
properties and datasets, and that the files are there. Then the files go to the
workspace's model store (by content, read-only) and the row to the catalog, which
numbers the version. Used by ``Model.register`` (local files) and by
``run.register_model`` (a step run's files, see :mod:`dataferry.execution.run_file_index`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import (
    ModelArgumentError,
    ModelNameError,
    ModelPathNotFoundError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dataferry.catalog.model_store import ModelRecord
    from dataferry.data.abstract_dataset import AbstractDataset
    from dataferry.data.workspace import Workspace
    from dataferry.execution.run_file_index import RunFileIndex

MODELS_DIR = "models"
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-\._]{0,254}$")


def model_store_dir(workspace: Workspace) -> Path:
    """The workspace's model store: ``<workspace folder>/models``."""
    return workspace.path / MODELS_DIR


@dataclass(frozen=True)
class ModelSpec:
    """What a registration records besides the files, as the caller gave it."""

    name: str
    tags: Mapping[str, Any] | None = None
    properties: Mapping[str, Any] | None = None
    description: str | None = None
    datasets: Sequence[Any] | None = None
    framework: str | None = None
    framework_version: str | None = None
    sample_input_dataset: Any = None
    sample_output_dataset: Any = None
    resource_configuration: Any = None
    run_id: str | None = None
    experiment_name: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def check_name(name: object) -> str:
    """``name`` if it is a valid model name.

    Raises:
        ModelNameError: not a str matching the SDK's rule.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ModelNameError(
            f"invalid model name {name!r}: a model name starts with a letter or digit, "
            "then has up to 254 letters, digits, '-', '.' or '_' (no spaces or '/')."
        )
    return name


def check_mapping(value: object, what: str) -> dict[str, Any]:
    """``value`` as a dict (None gives {}).

    Raises:
        ModelArgumentError: ``value`` is not a dict.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModelArgumentError(
            f"{what} must be a dict of str to str, not {type(value).__name__}"
        )
    return {str(k): v for k, v in value.items()}


def _check_dataset(dataset: Any, where: str) -> AbstractDataset:
    from dataferry.data.abstract_dataset import AbstractDataset

    if not isinstance(dataset, AbstractDataset):
        raise ModelArgumentError(
            f"{where} must be a FileDataset or TabularDataset, not "
            f"{type(dataset).__name__}"
        )
    return dataset


def _dataset_id(workspace: Workspace, dataset: AbstractDataset) -> str:
    """The saved definition's id (saving it: identical definitions share one)."""
    stored = dataset._stored_definition(workspace)
    return workspace.catalog.save_dataset(dataset._kind, stored).id


def _checked_datasets(
    spec: ModelSpec,
) -> tuple[list[tuple[str, AbstractDataset]], dict[str, AbstractDataset]]:
    """The (scenario, dataset) pairs and the sample datasets, their types checked."""
    samples = {
        key: _check_dataset(value, key)
        for key, value in (
            ("sample_input_dataset", spec.sample_input_dataset),
            ("sample_output_dataset", spec.sample_output_dataset),
        )
        if value is not None
    }
    datasets = spec.datasets
    if datasets is None:
        return [], samples
    if not isinstance(datasets, list | tuple):
        raise ModelArgumentError(
            "datasets must be a list of (scenario, dataset) pairs, e.g. "
            f"[('training data', train_ds)], not {type(datasets).__name__}"
        )
    pairs = []
    for i, pair in enumerate(datasets):
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            raise ModelArgumentError(
                f"datasets[{i}] must be a (scenario, dataset) pair, not {pair!r}"
            )
        pairs.append((str(pair[0]), _check_dataset(pair[1], f"datasets[{i}]")))
    return pairs, samples


def local_files(
    model_path: object, child_paths: Sequence[str] | None
) -> list[tuple[str, Path]]:
    """The files of a local ``model_path`` (a file or folder), each with its path from
    the path's last segment on; ``child_paths`` keeps only those files of a folder.

    Raises:
        ModelArgumentError: ``model_path`` is not a str or path.
        ModelPathNotFoundError: ``model_path`` or a child path does not exist.
    """
    from dataferry.storage.model_files import model_files

    if not isinstance(model_path, str | Path):
        raise ModelArgumentError(
            f"model_path must be a str or path, not {type(model_path).__name__}"
        )
    source = Path(model_path).resolve()
    if not source.exists():
        raise ModelPathNotFoundError(
            f"Path does not exist: model_path '{model_path}' (resolved to {source}) "
            "is neither a file nor a folder; give the file or folder to register."
        )
    files = model_files(source)
    if child_paths is not None:
        files = _children(source, files, child_paths)
    if not files:
        raise ModelPathNotFoundError(
            f"model_path '{model_path}' is an empty folder: there is nothing to register."
        )
    return files


def _children(
    source: Path, files: list[tuple[str, Path]], child_paths: Sequence[str]
) -> list[tuple[str, Path]]:
    kept = []
    for child in child_paths:
        wanted = (source / child).resolve()
        chosen = [
            (rel, path)
            for rel, path in files
            if path == wanted or wanted in path.parents
        ]
        if not chosen:
            raise ModelPathNotFoundError(
                f"child path '{child}' is not a file or folder under model_path "
                f"'{source}'."
            )
        kept.extend(chosen)
    return sorted(set(kept))


def run_model_files(run_files: RunFileIndex, model_path: str) -> list[tuple[str, Path]]:
    """The files of a run that ``model_path`` names (a file, or a folder prefix).

    Raises:
        ModelPathNotFoundError: no file of the run is or lies under ``model_path``
            (the message lists the run's files).
    """
    files = run_files.match(model_path)
    if not files:
        names = run_files.names()
        raise ModelPathNotFoundError(
            f"Could not locate the provided model_path {model_path} in the set of "
            f"files uploaded to the run: {names}. Write the model to ./outputs (kept "
            "as the run's files, named outputs/...) or upload it with "
            "run.upload_file(name, path) first, and pass that name."
        )
    return files


def register(
    workspace: Workspace, files: Sequence[tuple[str, Path]], spec: ModelSpec
) -> ModelRecord:
    """Check ``spec``, keep ``files`` in the model store and record the next version.

    Raises:
        ModelNameError: the name is invalid.
        ModelArgumentError: tags, properties or datasets have the wrong type.
    """
    from dataferry.catalog.model_store import ModelRecord, ModelStore
    from dataferry.storage.model_files import store_model_files

    check_name(spec.name)
    tags = check_mapping(spec.tags, "tags")
    properties = check_mapping(spec.properties, "properties")
    pairs, _ = _checked_datasets(spec)
    # every argument is checked: now the datasets' definitions may be saved
    datasets = tuple((s, _dataset_id(workspace, d)) for s, d in pairs)
    extras = {**spec.extras, **checked_extras(workspace, spec)}
    store = model_store_dir(workspace)
    stored = store_model_files(store, files)
    record = ModelRecord(
        name=spec.name,
        version=0,  # the store numbers it
        asset_path=stored.asset_path,
        file_count=stored.file_count,
        size_bytes=stored.size_bytes,
        description=spec.description,
        tags=tags,
        properties=properties,
        framework=spec.framework,
        framework_version=spec.framework_version,
        run_id=spec.run_id,
        experiment_name=spec.experiment_name,
        datasets=datasets,
        extras=extras,
    )
    return ModelStore(workspace.catalog).add(
        record, ensure_files=lambda: store_model_files(store, files)
    )


def checked_extras(workspace: Workspace, spec: ModelSpec) -> dict[str, Any]:
    """The sample datasets (their saved ids) and the resource configuration (as
    JSON) of ``spec``, checked before a definition is saved.

    Raises:
        ModelArgumentError: a sample dataset that is not a dataset.
    """
    _, samples = _checked_datasets(spec)
    extras = {k: _dataset_id(workspace, d) for k, d in samples.items()}
    if spec.resource_configuration is not None:
        extras["resource_configuration"] = _serialisable(spec.resource_configuration)
    return extras


def _serialisable(value: Any) -> Any:
    """A resource configuration as JSON: its ``serialize()`` or its attributes."""
    if hasattr(value, "serialize"):
        return value.serialize()
    if isinstance(value, dict):
        return value
    return {k: v for k, v in vars(value).items() if not k.startswith("_")}
