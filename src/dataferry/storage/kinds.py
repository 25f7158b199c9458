"""One registry entry per datastore kind: everything a kind is, in one place.

An entry names the builder that turns a registration into a filesystem, the SDK class
and ``datastore_type`` users see, the plain options the catalog keeps, the secret fields
that only ever go to the secrets file (or are read from environment variables), the
check run at registration, and the CLI command and flags that register it. The data
layer's ``Datastore`` subclasses, ``register_*`` and ``dataferry datastore register-*``
are all derived from these entries. Nothing here imports a cloud SDK.
"""

from __future__ import annotations

from types import MappingProxyType

from dataferry._record import record
from dataferry.errors import DatastoreError


@record(frozen=True, slots=True)
class CliFlag:
    """One option of a kind's ``dataferry datastore register-*`` command.

    ``option`` is the registration parameter it fills; a secret field is never taken
    as a value on the command line, only as ``--<field>-env VAR`` (``env=True``).
    """

    option: str
    help: str
    required: bool = False
    is_flag: bool = False
    env: bool = False

    @property
    def flag(self) -> str:
        """The command-line spelling: ``account_key`` + env -> ``--account-key-env``."""
        name = self.option.replace("_", "-")
        return f"--{name}-env" if self.env else f"--{name}"


@record(frozen=True, slots=True)
class DatastoreKind:
    """What one kind of datastore is (see the module docstring)."""

    kind: str
    sdk_class: str
    datastore_type: str
    builder: str  # "module:function" (options, secrets) -> (filesystem, root)
    options: tuple[str, ...]
    secret_fields: tuple[str, ...] = ()
    install_hint: str = ""
    validator: str = ""  # "module:function" (name, options, secrets, create) -> None
    register: str = ""  # the Datastore.register_* function the CLI command calls
    cli_command: str = ""
    cli_flags: tuple[CliFlag, ...] = ()
    case_insensitive: bool = False
    scheme: str = ""  # for display: az://account/container


_AZURE = "pip install 'dataferry[azure]'"
_ENDPOINT_HELP = (
    "Endpoint suffix (core.windows.net), a host[:port] such as 127.0.0.1:10000 "
    "(the emulator, with --protocol http), or a full URL."
)
_COMMON_AZURE_FLAGS = (
    CliFlag("account_name", "Storage account name.", required=True),
    CliFlag("protocol", "http or https (default https)."),
    CliFlag("endpoint", _ENDPOINT_HELP),
)

_ENTRIES = (
    DatastoreKind(
        kind="local",
        sdk_class="LocalDatastore",
        datastore_type="Local",
        builder="dataferry.storage.backends:local_filesystem",
        options=("path",),
    ),
    DatastoreKind(
        kind="azure_blob",
        sdk_class="AzureBlobDatastore",
        datastore_type="AzureBlob",
        builder="dataferry.storage.azure:azure_blob_filesystem",
        options=(
            "container_name",
            "account_name",
            "protocol",
            "endpoint",
            "blob_cache_timeout",
        ),
        secret_fields=("account_key", "sas_token", "connection_string"),
        install_hint=_AZURE,
        validator="dataferry.storage.azure:check_container",
        register="register_azure_blob_container",
        cli_command="register-blob",
        cli_flags=(
            CliFlag("container_name", "Blob container name.", required=True),
            *_COMMON_AZURE_FLAGS,
            CliFlag("account_key", "Variable holding the account key.", env=True),
            CliFlag("sas_token", "Variable holding a SAS token.", env=True),
            CliFlag(
                "connection_string", "Variable holding a connection string.", env=True
            ),
            CliFlag(
                "create_if_not_exists", "Create the container if missing.", is_flag=True
            ),
            CliFlag(
                "skip_validation", "Do not check the container or key.", is_flag=True
            ),
        ),
        scheme="az",
    ),
    DatastoreKind(
        kind="azure_data_lake_gen2",
        sdk_class="AzureDataLakeGen2Datastore",
        datastore_type="AzureDataLakeGen2",
        builder="dataferry.storage.azure:azure_data_lake_gen2_filesystem",
        options=(
            "filesystem",
            "account_name",
            "tenant_id",
            "client_id",
            "resource_url",
            "authority_url",
            "protocol",
            "endpoint",
        ),
        secret_fields=("client_secret", "account_key", "connection_string"),
        install_hint=_AZURE,
        validator="dataferry.storage.azure:check_container",
        register="register_azure_data_lake_gen2",
        cli_command="register-adls",
        cli_flags=(
            CliFlag("filesystem", "ADLS Gen2 filesystem (container).", required=True),
            *_COMMON_AZURE_FLAGS,
            CliFlag("tenant_id", "Service principal's tenant."),
            CliFlag("client_id", "Service principal's client id."),
            CliFlag("client_secret", "Variable holding the client secret.", env=True),
            CliFlag("account_key", "Variable holding the account key.", env=True),
            CliFlag(
                "connection_string", "Variable holding a connection string.", env=True
            ),
            CliFlag(
                "create_if_not_exists",
                "Create the filesystem if missing.",
                is_flag=True,
            ),
            CliFlag("skip_validation", "Do not check the filesystem.", is_flag=True),
        ),
        scheme="abfs",
    ),
    DatastoreKind(
        kind="azure_file",
        sdk_class="AzureFileDatastore",
        datastore_type="AzureFile",
        builder="dataferry.storage.backends:azure_file_filesystem",
        options=("file_share_name", "account_name", "protocol", "endpoint"),
        secret_fields=("account_key",),
        install_hint="pip install 'dataferry[fileshare]'",
        validator="dataferry.storage.backends:check_file_share",
        register="register_azure_file_share",
        cli_command="register-file-share",
        cli_flags=(
            CliFlag("file_share_name", "File share name.", required=True),
            *_COMMON_AZURE_FLAGS,
            CliFlag("account_key", "Variable holding the account key.", env=True),
            CliFlag(
                "create_if_not_exists", "Create the share if missing.", is_flag=True
            ),
            CliFlag("skip_validation", "Do not connect to check.", is_flag=True),
        ),
        case_insensitive=True,
        scheme="smb",
    ),
    DatastoreKind(
        kind="fsspec",
        sdk_class="FsspecDatastore",
        datastore_type="Fsspec",
        builder="dataferry.storage.backends:fsspec_filesystem",
        options=("url", "storage_options"),
    ),
)

KINDS = MappingProxyType({entry.kind: entry for entry in _ENTRIES})


def kind_entry(kind: str) -> DatastoreKind:
    """The registry entry of ``kind``.

    Raises:
        DatastoreError: no such kind (the message lists the known ones).
    """
    try:
        return KINDS[kind]
    except KeyError:
        raise DatastoreError(
            f"unknown datastore kind {kind!r}; known: {sorted(KINDS)}"
        ) from None
