"""Datastores as users see them: registration, lookup, upload and download."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dataferry._extras import protocol_hint
from dataferry._lazy import logger
from dataferry.errors import DatastoreError, PathNotFoundError, StorageError
from dataferry.storage import (
    DatastoreSpec,
    SecretStore,
    StorageLocation,
    open_location,
    validate_datastore_name,
)
from dataferry.storage.azure_shapes import check_azure_shape
from dataferry.storage.kinds import KINDS
from dataferry.storage.paths import check_written_path, normalise_datastore_path
from dataferry.storage.spec import check_registration

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from dataferry.data.datapath import DataReference
    from dataferry.data.workspace import Workspace


class Datastore:
    """A named storage location. ``Datastore(ws, name)`` returns the concrete subclass."""

    datastore_type: ClassVar[str] = "Datastore"
    _kinds: ClassVar[dict[str, type[Datastore]]] = {}

    name: str
    workspace: Workspace
    _spec: DatastoreSpec
    _location: StorageLocation | None

    def __init_subclass__(cls, kind: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind:  # the registry entry says what the kind is called
            cls.datastore_type = KINDS[kind].datastore_type
            Datastore._kinds[kind] = cls

    def __new__(cls, workspace: Workspace, name: str | None = None) -> Datastore:
        if name is None:
            return workspace.get_default_datastore()
        spec = workspace.catalog.get_datastore(validate_datastore_name(name))
        return Datastore._from_spec(workspace, spec)

    def __init__(self, workspace: Workspace, name: str | None = None) -> None:
        """Look up a registered datastore (``name=None``: the default one).

        Raises:
            InvalidNameError: ``name`` cannot be a datastore name.
            DatastoreNotFoundError: no datastore has that name.
        """

    @staticmethod
    def _from_spec(workspace: Workspace, spec: DatastoreSpec) -> Datastore:
        cls = Datastore._kinds.get(spec.kind, FsspecDatastore)
        obj = object.__new__(cls)
        obj.name = spec.name
        obj.workspace = workspace
        obj._spec = spec
        obj._location = None
        return obj

    # -- lookup -----------------------------------------------------------------------

    @staticmethod
    def get(workspace: Workspace, datastore_name: str) -> Datastore:
        """The datastore registered as ``datastore_name``.

        Raises:
            DatastoreNotFoundError: no such datastore (the message lists the known ones).
        """
        return Datastore(workspace, datastore_name)

    @staticmethod
    def get_default(workspace: Workspace) -> Datastore:
        """The workspace's default datastore."""
        return workspace.get_default_datastore()

    def set_as_default(self) -> None:
        """Make this the workspace's default datastore."""
        self.workspace.set_default_datastore(self.name)

    def unregister(self) -> None:
        """Forget the registration and its stored secrets; the data itself stays."""
        self.workspace.catalog.remove_datastore(self.name)
        self.workspace.secrets.put(self.name, {})
        _forget_location(self.workspace, self.name)

    # -- registration -----------------------------------------------------------------

    @staticmethod
    def _register(
        workspace: Workspace,
        name: str,
        kind: str,
        options: Mapping[str, Any],
        *,
        secrets: Mapping[str, str | None],
        secret_env: Mapping[str, str | None] | None = None,
        overwrite: bool,
        validate: bool = False,
        create: bool = False,
    ) -> Datastore:
        """Validate, store secrets in the secrets file and the rest in the catalog.

        With ``validate`` or ``create`` the kind's check (``storage.kinds``) runs before
        anything is written, so a refused key or a closed port leaves no registration
        (and an overwritten one in place).
        """
        name = validate_datastore_name(name)
        check_azure_shape(name, kind, options, secrets)
        given = {k: v for k, v in secrets.items() if v}
        env = {k: v for k, v in (secret_env or {}).items() if v}
        both = sorted(set(given) & set(env))
        if both:
            raise DatastoreError(
                f"datastore '{name}': {both[0]} is given both as a value and as an "
                "environment variable; pass one of them."
            )
        spec = DatastoreSpec(name, kind, dict(options), tuple(sorted(given)), env)
        catalog = workspace.catalog
        known = {s.name for s in catalog.list_datastores()}
        if name in known and not overwrite:
            from dataferry.errors import DatastoreExistsError

            raise DatastoreExistsError(
                f"a datastore named '{name}' is already registered; pass overwrite=True "
                "to replace it."
            )
        if validate or create:
            pending = _PendingSecrets(workspace.secrets.path, given)
            check_registration(spec, spec.secrets(pending), create=create)
        _save(workspace, spec, given, overwrite=overwrite)
        _forget_location(workspace, name)  # new secrets under an unchanged spec too
        logger(__name__).info("registered datastore %s (%s)", name, kind)
        return Datastore._from_spec(workspace, spec)

    @staticmethod
    def register_local(
        workspace: Workspace,
        datastore_name: str,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        create_if_not_exists: bool = True,
    ) -> Datastore:
        """Register a folder on this machine.

        Raises:
            InvalidNameError: bad name.
            PathNotFoundError: the folder is missing and ``create_if_not_exists`` is False.
        """
        name = validate_datastore_name(datastore_name)
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            if folder.exists() or not create_if_not_exists:
                raise PathNotFoundError(
                    f"datastore folder {folder} does not exist or is not a folder"
                )
            if not overwrite and name in {
                s.name for s in workspace.catalog.list_datastores()
            }:
                from dataferry.errors import DatastoreExistsError

                # refused before the folder is made: a failed call leaves nothing behind
                raise DatastoreExistsError(
                    f"a datastore named '{name}' is already registered; pass overwrite=True "
                    "to replace it."
                )
            folder.mkdir(parents=True)
        return Datastore._register(
            workspace,
            datastore_name,
            "local",
            {"path": str(folder)},
            secrets={},
            overwrite=overwrite,
        )

    @staticmethod
    def register_fsspec(
        workspace: Workspace,
        datastore_name: str,
        url: str,
        *,
        overwrite: bool = False,
        secret_options: Mapping[str, str] | None = None,
        secret_env: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Datastore:
        """Register any fsspec URL (``s3://bucket/prefix``, ``memory://x``, ...).

        ``options`` are fsspec storage options kept in the catalog; ``secret_options`` are
        kept in the secrets file; ``secret_env`` maps an option to the environment
        variable it is read from at use time.

        Raises:
            UnknownProtocolError: no installed fsspec backend serves the URL's protocol.
        """
        import fsspec
        from fsspec.core import split_protocol

        from dataferry.errors import UnknownProtocolError

        validate_datastore_name(datastore_name)
        protocol = split_protocol(url)[0] or "file"
        try:
            fsspec.get_filesystem_class(protocol)
        except (ValueError, ImportError) as exc:
            raise UnknownProtocolError(
                f"datastore '{datastore_name}': fsspec cannot open {protocol!r} URLs ({exc})"
                + protocol_hint(protocol)
            ) from exc
        return Datastore._register(
            workspace,
            datastore_name,
            "fsspec",
            {"url": url, "storage_options": dict(options)},
            secrets=dict(secret_options or {}),
            secret_env=dict(secret_env or {}),
            overwrite=overwrite,
        )

    @staticmethod
    def register_azure_blob_container(
        workspace: Workspace,
        datastore_name: str,
        container_name: str,
        account_name: str,
        sas_token: str | None = None,
        account_key: str | None = None,
        protocol: str | None = None,
        endpoint: str | None = None,
        overwrite: bool = False,
        create_if_not_exists: bool = False,
        skip_validation: bool = False,
        blob_cache_timeout: int | None = None,
        grant_workspace_access: bool = False,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        *,
        connection_string: str | None = None,
        account_key_env: str | None = None,
        sas_token_env: str | None = None,
        connection_string_env: str | None = None,
    ) -> AzureBlobDatastore:
        """Register an Azure Blob container; returns an ``AzureBlobDatastore``.

        Credentials (``account_key``, ``sas_token`` or ``connection_string``) go to the
        workspace's secrets file, or are read at use time from the environment
        variables named by the ``*_env`` arguments; none is needed for a public
        container. To use the Azurite emulator pass ``protocol="http",
        endpoint="127.0.0.1:10000"`` (a host that is an IP address or ``localhost`` is
        addressed path-style, ``http://127.0.0.1:10000/<account>``), a full
        ``endpoint="http://127.0.0.1:10000/devstoreaccount1"``, or a connection string.
        Unless ``skip_validation``, the store is asked (bounded connect/read timeouts)
        whether the container exists and the credentials are accepted before anything
        is registered; ``create_if_not_exists`` creates the container.
        ``subscription_id``/``resource_group`` only serve ``grant_workspace_access``.

        Raises:
            DatastoreAuthenticationError: the store refused the credentials (403).
            DatastoreUnreachableError: the store did not answer within seconds.
            StorageError: the container is missing (without ``create_if_not_exists``).
            SecretNotFoundError: a named environment variable is not set.
            AzureOnlyError: ``grant_workspace_access=True`` (no managed identity here).
            DatastoreExistsError: the name is taken and ``overwrite`` is False.
        """
        validate_datastore_name(datastore_name)
        _refuse_workspace_access(grant_workspace_access, datastore_name)
        options = {
            "container_name": container_name,
            "account_name": account_name,
            "protocol": protocol,
            "endpoint": endpoint,
            "blob_cache_timeout": blob_cache_timeout,
        }
        store = Datastore._register(
            workspace,
            datastore_name,
            "azure_blob",
            options,
            secrets={
                "account_key": account_key,
                "sas_token": sas_token,
                "connection_string": connection_string,
            },
            secret_env={
                "account_key": account_key_env,
                "sas_token": sas_token_env,
                "connection_string": connection_string_env,
            },
            overwrite=overwrite,
            validate=not skip_validation,
            create=create_if_not_exists,
        )
        assert isinstance(store, AzureBlobDatastore)
        return store

    @staticmethod
    def register_azure_data_lake_gen2(
        workspace: Workspace,
        datastore_name: str,
        filesystem: str,
        account_name: str,
        tenant_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        resource_url: str | None = None,
        authority_url: str | None = None,
        protocol: str | None = None,
        endpoint: str | None = None,
        overwrite: bool = False,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        grant_workspace_access: bool = False,
        *,
        account_key: str | None = None,
        connection_string: str | None = None,
        client_secret_env: str | None = None,
        account_key_env: str | None = None,
        connection_string_env: str | None = None,
        create_if_not_exists: bool = False,
        skip_validation: bool = False,
    ) -> AzureDataLakeGen2Datastore:
        """Register an ADLS Gen2 filesystem; returns an ``AzureDataLakeGen2Datastore``.

        Authenticates with a service principal (``tenant_id``, ``client_id``,
        ``client_secret``) or, beyond the SDK, an account key or connection string;
        ``protocol``/``endpoint`` reach an emulator as for
        ``register_azure_blob_container``. The filesystem is checked like a blob
        container (bounded timeouts) unless ``skip_validation``.

        Raises:
            DatastoreError: both a service principal and a key are given, or a
                service principal lacks its tenant or client id.
            DatastoreAuthenticationError, DatastoreUnreachableError, StorageError,
            SecretNotFoundError, AzureOnlyError, DatastoreExistsError: as for
                ``register_azure_blob_container``.
        """
        validate_datastore_name(datastore_name)  # a bad name is the first thing said
        _refuse_workspace_access(grant_workspace_access, datastore_name)
        principal = bool(client_secret or client_secret_env)
        if principal and (account_key or account_key_env or connection_string):
            raise DatastoreError(
                f"datastore '{datastore_name}': give either a service principal "
                "(client_secret) or an account key / connection string, not both."
            )
        if principal and not (tenant_id and client_id):
            raise DatastoreError(
                f"datastore '{datastore_name}': a service principal needs tenant_id "
                "and client_id as well as client_secret."
            )
        options = {
            "filesystem": filesystem,
            "account_name": account_name,
            "tenant_id": tenant_id,
            "client_id": client_id,
            "resource_url": resource_url,
            "authority_url": authority_url,
            "protocol": protocol,
            "endpoint": endpoint,
        }
        store = Datastore._register(
            workspace,
            datastore_name,
            "azure_data_lake_gen2",
            options,
            secrets={
                "client_secret": client_secret,
                "account_key": account_key,
                "connection_string": connection_string,
            },
            secret_env={
                "client_secret": client_secret_env,
                "account_key": account_key_env,
                "connection_string": connection_string_env,
            },
            overwrite=overwrite,
            validate=not skip_validation,
            create=create_if_not_exists,
        )
        assert isinstance(store, AzureDataLakeGen2Datastore)
        return store

    @staticmethod
    def register_azure_file_share(
        workspace: Workspace,
        datastore_name: str,
        file_share_name: str,
        account_name: str,
        sas_token: str | None = None,
        account_key: str | None = None,
        protocol: str | None = None,
        endpoint: str | None = None,
        overwrite: bool = False,
        create_if_not_exists: bool = False,
        skip_validation: bool = False,
        *,
        account_key_env: str | None = None,
    ) -> AzureFileDatastore:
        """Register an Azure file share, reached over SMB 3 with the account key.

        Unless ``skip_validation`` the share is connected to (bounded timeout) and
        checked before anything is registered; ``create_if_not_exists`` creates it.

        Raises:
            DatastoreError: only a SAS token is given (SMB cannot use one).
            DatastoreAuthenticationError, DatastoreUnreachableError, StorageError,
            SecretNotFoundError, DatastoreExistsError: as for
                ``register_azure_blob_container``.
        """
        validate_datastore_name(datastore_name)
        if sas_token and not (account_key or account_key_env):
            raise DatastoreError(
                f"datastore '{datastore_name}': an Azure file share is reached over SMB, "
                "which cannot use a SAS token; pass account_key= or account_key_env=."
            )
        options = {
            "file_share_name": file_share_name,
            "account_name": account_name,
            "protocol": protocol,
            "endpoint": endpoint,
        }
        store = Datastore._register(
            workspace,
            datastore_name,
            "azure_file",
            options,
            secrets={"account_key": account_key},
            secret_env={"account_key": account_key_env},
            overwrite=overwrite,
            validate=not skip_validation,
            create=create_if_not_exists,
        )
        assert isinstance(store, AzureFileDatastore)
        return store

    # -- I/O --------------------------------------------------------------------------

    @property
    def location(self) -> StorageLocation:
        """The opened filesystem and root, one per datastore per workspace (made on
        first use, when credentials are read; remade when the registration changes)."""
        if self._location is None:
            self._location = _cached_location(self.workspace, self._spec)
        return self._location

    def upload(
        self,
        src_dir: str | os.PathLike[str],
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> DataReference:
        """Upload every file under ``src_dir`` to ``target_path`` on this datastore.

        Existing files are skipped (with a message) unless ``overwrite``.

        Raises:
            PathNotFoundError: ``src_dir`` is not a folder.
            DatastorePathError: ``target_path`` leaves the datastore's root, or cannot
                be written to (``check_written_path``).
        """
        from dataferry.data.datapath import DataReference

        src = Path(src_dir)
        if not src.is_dir():
            raise PathNotFoundError(f"cannot upload {src}: it is not a folder")
        files = sorted(p for p in src.rglob("*") if p.is_file())
        prefix = normalise_datastore_path(
            target_path or "", datastore=self.name, role="target_path"
        )
        check_written_path(
            prefix, where=f"target_path '{target_path}' on datastore '{self.name}'"
        )
        pairs = [
            (str(p), f"{prefix}/{p.relative_to(src).as_posix()}".lstrip("/"))
            for p in files
        ]
        self.location.put_files(pairs, overwrite=overwrite, show_progress=show_progress)
        return DataReference(self, path_on_datastore=target_path)

    def upload_files(
        self,
        files: Iterable[str | os.PathLike[str]],
        relative_root: str | os.PathLike[str] | None = None,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> DataReference:
        """Upload the listed files, keeping their paths relative to ``relative_root``.

        Raises:
            PathNotFoundError: a listed path is not a file.
            DatastorePathError: ``target_path`` leaves the datastore's root, or cannot
                be written to (``check_written_path``).
            StorageError: a file is not under ``relative_root``.
        """
        from dataferry.data.datapath import DataReference

        # strings, not Paths: os.path.realpath is what Path.resolve does, and the
        # pathlib calls for each of 1,000 files were a serial cost before the upload
        paths = [os.path.realpath(f) for f in files]
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise PathNotFoundError(f"cannot upload {missing[0]}: it is not a file")
        if not paths:
            return DataReference(self, path_on_datastore=target_path)
        root = (
            os.path.realpath(relative_root)
            if relative_root
            else os.path.commonpath([os.path.dirname(p) for p in paths])
        )
        prefix = normalise_datastore_path(
            target_path or "", datastore=self.name, role="target_path"
        )
        check_written_path(
            prefix, where=f"target_path '{target_path}' on datastore '{self.name}'"
        )
        under = root.rstrip(os.sep) + os.sep
        pairs = []
        for p in paths:
            if not p.startswith(under):
                raise StorageError(
                    f"cannot upload {p}: it is not under relative_root {root}"
                )
            rel = p[len(under) :].replace(os.sep, "/")
            pairs.append((p, f"{prefix}/{rel}".lstrip("/")))
        self.location.put_files(pairs, overwrite=overwrite, show_progress=show_progress)
        return DataReference(self, path_on_datastore=target_path)

    def download(
        self,
        target_path: str | os.PathLike[str],
        prefix: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> int:
        """Download the files under ``prefix`` into ``target_path``; return how many.

        Existing local files are skipped unless ``overwrite`` (one warning says how
        many). ``show_progress`` shows bytes, files, rate and time left on stderr, then
        a one-line summary. From a remote datastore the files move in parallel, are
        retried while the store does not answer, and are checked against its listing;
        a manifest in ``target_path`` (``.dataferry-download.json``) lets a
        re-download with ``overwrite=True`` skip files already complete (same size
        and etag, unchanged on disk).

        Raises:
            StorageUnavailableError: the store did not answer within the retry window.
            TransferIncompleteError: a file is missing or has another size afterwards.
        """
        loc = self.location
        from dataferry.storage.streamed_download import download_folder

        streamed = download_folder(
            loc,
            prefix or "",
            str(target_path),
            overwrite=overwrite,
            show_progress=show_progress,
        )
        if streamed is not None:  # listed and transferred at once
            _warn_skipped(streamed.skipped, Path(target_path))
            return streamed.written
        try:  # the listing's sizes and etags serve the transfer too: listed once
            fulls, pin = loc.resolve_pinned(prefix or "")
            listed = pin.listed
        except PathNotFoundError:
            fulls, listed = [], {}
        target = Path(target_path)
        target.mkdir(parents=True, exist_ok=True)
        pairs, skipped = [], []
        for full in fulls:
            local = target / loc.relative_path(full)
            if local.exists() and not overwrite:
                skipped.append(str(local))
                continue
            pairs.append((full, str(local)))
        _warn_skipped(skipped, target)
        # the manifest in the target lets a re-download skip what is complete
        loc.get_files(
            pairs,
            overwrite=True,
            show_progress=show_progress,
            resume_in=str(target),
            listed=listed,
        )
        return len(pairs)

    def path(
        self, path: str | None = None, data_reference_name: str | None = None
    ) -> DataReference:
        """A ``DataReference`` to ``path`` on this datastore."""
        from dataferry.data.datapath import DataReference

        return DataReference(
            self, data_reference_name=data_reference_name, path_on_datastore=path
        )

    def as_mount(self) -> DataReference:
        """A reference to the whole datastore, mounted."""
        return self.path().as_mount()

    def as_download(self, path_on_compute: str | None = None) -> DataReference:
        """A reference to the whole datastore, downloaded."""
        return self.path().as_download(path_on_compute)

    def as_upload(self, path_on_compute: str | None = None) -> DataReference:
        """A reference to the whole datastore, uploaded to at the end of a step."""
        return self.path().as_upload(path_on_compute)

    def _describe(self) -> dict[str, Any]:
        """Registration details for display (never a secret)."""
        return {
            "name": self.name,
            "type": self.datastore_type,
            **{k: v for k, v in self._spec.options.items() if v is not None},
            **self._local_folder(),
            "secrets": list(self._spec.secret_keys),
            "secrets_from_env": dict(self._spec.secret_env),
        }

    def _local_folder(self) -> dict[str, str]:
        """A local folder where it is (the catalog may keep it relative to the
        workspace folder that made it: ``local_folder``); nothing for other kinds."""
        if self._spec.kind != "local":
            return {}
        from dataferry.data.machine_paths import local_folder

        return {"path": local_folder(self.workspace, self._spec.options["path"])}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name='{self.name}')"

    def __getattr__(self, item: str) -> Any:
        # kind-specific registration fields: container_name, account_name, path, url, ...
        spec = self.__dict__.get("_spec")
        if spec is not None and item in spec.options:
            return spec.options[item]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {item!r}")


def _cached_location(workspace: Workspace, spec: DatastoreSpec) -> StorageLocation:
    # one filesystem per datastore per workspace: its clients and connection pools
    # are reused by every Datastore object and dataset that names it
    cache: dict[str, tuple[DatastoreSpec, StorageLocation]] = (
        workspace.__dict__.setdefault("_storage_locations", {})
    )
    held = cache.get(spec.name)
    if held is None or held[0] != spec:
        from dataferry.data.machine_paths import resolved_spec

        opened = open_location(resolved_spec(workspace, spec), workspace.secrets)
        held = (spec, opened)
        cache[spec.name] = held
    return held[1]


def _forget_location(workspace: Workspace, name: str) -> None:
    workspace.__dict__.get("_storage_locations", {}).pop(name, None)


def _refuse_workspace_access(grant: bool, name: str) -> None:
    if grant:
        from dataferry.errors import AzureOnlyError

        raise AzureOnlyError(
            f"datastore '{name}': grant_workspace_access=True gives an Azure ML "
            "workspace's managed identity access to the storage; there is none here. "
            "Pass the account key, SAS token or service principal instead."
        )


def _save(
    workspace: Workspace,
    spec: DatastoreSpec,
    secrets: dict[str, str],
    *,
    overwrite: bool,
) -> None:
    """Write a registration's secrets and its catalog row as one change.

    The secrets file's lock is held across both, so of two processes registering one
    name at once the refused one cannot leave its key under the other's registration:
    its secrets are put back as they were when the catalog refuses it.

    Raises:
        DatastoreExistsError: the name is taken and ``overwrite`` is False.
    """
    store = workspace.secrets
    with store.locked():
        before = store.get(spec.name)
        store.put(spec.name, dict(secrets))
        try:
            workspace.catalog.add_datastore(spec, overwrite=overwrite)
        except BaseException:
            store.put(spec.name, before)
            raise


class _PendingSecrets(SecretStore):
    """The secrets of a registration that is not saved yet, to check it before it is."""

    def __init__(self, path: Path, secrets: Mapping[str, str]) -> None:
        super().__init__(path)
        self._pending = dict(secrets)

    def get(self, datastore: str) -> dict[str, str]:
        return dict(self._pending)


class LocalDatastore(Datastore, kind="local"):
    """A folder on this machine."""


class AzureBlobDatastore(Datastore, kind="azure_blob"):
    """An Azure Blob container."""


class AzureDataLakeGen2Datastore(Datastore, kind="azure_data_lake_gen2"):
    """An Azure Data Lake Storage Gen2 filesystem."""


class AzureFileDatastore(Datastore, kind="azure_file"):
    """An Azure file share."""


class FsspecDatastore(Datastore, kind="fsspec"):
    """Any location fsspec can open, by URL."""


def _warn_skipped(skipped: list[str], target: Path) -> None:
    if skipped:  # one line, not one per file: a re-download skips thousands
        logger(__name__).warning(
            "%d files already exist in %s (first: %s) and were skipped; pass "
            "overwrite=True to replace them.",
            len(skipped),
            target,
            skipped[0],
        )
