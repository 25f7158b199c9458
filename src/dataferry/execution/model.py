"""``Model``: the workspace's versioned model registry, as the SDK v1 ``Model`` class.

``Model.register`` keeps local files, ``run.register_model`` a run's files; each call
makes the next version of the name (from 1). The files are kept in the workspace's
model store, read-only, and ``Model.get_model_path`` inside a step gives their path.
Deployment (``deploy``, ``package``, ``profile``) is Azure-only: it raises
:class:`~dataferry.errors.AzureOnlyError`.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from dataferry.azure_only import refuse
from dataferry.errors import (
    ModelArgumentError,
    ModelDownloadExistsError,
    ModelError,
    ModelNotFoundError,
)
from dataferry.execution import model_changes as changes
from dataferry.execution import model_registration as reg
from dataferry.execution.model_query import ModelFilter, select_model

if TYPE_CHECKING:
    import builtins
    import os
    from collections.abc import Callable, Mapping, Sequence

    from dataferry.catalog.model_store import ModelRecord, ModelStore
    from dataferry.data.abstract_dataset import AbstractDataset
    from dataferry.data.workspace import Workspace
    from dataferry.execution.run_models import ModelSource

_DEPLOYMENT = "model deployment to Azure web services"


def _store(workspace: Workspace) -> ModelStore:
    from dataferry.catalog.model_store import ModelStore

    return ModelStore(workspace.catalog)


def _version(version: object, what: str = "version") -> int | None:
    if version is None or (isinstance(version, int) and not isinstance(version, bool)):
        return version
    raise ModelArgumentError(f"{what} must be an int or None, not {version!r}")


class Model:
    """A registered model version: ``Model(ws, name)`` is the latest, ``version=`` one.

    Attributes: ``name``, ``id`` (``name:version``), ``version``, ``tags``,
    ``properties``, ``description``, ``run_id`` and ``experiment_name`` (set when it was
    registered from a run), ``datasets`` (scenario -> datasets), ``model_framework``,
    ``model_framework_version``, ``created_time``, ``url`` (where its files are).
    ``tags``/``properties``/``run_id``/``model_framework`` narrow the lookup as in
    ``Model.list``; ``expand`` changes nothing (``run`` and ``datasets`` are read when
    used).

    Raises:
        ModelError: neither ``name`` nor ``id`` was given.
        ModelNotFoundError: no version matches (the SDK's text, then the versions of
            that name or a close name).
        ModelArgumentError: ``version`` is not an int; an unknown keyword argument.
    """

    def __init__(
        self,
        workspace: Workspace,
        name: str | None = None,
        id: str | None = None,
        tags: Sequence[Any] | None = None,
        properties: Sequence[Any] | None = None,
        version: int | None = None,
        run_id: str | None = None,
        model_framework: str | None = None,
        expand: bool = True,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise ModelArgumentError(
                f"Model() got unexpected keyword arguments {sorted(kwargs)}"
            )
        if id is not None:
            name, version = _parse_id(id, version)
        if not name:
            raise ModelError("Error, one of id or name must be provided.")
        wanted = ModelFilter.of(
            tags, properties, model_framework, version=_version(version)
        )
        self._load(workspace, select_model(_store(workspace), name, wanted, run_id))

    @classmethod
    def _of(cls, workspace: Workspace, record: ModelRecord) -> Model:
        model = cls.__new__(cls)
        model._load(workspace, record)
        return model

    def _load(self, workspace: Workspace, record: ModelRecord) -> None:
        self.workspace = workspace
        self._record = record
        self.name = record.name
        self.version = record.version
        self.id = f"{record.name}:{record.version}"
        self.tags = dict(record.tags)
        self.properties = dict(record.properties)
        self.description = record.description
        self.run_id = record.run_id
        self.experiment_name = record.experiment_name
        self.model_framework = record.framework
        self.model_framework_version = record.framework_version
        self.created_time = record.created_at
        self.url = str(reg.model_store_dir(workspace) / record.asset_path)

    # -- registering ------------------------------------------------------------------

    @staticmethod
    def register(
        workspace: Workspace,
        model_path: str | os.PathLike[str],
        model_name: str,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
        datasets: Sequence[tuple[str, AbstractDataset]] | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        child_paths: Sequence[str] | None = None,
        sample_input_dataset: AbstractDataset | None = None,
        sample_output_dataset: AbstractDataset | None = None,
        resource_configuration: Any = None,
    ) -> Model:
        """Register a local file or folder as the next version of ``model_name``.

        Prints ``Registering model <name>``. The files are copied into the workspace's
        model store (identical files are kept once); ``child_paths`` keeps only those
        files of a folder.

        Returns:
            The new version.

        Raises:
            ModelNameError: the name breaks the SDK's rule.
            ModelArgumentError: tags, properties or datasets have the wrong type.
            ModelPathNotFoundError: ``model_path`` (or a child path) does not exist.
        """
        reg.check_name(model_name)
        files = reg.local_files(model_path, child_paths)
        print(f"Registering model {model_name}")  # as the SDK's Model.register does
        spec = reg.ModelSpec(
            name=model_name,
            tags=tags,
            properties=properties,
            description=description,
            datasets=datasets,
            framework=model_framework,
            framework_version=model_framework_version,
            sample_input_dataset=sample_input_dataset,
            sample_output_dataset=sample_output_dataset,
            resource_configuration=resource_configuration,
        )
        return Model._of(workspace, reg.register(workspace, files, spec))

    # -- finding ----------------------------------------------------------------------

    @staticmethod
    def list(
        workspace: Workspace,
        name: str | None = None,
        tags: Sequence[Any] | None = None,
        properties: Sequence[Any] | None = None,
        run_id: str | None = None,
        latest: bool = False,
        dataset_id: str | None = None,
        expand: bool = True,
        page_count: int = 255,
        model_framework: str | None = None,
    ) -> list[Model]:
        """The registered versions that match every filter given, by name then version.

        ``tags``/``properties``: a list of ``"key"`` or ``["key", "value"]``;
        ``latest``: only the newest version of each name; ``dataset_id``: registered
        with that dataset. ``expand`` and ``page_count`` shape the SDK's service calls
        and change nothing here: every match is returned, in one list.

        Raises:
            ModelArgumentError: a tag or property filter is not a list.
        """
        wanted = ModelFilter.of(tags, properties, model_framework, dataset_id)
        found = [
            r
            for r in _store(workspace).list(name=name, run_id=run_id)
            if wanted.keeps(r)
        ]
        if latest:
            newest = {r.name: r for r in found}  # sorted by version: the last wins
            found = list(newest.values())
        return [Model._of(workspace, r) for r in found]

    @staticmethod
    def get_model_path(
        model_name: str, version: int | None = None, _workspace: Workspace | None = None
    ) -> str:
        """The path of a registered model's file or folder (the stored, read-only
        files). Inside a step the step's workspace is used; elsewhere pass
        ``_workspace``, or a folder ``./<model_name>`` is returned if there is one.

        Raises:
            ModelArgumentError: ``version`` is not an int.
            ModelNotFoundError: no such model (or no workspace to look in).
        """
        number = _version(version)
        workspace = _workspace or _step_workspace()
        if workspace is None:
            local = Path(model_name)
            if local.exists():
                return str(local)
            raise ModelNotFoundError(
                f"ModelNotFound: Model with name {model_name} not found: outside a step "
                "run there is no workspace to look in; pass _workspace=ws."
            )
        return Model(workspace, model_name, version=number).url

    # -- using ------------------------------------------------------------------------

    @property
    def datasets(self) -> dict[str, builtins.list[AbstractDataset]]:
        """The datasets given at registration, by scenario."""
        from dataferry.data.abstract_dataset import AbstractDataset

        out: dict[str, builtins.list[AbstractDataset]] = {}
        for scenario, dataset_id in self._record.datasets:
            found = AbstractDataset.get_by_id(self.workspace, dataset_id)
            out.setdefault(scenario, []).append(found)
        return out

    @property
    def run(self) -> Any:
        """The run it was registered from (a StepRun, ScriptRun, PipelineRun or
        interactive run), or None."""
        if self.run_id is None or self.experiment_name is None:
            return None
        from dataferry.execution.run_models import run_of

        return run_of(self.workspace, self.experiment_name, self.run_id)

    def download(
        self,
        target_dir: str | os.PathLike[str] = ".",
        exist_ok: bool = False,
        exists_ok: bool | None = None,
    ) -> str:
        """Copy the model's files to ``target_dir`` (the last segment of the registered
        path is kept: ``outputs/model.pkl`` lands at ``<target_dir>/model.pkl``).

        Returns:
            The path of the downloaded file or folder.

        Raises:
            ModelDownloadExistsError: a file is there already and ``exist_ok`` is
                False (checked before anything is copied).
        """
        if exists_ok is not None:  # the SDK's older spelling
            exist_ok = exists_ok
        source = Path(self.url)
        target = Path(target_dir) / source.name
        files = _relative_files(source)
        clashes = [rel for rel, _ in files if (target.parent / rel).exists()]
        if clashes and not exist_ok:
            raise ModelDownloadExistsError(
                f"File already exists. To overwrite, set exist_ok to True. Model "
                f"{self.id}: {target.parent / clashes[0]} is there already."
            )
        for rel, path in files:
            place = target.parent / rel
            place.parent.mkdir(parents=True, exist_ok=True)
            if place.exists():
                place.unlink()
            shutil.copyfile(path, place)
        return str(target)

    def update(
        self,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        sample_input_dataset: AbstractDataset | None = None,
        sample_output_dataset: AbstractDataset | None = None,
        resource_configuration: Any = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Change this version in place (its version stays): ``tags`` replace the
        tags (as in the SDK), ``description`` is set, ``properties`` are added
        (never changed), the sample datasets and resource configuration are kept
        with it. None leaves a field as it is; this object shows the result.

        Raises:
            ModelArgumentError: an argument of the wrong type (nothing is changed).
            ModelPropertyError: ``properties`` would change a property.
            ModelNotFoundError: the version was deleted meanwhile.
        """
        given = {
            "tags": tags,
            "description": description,
            "properties": properties,
            "sample_input_dataset": sample_input_dataset,
            "sample_output_dataset": sample_output_dataset,
            "resource_configuration": resource_configuration,
        }
        now = _store(self.workspace).get(self.name, self.version)
        self._change(changes.update_changes(self.workspace, now, given))

    def add_tags(self, tags: Mapping[str, Any]) -> None:
        """Add or change tags (str to str), on the version as the catalog has it.

        Raises:
            ModelArgumentError: ``tags`` is not a dict.
        """
        given = reg.check_mapping(tags, "tags")
        self._change(lambda record: {"tags": {**record.tags, **given}})

    def remove_tags(self, tags: Sequence[str]) -> None:
        """Remove the tags named in ``tags`` (names not there are skipped).

        Raises:
            ModelArgumentError: ``tags`` is not a list of names.
        """
        if isinstance(tags, str) or not isinstance(tags, list | tuple):
            raise ModelArgumentError(
                f"tags must be a list of tag names, not {type(tags).__name__}"
            )
        self._change(
            lambda record: {
                "tags": {k: v for k, v in record.tags.items() if k not in tags}
            }
        )

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Add properties; a property can be added, not changed.

        Raises:
            ModelArgumentError: ``properties`` is not a dict.
            ModelPropertyError: a property is there already with another value.
        """
        self._change(
            lambda record: {"properties": changes.added_properties(record, properties)}
        )

    def delete(self) -> None:
        """Remove this version (and its files, unless another version has the same)."""
        from dataferry.storage.model_files import remove_unused

        store = reg.model_store_dir(self.workspace)
        _store(self.workspace).delete(
            self.name,
            self.version,
            remove_files=lambda asset_path: remove_unused(store, asset_path),
        )

    def serialize(self) -> dict[str, Any]:
        """The model's fields as a JSON-ready dict (the SDK's keys)."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "tags": self.tags,
            "properties": self.properties,
            "description": self.description,
            "runId": self.run_id,
            "experimentName": self.experiment_name,
            "modelFramework": self.model_framework,
            "modelFrameworkVersion": self.model_framework_version,
            "createdTime": self.created_time.isoformat() if self.created_time else None,
            "url": self.url,
            "datasets": {s: i for s, i in self._record.datasets},
            "fileCount": self._record.file_count,
            "sizeBytes": self._record.size_bytes,
        }

    def _change(self, compute: Callable[[ModelRecord], Mapping[str, Any]]) -> None:
        record = _store(self.workspace).change(self.name, self.version, compute)
        self._load(self.workspace, record)

    # -- Azure-only -------------------------------------------------------------------

    @staticmethod
    def deploy(*args: Any, **kwargs: Any) -> NoReturn:
        """Azure-only: raises AzureOnlyError."""
        refuse("Model.deploy", _DEPLOYMENT)

    @staticmethod
    def package(*args: Any, **kwargs: Any) -> NoReturn:
        """Azure-only: raises AzureOnlyError."""
        refuse("Model.package", _DEPLOYMENT)

    @staticmethod
    def profile(*args: Any, **kwargs: Any) -> NoReturn:
        """Azure-only: raises AzureOnlyError."""
        refuse("Model.profile", _DEPLOYMENT)

    def __repr__(self) -> str:
        return (
            f"Model(workspace={self.workspace!r}, name={self.name}, id={self.id}, "
            f"version={self.version}, tags={self.tags}, properties={self.properties})"
        )


def register_run_model(
    source: ModelSource, spec: reg.ModelSpec, model_path: str | None
) -> Model:
    """``run.register_model``: register the run's files that ``model_path`` names
    (None: the model's name), with the fields of ``spec``, recording the run.

    Raises:
        ModelNameError, ModelArgumentError, ModelPathNotFoundError: as
            :meth:`RegistersModels.register_model` says.
    """
    from dataferry.catalog.run_store import RunStore
    from dataferry.execution.run_file_index import RunFileIndex, step_run_files

    reg.check_name(spec.name)
    path = spec.name if model_path is None else model_path
    if not isinstance(path, str):
        raise ModelArgumentError(
            f"model_path must be a str (an artifact path), not {type(path).__name__}"
        )
    workspace = source.workspace
    files = (
        RunFileIndex(Path(), has_outputs=False, uploads=source.files)
        if source.files is not None
        else step_run_files(
            workspace, RunStore(workspace.catalog), source.step_run_id, live=source.live
        )
    )
    chosen = reg.run_model_files(files, path)
    from_run = dataclasses.replace(
        spec,
        run_id=source.run_id or source.step_run_id,
        experiment_name=source.experiment_name,
        extras={**spec.extras, "model_path": path},
    )
    return Model._of(workspace, reg.register(workspace, chosen, from_run))


def _parse_id(model_id: object, version: int | None) -> tuple[str, int | None]:
    """``"name:version"`` (or a bare name) as the name and version.

    Raises:
        ModelArgumentError: not a str, or the part after ``:`` is not a number.
    """
    if not isinstance(model_id, str):
        raise ModelArgumentError(f"id must be 'name:version', not {model_id!r}")
    name, colon, number = model_id.partition(":")
    if not colon:
        return name, version
    if not number.isdigit():
        raise ModelArgumentError(
            f"id must be 'name:version' with a whole-number version, not {model_id!r}"
        )
    return name, int(number)


def _relative_files(source: Path) -> list[tuple[str, Path]]:
    from dataferry.storage.model_files import model_files

    return model_files(source)


def _step_workspace() -> Workspace | None:
    """The workspace of the step run this process is, or None outside a step."""
    from dataferry.execution.run_context import step_workspace

    return step_workspace()
