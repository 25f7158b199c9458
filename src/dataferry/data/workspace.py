"""The Workspace: a folder holding the catalog, the secrets file and built-in datastores."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.data import workspace_details as details
from dataferry.data.config import (
    DEFAULT_WORKSPACE_DIR,
    WorkspaceConfig,
    find_config_file,
    read_config,
    write_config,
)
from dataferry.errors import (
    InvalidNameError,
    WorkspaceExistsError,
    WorkspaceNotFoundError,
)
from dataferry.storage import DatastoreSpec, SecretStore

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

    from dataferry.catalog import SqlCatalog
    from dataferry.data.abstract_dataset import AbstractDataset
    from dataferry.data.compute import ComputeTarget
    from dataferry.data.datastore import Datastore


def _log() -> logging.Logger:
    """This module's logger; ``logging`` is imported on first use, not by every
    script that opens a workspace."""
    import logging

    return logging.getLogger(__name__)


BUILTIN_DATASTORES = ("workspaceblobstore", "workspacefilestore")
_META_FILE = "workspace.json"
# catalogs (by URL) whose killed commits this process has settled: a check is one
# query, paid by the first use of each catalog and not by every open
_SETTLED: set[str] = set()
_WORKSPACE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def _home() -> Path:
    return Path(os.environ.get("DATAFERRY_HOME") or Path.home() / ".dataferry")


def _remember(name: str, folder: Path) -> None:
    """Record name -> folder so ``Workspace.get(name)`` finds it from anywhere."""
    index = _home() / "workspaces.json"
    try:
        known = json.loads(index.read_text("utf-8")) if index.exists() else {}
        known[name] = str(folder)
        index.parent.mkdir(parents=True, exist_ok=True)
        tmp = index.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known, indent=2), "utf-8")
        os.replace(tmp, index)
    except OSError as exc:  # a read-only home must not stop work in the project itself
        _log().warning("could not record workspace %s in %s: %s", name, index, exc)


class Workspace:
    """A named home for datastores, datasets, experiments and runs.

    Find one with :meth:`from_config`; make one with :meth:`create` or ``dataferry init``.
    """

    def __init__(
        self,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        auth: object = None,
        _location: str | None = None,
        _disable_service_check: bool = False,
        _workspace_id: str | None = None,
        sku: str = "basic",
        tags: Mapping[str, str] | None = None,
        _cloud: str = "AzureCloud",
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        if path is None:
            if workspace_name is None:
                raise TypeError(
                    "Workspace() needs workspace_name, or path= to its folder"
                )
            path = self._lookup(workspace_name)
        config = _open_config(Path(path))
        self._config = config
        self.name = config.workspace_name
        # always strings, as on Azure: the config's, else stable local values
        self.subscription_id: str = str(
            subscription_id or config.subscription_id or details.LOCAL_SUBSCRIPTION_ID
        )
        self.resource_group: str = str(
            resource_group or config.resource_group or details.LOCAL_RESOURCE_GROUP
        )
        self.location: str = str(_location or config.location or details.LOCAL_LOCATION)
        self.tags = dict(tags or {})
        self.sku = sku
        self._auth = auth
        bind = getattr(auth, "_bind", None)
        if callable(bind):  # our authentication classes serve the workspace they open
            bind(self)
        self._catalog: SqlCatalog | None = None
        _ensure_folder(config)

    @staticmethod
    def _lookup(name: str) -> Path:
        index = _home() / "workspaces.json"
        known = json.loads(index.read_text("utf-8")) if index.exists() else {}
        if name not in known:
            raise WorkspaceNotFoundError(
                f"no workspace named '{name}' is known on this machine (looked in {index}); "
                "open it with Workspace.from_config(path=...) or create it with "
                "`dataferry init`."
            )
        return Path(known[name])

    # -- finding and making workspaces ------------------------------------------------

    @staticmethod
    def from_config(
        path: str | os.PathLike[str] | None = None,
        auth: object = None,
        _logger: object = None,
        _file_name: str | None = None,
    ) -> Workspace:
        """Open the workspace whose ``config.json`` is found from ``path`` (default ``.``).

        Raises:
            WorkspaceNotFoundError: no config file in ``path`` or its parents.
        """
        start = Path(path) if path is not None else Path(".")
        if _file_name is not None and start.is_dir():
            start = start / _file_name
        config_file = find_config_file(start)
        return Workspace(auth=auth, path=config_file)

    @staticmethod
    def get(
        name: str,
        auth: object = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        location: str | None = None,
        cloud: str = "AzureCloud",
        id: str | None = None,
    ) -> Workspace:
        """Open a workspace created on this machine, by name.

        ``subscription_id``, ``resource_group`` and ``location`` are kept as given (else
        the config's); ``cloud`` and ``id`` have no meaning locally.

        Raises:
            WorkspaceNotFoundError: no workspace of that name was created here.
        """
        return Workspace(
            subscription_id, resource_group, name, auth, _location=location
        )

    @staticmethod
    def create(
        name: str,
        path: str | os.PathLike[str] | None = None,
        *,
        auth: object = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        location: str | None = None,
        sku: str = "basic",
        tags: Mapping[str, str] | None = None,
        friendly_name: str | None = None,
        exist_ok: bool = False,
        show_output: bool = True,
        catalog_url: str | None = None,
    ) -> Workspace:
        """Make a workspace in ``path`` (default: the current folder).

        Writes ``path/.azureml/config.json`` and the workspace folder ``path/.dataferry``
        with its catalog and the built-in datastores ``workspaceblobstore`` (the default)
        and ``workspacefilestore``. ``subscription_id``, ``resource_group`` and
        ``location`` are written to the config (``ws.location`` etc. read them back);
        ``sku`` and ``friendly_name`` have no effect on a local workspace.

        Raises:
            InvalidNameError: ``name`` is not 2-32 letters, digits, ``-`` or ``_``.
            WorkspaceExistsError: a workspace is already there and ``exist_ok`` is False.
        """
        if not (
            isinstance(name, str)
            and 2 <= len(name) <= 32
            and name[0].isalnum()
            and set(name.lower()) <= _WORKSPACE_NAME_CHARS
        ):
            raise InvalidNameError(
                f"invalid workspace name {name!r}: use 2-32 letters, digits, '-' or '_', "
                "starting with a letter or digit."
            )
        folder = Path(path if path is not None else ".").resolve()
        for sub in (".azureml", "aml_config"):
            existing = folder / sub / "config.json"
            if existing.exists():
                if not exist_ok:
                    there = f"a workspace config already exists at {existing}"
                    raise WorkspaceExistsError(
                        f"{there}; pass exist_ok=True to open it, or choose another "
                        "folder.",
                        cli_message=f"{there}; pass --exist-ok to open it, or choose "
                        "another folder.",
                    )
                return Workspace(path=existing)
        data: dict[str, Any] = {
            "subscription_id": subscription_id,
            "resource_group": resource_group,
            "workspace_name": name,
            "workspace_dir": DEFAULT_WORKSPACE_DIR,
        }
        if location:
            data["location"] = location
        if catalog_url:
            data["catalog_url"] = catalog_url
        config_file = write_config(folder, data)
        ws = Workspace(auth=auth, path=config_file, tags=tags, sku=sku)
        # the catalog is made (migrated) now, so that the first run does not pay for it
        ws.catalog  # noqa: B018
        _remember(name, folder)
        if show_output:
            print(f"Created workspace '{name}' in {ws.path}")
        return ws

    def write_config(
        self, path: str | os.PathLike[str] | None = None, file_name: str | None = None
    ) -> None:
        """Write this workspace's ``config.json`` into ``path`` (default: the current folder).

        ``Workspace.from_config(path)`` then opens this workspace: the config names its
        folder, subscription, resource group and location.
        """
        folder = Path(path if path is not None else ".").resolve()
        data: dict[str, Any] = {
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "workspace_name": self.name,
            "workspace_dir": str(self.path),
            "location": self.location,
        }
        if self._config.catalog_url:
            data["catalog_url"] = self._config.catalog_url
        write_config(folder, data, file_name=file_name or "config.json")

    # -- what it holds ----------------------------------------------------------------

    def get_details(self) -> dict[str, Any]:
        """The SDK's details dict (``id``, ``name``, ``location``, ``workspaceid``...)."""
        return details.workspace_details(self)

    @property
    def created_at(self) -> str | None:
        """When the workspace folder was made (ISO 8601, UTC), if recorded."""
        meta = self.path / _META_FILE
        found = json.loads(meta.read_text("utf-8")).get("created_at")
        return str(found) if found else None

    @property
    def experiments(self) -> dict[str, Any]:
        """Every experiment with runs, by name (``Experiment`` objects)."""
        return details.experiments(self)

    @property
    def compute_targets(self) -> dict[str, ComputeTarget]:
        """Every compute target, by name (a missing name is a ``KeyError``)."""
        from dataferry.data.compute import ComputeTarget

        return {target.name: target for target in ComputeTarget.list(self)}

    @property
    def environments(self) -> dict[str, Any]:
        """Every registered environment, by name (``{}`` until environments can be
        registered: see ``workspace_details.environments``)."""
        return details.environments(self)

    @property
    def path(self) -> Path:
        """The workspace folder (catalog, secrets, built-in datastores, run logs)."""
        return self._config.workspace_dir

    @property
    def catalog_url(self) -> str:
        """The SQLAlchemy URL of the catalog: the environment, the config, else SQLite."""
        return (
            os.environ.get("DATAFERRY_CATALOG_URL")
            or self._config.catalog_url
            or f"sqlite:///{self.path / 'catalog.db'}"
        )

    @property
    def catalog(self) -> SqlCatalog:
        """The catalog, opened (and migrated) on first use."""
        if self._catalog is None:
            # imported here: a script that only builds a pipeline loads no SQLAlchemy
            from dataferry.catalog import SqlCatalog

            self._catalog = SqlCatalog(self.catalog_url)
            _ensure_builtin_datastores(self)
            if self.catalog_url not in _SETTLED:
                self._settle_killed_commits()
        return self._catalog

    def _settle_killed_commits(self) -> None:
        """Settle the commits on record whose writer is gone (``commit_settling``),
        once per catalog per process: a bare open pays nothing, the first use one
        query."""
        _SETTLED.add(self.catalog_url)  # first: settling uses the catalog itself
        from dataferry.data.commit_settling import settle_killed_commits

        settle_killed_commits(self)

    @property
    def secrets(self) -> SecretStore:
        """The owner-only file that holds datastore credentials."""
        return SecretStore(self.path / "secrets.json")

    @property
    def datastores(self) -> dict[str, Datastore]:
        """Every registered datastore by name."""
        from dataferry.data.datastore import Datastore

        return {
            spec.name: Datastore._from_spec(self, spec)
            for spec in self.catalog.list_datastores()
        }

    @property
    def datasets(self) -> dict[str, AbstractDataset]:
        """The latest version of every registered dataset, by name."""
        from dataferry.data.abstract_dataset import AbstractDataset

        return AbstractDataset.get_all(self)

    def registered_dataset(
        self, name: str, version: int | str = "latest"
    ) -> AbstractDataset:
        """The dataset registered as ``name`` (the ``version``: an int or 'latest').

        Raises:
            InvalidVersionError: the version is not a positive integer or 'latest'.
            DatasetNotFoundError: no such name or version (the message gives the latest).
        """
        from dataferry.data.abstract_dataset import AbstractDataset

        return AbstractDataset.get_by_name(self, name, version)

    def get_default_datastore(self) -> Datastore:
        """The datastore outputs go to when none is named (``workspaceblobstore`` at first)."""
        from dataferry.data.datastore import Datastore

        return Datastore.get(self, self.default_datastore_name())

    def default_datastore_name(self) -> str:
        """The name of the default datastore (``workspaceblobstore`` at first)."""
        name: str = self.catalog.get_setting("default_datastore", BUILTIN_DATASTORES[0])
        return name

    def set_default_datastore(self, name: str) -> None:
        """Make ``name`` the default datastore.

        Raises:
            DatastoreNotFoundError: no datastore has that name.
        """
        spec = self.catalog.get_datastore(name)
        self.catalog.set_setting("default_datastore", spec.name)

    def close(self) -> None:
        """Release the catalog's database connections."""
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    def __repr__(self) -> str:
        return f"Workspace.create(name='{self.name}', path='{self.path}')"


def _open_config(path: Path) -> WorkspaceConfig:
    """Read the config at ``path``: a config file, a project folder or a workspace folder."""
    if path.is_dir() and (path / _META_FILE).exists():
        meta = json.loads((path / _META_FILE).read_text("utf-8"))
        return WorkspaceConfig(
            config_file=path / _META_FILE,
            workspace_name=meta["name"],
            workspace_dir=path.resolve(),
            catalog_url=meta.get("catalog_url"),
        )
    if path.is_dir():
        for sub in (".azureml", "aml_config"):
            for name in ("config.json", "project.json"):
                if (path / sub / name).is_file():
                    return read_config((path / sub / name).resolve())
        return read_config(find_config_file(path))
    return read_config(path.resolve())


def _ensure_folder(config: WorkspaceConfig) -> None:
    """Create the workspace folder on first open (an Azure-style config names no folder)."""
    folder = config.workspace_dir
    meta = folder / _META_FILE
    if meta.exists():
        return
    for name in BUILTIN_DATASTORES:
        (folder / "datastores" / name).mkdir(parents=True, exist_ok=True)
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).isoformat()  # as catalog.now(), without SQLAlchemy
    data = {"name": config.workspace_name, "created_at": stamp}
    if config.catalog_url:
        data["catalog_url"] = config.catalog_url
    tmp = folder / f".{_META_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    os.replace(tmp, meta)
    _log().info("initialised workspace %s in %s", config.workspace_name, folder)


def _ensure_builtin_datastores(ws: Workspace) -> None:
    """Register the built-in datastores the catalog lacks, as folders relative to the
    workspace folder, and record this folder as their home (``machine_paths``)."""
    from dataferry.data.machine_paths import HOME_SETTING, home_of

    assert ws._catalog is not None
    known = {spec.name for spec in ws._catalog.list_datastores()}
    missing = [name for name in BUILTIN_DATASTORES if name not in known]
    for name in missing:
        (ws.path / "datastores" / name).mkdir(parents=True, exist_ok=True)
        spec = DatastoreSpec(name, "local", {"path": f"datastores/{name}"})
        ws._catalog.add_datastore(spec, overwrite=True)
    if missing and ws._catalog.get_setting(HOME_SETTING) is None:
        ws._catalog.set_setting(HOME_SETTING, home_of(ws.path))
