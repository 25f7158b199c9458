"""``dataferry datastore``: list, show and register datastores."""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from dataferry.cli import command_table, json_out, render
from dataferry.cli.completion import complete_datastores
from dataferry.cli.context import current_workspace
from dataferry.cli.datastore_register import register_commands
from dataferry.cli.lazy_group import LazyGroup
from dataferry.cli.params import KEY_JSON_VALUE, KEY_VALUE

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dataferry.data import Datastore, Workspace

# Options that only make sense with one kind of datastore (--local needs none).
_KIND_OPTIONS = {
    "url": ("options", "secret_env"),
    "azure_blob": (
        "account_name",
        "container",
        "account_key_env",
        "sas_token_env",
        "endpoint",
        "protocol",
        "create_container",
        "skip_validation",
    ),
}
_SECRET_LIKE = re.compile(r"key|secret|token|password|passwd|credential|sas|sig", re.I)
# register_fsspec's own parameters: a storage option with one of these names would clash
_RESERVED_OPTIONS = frozenset(
    {"workspace", "datastore_name", "url", "overwrite", "secret_options", "secret_env"}
)


@click.group("datastore", cls=LazyGroup, lazy=command_table.DATASTORE)
def datastore() -> None:
    """List, inspect and register datastores."""


@datastore.command("list")
@json_out.json_option
def list_datastores(as_json: bool) -> None:
    """List the registered datastores."""
    ws = current_workspace()
    default = ws.get_default_datastore().name
    if as_json:
        json_out.emit(
            [
                {
                    "name": name,
                    "type": store.datastore_type,
                    "location": location_of(store._describe()),
                    "default": name == default,
                }
                for name, store in ws.datastores.items()
            ]
        )
        return
    rows = [
        (
            name,
            store.datastore_type,
            location_of(store._describe()),
            "*" * (name == default),
        )
        for name, store in ws.datastores.items()
    ]
    render.print_table(
        ["name", "type", "location", "default"],
        rows,
        title=f"Datastores of workspace '{ws.name}'",
    )


@datastore.command("show")
@click.argument("name", shell_complete=complete_datastores)
@click.option(
    "-n",
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=0),
    help="Top-level entries to list.",
)
@click.option(
    "--contents/--no-contents",
    default=True,
    help="List the top-level entries (a remote call, bounded by timeouts).",
)
@json_out.json_option
def show(name: str, limit: int, contents: bool, as_json: bool) -> None:
    """Show a datastore's registration (never its secrets) and its top-level entries.

    The registration is shown without asking the store; listing its entries fails
    within seconds, with a typed error, if the store does not answer.
    """
    from dataferry.data import Datastore

    store = Datastore.get(current_workspace(), name)
    if as_json:
        entries = top_level_entries(store) if contents else []
        json_out.emit(
            {
                "registration": store._describe(),
                "location": store.location.url(),
                "entry_count": len(entries) if contents else None,
                "entries": entries[:limit],
            }
        )
        return
    render.print_key_values(store._describe(), title=f"Datastore '{store.name}'")
    if not contents:
        return
    entries = top_level_entries(store)
    where = store.location.url()
    if not entries:
        render.say(f"{where} is empty.")
        return
    render.say(
        f"Contents of {where} ({min(limit, len(entries))} of {len(entries)} entries):"
    )
    render.print_table(
        ["name", "type", "size"],
        [(e["name"], e["type"], e["size"]) for e in entries[:limit]],
    )


@datastore.command("add")
@click.argument("name")
@click.option(
    "--local",
    "local_path",
    type=click.Path(file_okay=False, path_type=Path),
    help="A folder on this machine (created if missing).",
)
@click.option("--url", help="Any fsspec URL: s3://bucket/prefix, gs://..., memory://x.")
@click.option("--azure-blob", is_flag=True, help="An Azure Blob container.")
@click.option(
    "--option",
    "options",
    multiple=True,
    type=KEY_JSON_VALUE,
    help="fsspec storage option for --url, repeatable; JSON values (true, 3) "
    "are parsed, others kept as text. Not for secrets: see --secret-env.",
)
@click.option(
    "--secret-env",
    multiple=True,
    type=KEY_VALUE,
    metavar="OPTION=VAR",
    help="For --url: read storage option OPTION from environment variable VAR "
    "when the datastore is used. Repeatable.",
)
@click.option("--account-name", help="Azure storage account (--azure-blob).")
@click.option("--container", help="Blob container name (--azure-blob).")
@click.option(
    "--account-key-env",
    metavar="VAR",
    help="Environment variable holding the account key (--azure-blob).",
)
@click.option(
    "--sas-token-env",
    metavar="VAR",
    help="Environment variable holding a SAS token (--azure-blob).",
)
@click.option(
    "--endpoint", help="Endpoint suffix, or a full URL for an emulator (--azure-blob)."
)
@click.option("--protocol", help="http or https (--azure-blob).")
@click.option(
    "--create-container",
    is_flag=True,
    help="Create the container if missing (--azure-blob).",
)
@click.option(
    "--skip-validation",
    is_flag=True,
    help="Do not check that the container exists (--azure-blob).",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace a registration of the same name."
)
@click.option(
    "--set-default", is_flag=True, help="Make it the workspace's default datastore."
)
def add(
    name: str,
    local_path: Path | None,
    url: str | None,
    azure_blob: bool,
    options: Sequence[tuple[str, Any]],
    secret_env: Sequence[tuple[str, str]],
    account_name: str | None,
    container: str | None,
    account_key_env: str | None,
    sas_token_env: str | None,
    endpoint: str | None,
    protocol: str | None,
    create_container: bool,
    skip_validation: bool,
    overwrite: bool,
    set_default: bool,
) -> None:
    """Register datastore NAME: exactly one of --local, --url or --azure-blob.

    Credentials are never taken as values on the command line: name the environment
    variables that hold them (--account-key-env, --sas-token-env, --secret-env).
    """
    from dataferry.data import Datastore

    kind = _chosen_kind(local_path, url, azure_blob)
    _check_kind_options(kind)
    ws = current_workspace()
    if local_path is not None:
        store = Datastore.register_local(ws, name, local_path, overwrite=overwrite)
    elif url is not None:
        store = _register_url(ws, name, url, dict(options), dict(secret_env), overwrite)
    else:
        if not (account_name and container):
            raise click.UsageError("--azure-blob needs --account-name and --container.")
        _warn_unset(account_key_env, sas_token_env)
        store = Datastore.register_azure_blob_container(
            ws,
            name,
            container_name=container,
            account_name=account_name,
            protocol=protocol,
            endpoint=endpoint,
            overwrite=overwrite,
            create_if_not_exists=create_container,
            skip_validation=skip_validation,
            account_key_env=account_key_env,
            sas_token_env=sas_token_env,
        )
    if set_default:
        store.set_as_default()
    suffix = " (default)" if set_default else ""
    where = location_of(store._describe())
    render.say(
        f"Registered datastore '{store.name}' ({store.datastore_type}) "
        f"at {where}{suffix}",
        style="green",
    )


def _chosen_kind(local_path: Path | None, url: str | None, azure_blob: bool) -> str:
    chosen = [
        k
        for k, v in (("local", local_path), ("url", url), ("azure_blob", azure_blob))
        if v
    ]
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --local PATH, --url URL or --azure-blob."
        )
    return chosen[0]


def _check_kind_options(kind: str) -> None:
    """Reject options of another kind of datastore (they would be ignored)."""
    ctx = click.get_current_context()
    flags = {p.name: p.opts[-1] for p in ctx.command.params}
    for other, names in _KIND_OPTIONS.items():
        if other == kind:
            continue
        for param in names:
            if ctx.get_parameter_source(param) is not ParameterSource.DEFAULT:
                wanted = flags["url" if other == "url" else "azure_blob"]
                raise click.UsageError(f"{flags[param]} applies to {wanted} only.")


def _register_url(
    ws: Workspace,
    name: str,
    url: str,
    options: dict[str, Any],
    secret_env: dict[str, str],
    overwrite: bool,
) -> Datastore:
    from dataferry.data import Datastore

    for key in options:
        if _SECRET_LIKE.search(key):
            raise click.UsageError(
                f"--option {key}=... looks like a credential; put it in an environment "
                f"variable and pass --secret-env {key}=VAR instead."
            )
        if key in _RESERVED_OPTIONS:
            raise click.UsageError(f"--option {key}=... is not a storage option.")
    _warn_unset(*secret_env.values())
    return Datastore.register_fsspec(
        ws, name, url, overwrite=overwrite, secret_env=secret_env, **options
    )


def _warn_unset(*env_vars: str | None) -> None:
    for var in env_vars:
        if var and var not in os.environ:
            render.print_warning(
                f"environment variable {var} is not set now; it must be "
                "when the datastore is used."
            )


def location_of(described: Mapping[str, Any]) -> str:
    """Where a datastore points, from its ``_describe()``: a path, URL or container.

    A container is shown with its kind's scheme from the registry
    (``az://account/container``), or under its endpoint URL when that is a full one.
    """
    from dataferry.storage.kinds import KINDS

    if "path" in described:
        return str(described["path"])
    if "url" in described:
        return str(described["url"])
    for entry in KINDS.values():
        if entry.datastore_type != described.get("type") or not entry.scheme:
            continue
        container = described.get(entry.options[0], "")
        endpoint = str(described.get("endpoint") or "")
        if endpoint.startswith(("http://", "https://")):  # an emulator
            return f"{endpoint.rstrip('/')}/{container}"
        return f"{entry.scheme}://{described.get('account_name', '')}/{container}"
    return ""


def top_level_entries(store: Datastore) -> list[dict[str, Any]]:
    """The entries directly under the datastore's root: name, type, size (files only).

    Raises:
        StorageError: the datastore cannot be listed.
    """
    from dataferry.errors import StorageError

    loc = store.location
    try:
        found = loc.fs.ls(loc.root, detail=True)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError(
            f"datastore '{store.name}': cannot list its root: {exc}"
        ) from exc
    entries = [
        {
            "name": posixpath.basename(str(info["name"]).rstrip("/")),
            "type": "folder" if info.get("type") == "directory" else "file",
            "size": info.get("size") if info.get("type") != "directory" else None,
        }
        for info in found
    ]
    return sorted(entries, key=lambda e: (e["type"] != "folder", e["name"]))


for _command in register_commands(location_of):
    datastore.add_command(_command)
